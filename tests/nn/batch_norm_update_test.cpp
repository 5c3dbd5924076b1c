// nn::update_batch_norm_statistics against statistics computed by hand: after the pass each
// BatchNorm2d's running mean and variance are the averages over the batches of the per-batch
// mean and unbiased variance, whatever the statistics and momentum were before; mode, momentum
// and θ are restored; a model without batch norm is not run. f64: the sums are exact to 1e-12.
#include "postr/nn/batch_norm_update.h"

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using ModulePtr = std::shared_ptr<nn::Module>;

// Per-channel mean and unbiased variance of x [N, C, H, W]: [C] each.
std::pair<Tensor, Tensor> channel_statistics(const Tensor& x) {
    const Tensor m = mean(x, {0, 2, 3});
    const Tensor centred = sub(x, m.view({1, x.size(1), 1, 1}));
    const double count = static_cast<double>(x.numel() / x.size(1));
    return {m, mul(sum(square(centred), {0, 2, 3}), 1.0 / (count - 1))};
}

TEST(UpdateBatchNormStatistics, RunningStatisticsAreTheAverageOverTheBatches) {
    auto bn = std::make_shared<nn::BatchNorm2d>(3, 1e-5, 0.1);
    nn::Sequential model(std::vector<ModulePtr>{bn, std::make_shared<nn::ReLU>()});
    model.finalize(1, DType::f64);
    const std::vector<Tensor> batches{test::random_tensor({4, 3, 2, 2}, DType::f64, 2),
                                      test::random_tensor({6, 3, 2, 2}, DType::f64, 3, 1.0, 3.0),
                                      test::random_tensor({5, 3, 2, 2}, DType::f64, 4)};
    // Stale statistics from other data, and evaluation mode, as after training.
    model(Var(test::random_tensor({8, 3, 2, 2}, DType::f64, 5, 5.0, 9.0)));
    model.eval();
    const Tensor theta = model.parameters().theta().clone();

    nn::update_batch_norm_statistics(
        model, 3, [&](std::int64_t k) { return batches[static_cast<std::size_t>(k)]; });

    Tensor mean_sum = Tensor::zeros({3}, DType::f64), var_sum = Tensor::zeros({3}, DType::f64);
    for (const Tensor& b : batches) {
        const auto [m, v] = channel_statistics(b);
        mean_sum = add(mean_sum, m);
        var_sum = add(var_sum, v);
    }
    EXPECT_TRUE(test::all_close(bn->running_mean(), mul(mean_sum, 1.0 / 3), 1e-12, 1e-12));
    EXPECT_TRUE(test::all_close(bn->running_var(), mul(var_sum, 1.0 / 3), 1e-12, 1e-12));
    EXPECT_EQ(bn->num_batches_tracked(), 3);
    EXPECT_FALSE(model.is_training());
    EXPECT_DOUBLE_EQ(bn->momentum(), 0.1);
    EXPECT_TRUE(test::all_close(model.parameters().theta(), theta, 0, 0));
}

TEST(UpdateBatchNormStatistics, NestedLayersAreAllUpdatedAndTrainingModeIsKept) {
    auto bn1 = std::make_shared<nn::BatchNorm2d>(2);
    auto bn2 = std::make_shared<nn::BatchNorm2d>(2);
    auto inner = std::make_shared<nn::Sequential>(
        std::vector<ModulePtr>{std::make_shared<nn::Conv2d>(2, 2, 1), bn2});
    nn::Sequential model(std::vector<ModulePtr>{bn1, inner});
    model.finalize(6, DType::f64);
    const Tensor x = test::random_tensor({4, 2, 3, 3}, DType::f64, 7);
    nn::update_batch_norm_statistics(model, 1, [&](std::int64_t) { return x; });
    EXPECT_TRUE(test::all_close(bn1->running_mean(), channel_statistics(x).first, 1e-12, 1e-12));
    // The second layer saw the first layer's (normalized) output through the convolution.
    EXPECT_GT(bn2->num_batches_tracked(), 0);
    EXPECT_FALSE(test::all_close(bn2->running_var(), Tensor::ones({2}, DType::f64), 0, 1e-6));
    EXPECT_TRUE(model.is_training());
}

TEST(UpdateBatchNormStatistics, WithoutBatchNormNothingRunsAndBadCountsAreRejected) {
    nn::Sequential model(std::vector<ModulePtr>{std::make_shared<nn::Linear>(3, 2)});
    model.finalize(8, DType::f64);
    int calls = 0;
    nn::update_batch_norm_statistics(model, 2, [&](std::int64_t) {
        ++calls;
        return Tensor::zeros({1, 3}, DType::f64);
    });
    EXPECT_EQ(calls, 0);
    EXPECT_TRUE(test::throws_error(
        [&] { nn::update_batch_norm_statistics(model, 0, [](std::int64_t) { return Tensor(); }); },
        {"at least one batch", "got 0"}));
}

TEST(UpdateBatchNormStatistics, AFailingBatchRestoresMomentumAndMode) {
    auto bn = std::make_shared<nn::BatchNorm2d>(1, 1e-5, 0.3);
    nn::Sequential model(std::vector<ModulePtr>{bn});
    model.finalize(9, DType::f64);
    model.eval();
    // The second batch has the wrong channel count: BatchNorm2d throws.
    EXPECT_THROW(nn::update_batch_norm_statistics(
                     model, 2,
                     [](std::int64_t k) {
                         return Tensor::zeros({2, k == 0 ? 1 : 4, 1, 1}, DType::f64);
                     }),
                 Error);
    EXPECT_DOUBLE_EQ(bn->momentum(), 0.3);
    EXPECT_FALSE(model.is_training());
}

}  // namespace
}  // namespace postr
