// The fast road's per-sample Jacobians and gradients held to the autodiff road: jacobian() of
// the model as a function of θ (functional_call), on a small MLP and a small CNN with batch
// norm, pooling and a residual block, in f64. Both roads compute the same sums of products in
// different orders, so they agree to rounding: 1e-10 relative (f64 ε ≈ 2e-16 times sums of a
// few hundred terms, with ample margin).
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/basic_block.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/dropout.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/pooling.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using nn::Module;
using nn::Sequential;
using ModulePtr = std::shared_ptr<Module>;

constexpr double kRelTol = 1e-10;

// The autodiff road: [N, C, D].
Tensor autodiff_jacobian(Module& model, const Tensor& x) {
    return jacobian(nn::as_function_of_theta(model, x), model.parameters().theta());
}

TEST(FunctionalCall, EvaluatesAtTheGivenThetaAndLeavesTheModelAlone) {
    auto net = test::curvature_mlp(4, 3, 1);
    Tensor x = test::random_tensor({5, 4}, DType::f64, 3);
    Tensor theta0 = net->parameters().theta().clone();
    Tensor other = test::random_tensor({net->num_parameters()}, DType::f64, 4);
    Tensor via_call = nn::functional_call(*net, Var(other), Var(x)).value();
    EXPECT_TRUE(test::all_close(net->parameters().theta(), theta0, 0, 0));
    net->load_flat(other);
    EXPECT_TRUE(test::all_close(via_call, (*net)(Var(x)).value(), 0, 0));
    EXPECT_TRUE(test::throws_error(
        [&] { nn::functional_call(*net, Var(Tensor::zeros({3}, DType::f64)), Var(x)); },
        {"functional_call", "theta must be [", "got [3]"}));
}

TEST(PerSampleJacobian, MlpEqualsAutodiff) {
    auto net = test::curvature_mlp(4, 3, 1);
    Tensor x = test::random_tensor({7, 4}, DType::f64, 5);
    Tensor fast = nn::per_sample_jacobian(*net, x);
    EXPECT_EQ(fast.shape(), (Shape{7, 3, net->num_parameters()}));
    EXPECT_TRUE(test::all_close(fast, autodiff_jacobian(*net, x), kRelTol, kRelTol));
}

TEST(PerSampleJacobian, CnnWithResidualBlockEqualsAutodiff) {
    auto net = test::curvature_cnn(2, 2);
    Tensor x = test::random_tensor({3, 2, 6, 6}, DType::f64, 6);
    Tensor fast = nn::per_sample_jacobian(*net, x);
    EXPECT_TRUE(test::all_close(fast, autodiff_jacobian(*net, x), kRelTol, kRelTol));
}

TEST(PerSampleJacobian, SubsetEqualsGatheredColumnsInTheCallersOrder) {
    auto net = test::curvature_cnn(2, 2);
    Tensor x = test::random_tensor({3, 2, 6, 6}, DType::f64, 7);
    const std::int64_t d = net->num_parameters();
    // Unsorted, with a repeat, touching the first and last weights and every layer kind.
    Tensor index = Tensor::from_vector(
        std::vector<std::int64_t>{d - 1, 0, 17, 60, 17, d / 2, 55, d - 4, 3}, {9});
    Tensor full = nn::per_sample_jacobian(*net, x);
    Tensor subset = nn::per_sample_jacobian(*net, x, index);
    // Conv columns come from direct dot products here and from a GEMM in the full form.
    EXPECT_TRUE(test::all_close(subset, index_select(full, 2, index), kRelTol, kRelTol));
}

TEST(PerSampleGradients, EqualAutodiffGradientsOfEachSamplesLoss) {
    auto net = test::curvature_mlp(4, 3, 1);
    Tensor x = test::random_tensor({4, 4}, DType::f64, 8);
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{2, 0, 1, 2}, {4});
    const auto likelihood = nn::Likelihood::categorical();
    Tensor fast = nn::per_sample_gradients(*net, x, labels, likelihood);
    ASSERT_EQ(fast.shape(), (Shape{4, net->num_parameters()}));
    for (std::int64_t n = 0; n < 4; ++n) {
        Tensor xn = x.narrow(0, n, 1), yn = labels.narrow(0, n, 1);
        VarFn loss = [&](const Var& theta) {
            Var logits = nn::functional_call(*net, theta, Var(xn));
            return neg(sum(gather(log_softmax(logits, 1), 1, yn.view({1, 1}))));
        };
        Tensor g = grad(loss, net->parameters().theta());
        EXPECT_TRUE(test::all_close(fast[n], g, kRelTol, kRelTol)) << "sample " << n;
    }
    Tensor index = Tensor::from_vector(std::vector<std::int64_t>{5, 1, 30}, {3});
    EXPECT_TRUE(test::all_close(nn::per_sample_gradients(*net, x, labels, likelihood, index),
                                index_select(fast, 1, index), 0, 0));
}

TEST(PerSampleJacobian, RefusesWhatTheFastRoadCannotDo) {
    auto net = test::curvature_cnn(2, 2);
    Tensor x = test::random_tensor({2, 2, 6, 6}, DType::f64, 9);
    net->train();
    EXPECT_TRUE(
        test::throws_error([&] { nn::per_sample_jacobian(*net, x); }, {"training mode", "eval()"}));
    net->eval();
    EXPECT_TRUE(test::throws_error(
        [&] {
            nn::per_sample_jacobian(
                *net, x,
                Tensor::from_vector(std::vector<std::int64_t>{net->num_parameters()}, {1}));
        },
        {"outside", "[0, "}));
    // A layer used twice shares its weights: the fast road would miss half the Jacobian.
    auto shared = std::make_shared<nn::Linear>(3, 3);
    Sequential twice({shared, std::make_shared<nn::Tanh>(), shared});
    twice.finalize(0, DType::f64);
    twice.eval();
    EXPECT_TRUE(test::throws_error(
        [&] {
            nn::per_sample_jacobian(twice, test::random_tensor({2, 3}, DType::f64, 1));
        },
        {"applied twice"}));
    auto dropout = std::make_shared<nn::Dropout>(0.5);
    Sequential mc({std::make_shared<nn::Linear>(3, 2), dropout});
    mc.finalize(0, DType::f64);
    mc.eval();
    dropout->set_active(true);
    EXPECT_TRUE(test::throws_error(
        [&] {
            nn::per_sample_jacobian(mc, test::random_tensor({2, 3}, DType::f64, 1));
        },
        {"Dropout", "set_active(false)"}));
    // The parameters require grad again afterwards, so training still works.
    EXPECT_TRUE(net->named_parameters().front().second.requires_grad());
}

}  // namespace
}  // namespace postr
