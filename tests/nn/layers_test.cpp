// Layer forwards against hand-computed values, and backward (input and flat-θ gradients)
// against central finite differences in f64.
#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/gradcheck.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/basic_block.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/dropout.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/pooling.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr::nn {
namespace {

using test::all_close;
using test::random_tensor;

// Checks d⟨w, m(x)⟩/dx by gradcheck and d⟨w, m(x)⟩/dθ (collect_grads) by central differences.
void check_layer_backward(Module& m, const Tensor& x) {
    m.to(DType::f64);
    EXPECT_TRUE(gradcheck([&](const std::vector<Var>& v) { return m(v[0]); }, {x}));
    if (m.num_parameters() == 0) return;
    ParameterVector& pv = m.parameters();
    const Tensor w = random_tensor(m(Var(x)).shape(), DType::f64, 7);
    auto objective = [&]() { return postr::sum(postr::mul(m(Var(x)).value(), w)).item(); };
    Var loss = sum(mul(m(Var(x)), Var(w)));
    loss.backward();
    pv.collect_grads();
    const Tensor theta0 = pv.theta().clone();
    std::vector<double> numeric;
    for (std::int64_t i = 0; i < pv.size(); ++i) {
        const double h = 6e-6 * std::max(1.0, std::abs(theta0[i].item()));
        Tensor t = theta0.clone();
        t[i].fill_(theta0[i].item() + h);
        pv.load_flat(t);
        const double up = objective();
        t[i].fill_(theta0[i].item() - h);
        pv.load_flat(t);
        numeric.push_back((up - objective()) / (2 * h));
    }
    pv.load_flat(theta0);
    EXPECT_TRUE(all_close(pv.grad(), Tensor::from_vector(numeric, {pv.size()}), 1e-6, 1e-8));
}

TEST(Linear, ForwardMatchesHandComputed) {
    Linear lin(2, 2);
    lin.finalize(0);
    lin.load_flat(Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 0.5f, -1}, {6}));
    // W = [[1, 2], [3, 4]], b = [0.5, -1]: x = [1, 1] → [3.5, 6].
    Tensor y = lin(Var(Tensor::from_vector(std::vector<float>{1, 1}, {1, 2}))).value();
    EXPECT_TRUE(all_close(y, Tensor::from_vector(std::vector<float>{3.5f, 6}, {1, 2}), 0, 1e-6));
}

TEST(Linear, InitIsPyTorchsUniformBoundAndSeeded) {
    Linear a(16, 4), b(16, 4), c(16, 4);
    a.finalize(3);
    b.finalize(3);
    c.finalize(4);
    EXPECT_LE(postr::max(postr::abs(a.parameters().theta())).item(), 0.25);
    EXPECT_TRUE(all_close(a.parameters().theta(), b.parameters().theta(), 0, 0));
    EXPECT_FALSE(all_close(a.parameters().theta(), c.parameters().theta(), 0, 0));
}

TEST(Linear, RejectsWrongInputSize) {
    Linear lin(3, 2);
    lin.finalize();
    EXPECT_TRUE(test::throws_error([&] { lin(Var(Tensor::zeros({1, 4}))); }, {"Linear", "[1, 4]"}));
}

TEST(Linear, Backward) {
    Linear lin(3, 2);
    lin.finalize(1);
    check_layer_backward(lin, random_tensor({4, 3}, DType::f64, 2));
}

TEST(Conv2d, ForwardMatchesHandComputed) {
    Conv2d conv(1, 1, 2, Conv2dConfig{1, 0, true, false});
    conv.finalize();
    conv.load_flat(Tensor::from_vector(std::vector<float>{1, 0, 0, 1, 10}, {5}));
    // Kernel [[1, 0], [0, 1]] sums the diagonal of each 2×2 window, plus 10.
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    Tensor expected = Tensor::from_vector(std::vector<float>{16, 18, 22, 24}, {1, 1, 2, 2});
    EXPECT_TRUE(all_close(conv(Var(x)).value(), expected, 0, 1e-5));
}

TEST(Conv2d, StridePaddingAndNoBias) {
    Conv2d conv(2, 3, 3, Conv2dConfig{2, 1, false, false});
    conv.finalize();
    EXPECT_EQ(conv.num_parameters(), 3 * 2 * 9);
    EXPECT_EQ(conv(Var(Tensor::zeros({1, 2, 5, 5}))).shape(), (Shape{1, 3, 3, 3}));
}

TEST(Conv2d, Backward) {
    Conv2d conv(2, 2, 2, Conv2dConfig{1, 1, true, false});
    conv.finalize(5);
    check_layer_backward(conv, random_tensor({2, 2, 3, 3}, DType::f64, 6));
}

TEST(BatchNorm2d, TrainUpdatesRunningStatsEvalUsesThem) {
    BatchNorm2d bn(1, 0.0, 0.5);
    bn.finalize();
    // One channel, values 1..4: batch mean 2.5, biased var 1.25, unbiased 5/3.
    Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4, 1, 1, 1});
    Tensor y = bn(Var(x)).value();
    const double s = 1.0 / std::sqrt(1.25);
    EXPECT_TRUE(all_close(y,
                          Tensor::from_vector(std::vector<float>{float(-1.5 * s), float(-0.5 * s),
                                                                 float(0.5 * s), float(1.5 * s)},
                                              {4, 1, 1, 1}),
                          0, 1e-5));
    EXPECT_NEAR(bn.running_mean().item(), 0.5 * 2.5, 1e-6);
    EXPECT_NEAR(bn.running_var().item(), 0.5 + 0.5 * 5.0 / 3.0, 1e-6);
    EXPECT_EQ(bn.num_batches_tracked(), 1);
    bn.eval();
    const double rm = bn.running_mean().item(), rv = bn.running_var().item();
    Tensor z = bn(Var(x)).value();
    EXPECT_NEAR(z[0].item(), (1 - rm) / std::sqrt(rv), 1e-5);
    EXPECT_NEAR(bn.running_mean().item(), rm, 0);
    EXPECT_EQ(bn.num_batches_tracked(), 1);
}

TEST(BatchNorm2d, BackwardInTrainAndEvalMode) {
    BatchNorm2d bn(2);
    bn.finalize();
    bn.to(DType::f64);
    bn.load_flat(random_tensor({4}, DType::f64, 8, 0.5, 1.5));
    const Tensor x = random_tensor({3, 2, 2, 2}, DType::f64, 9);
    check_layer_backward(bn, x);
    bn.eval();
    check_layer_backward(bn, x);
}

TEST(Activations, ForwardAndBackward) {
    Tensor x = Tensor::from_vector(std::vector<double>{-1.0, 0.5}, {2});
    ReLU relu_layer;
    Tanh tanh_layer;
    Sigmoid sigmoid_layer;
    EXPECT_TRUE(all_close(relu_layer(Var(x)).value(),
                          Tensor::from_vector(std::vector<double>{0, 0.5}, {2}), 0, 0));
    EXPECT_NEAR(tanh_layer(Var(x)).value()[1].item(), std::tanh(0.5), 1e-15);
    EXPECT_NEAR(sigmoid_layer(Var(x)).value()[0].item(), 1 / (1 + std::exp(1.0)), 1e-15);
    const Tensor r = random_tensor({3, 4}, DType::f64, 10);
    check_layer_backward(relu_layer, r);
    check_layer_backward(tanh_layer, r);
    check_layer_backward(sigmoid_layer, r);
}

TEST(Pooling, ForwardMatchesHandComputed) {
    Tensor x = Tensor::from_vector(
        std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4});
    MaxPool2d maxp(2);
    AvgPool2d avgp(2);
    AdaptiveAvgPool2d adapt(1, 1);
    EXPECT_TRUE(all_close(maxp(Var(x)).value(),
                          Tensor::from_vector(std::vector<double>{6, 8, 14, 16}, {1, 1, 2, 2}), 0,
                          0));
    EXPECT_TRUE(all_close(
        avgp(Var(x)).value(),
        Tensor::from_vector(std::vector<double>{3.5, 5.5, 11.5, 13.5}, {1, 1, 2, 2}), 0, 1e-14));
    EXPECT_NEAR(adapt(Var(x)).value().item(), 8.5, 1e-14);
    const Tensor r = random_tensor({2, 2, 4, 4}, DType::f64, 11);
    check_layer_backward(maxp, r);
    check_layer_backward(avgp, r);
    check_layer_backward(adapt, r);
}

TEST(Flatten, KeepsBatchDim) {
    Flatten f;
    EXPECT_EQ(f(Var(Tensor::zeros({2, 3, 4, 5}))).shape(), (Shape{2, 60}));
    check_layer_backward(f, random_tensor({2, 3, 2}, DType::f64, 12));
}

TEST(Dropout, TrainMaskScalesAndEvalIsIdentityUnlessActive) {
    Dropout d(0.5, 42);
    Tensor x = Tensor::ones({1000});
    Tensor y = d(Var(x)).value();
    const std::vector<float> v = y.to_vector<float>();
    int kept = 0;
    for (float e : v) {
        EXPECT_TRUE(e == 0.0f || e == 2.0f);
        kept += e != 0.0f;
    }
    EXPECT_GT(kept, 400);
    EXPECT_LT(kept, 600);
    d.eval();
    EXPECT_TRUE(all_close(d(Var(x)).value(), x, 0, 0));
    d.set_active(true);  // MC-dropout
    EXPECT_FALSE(all_close(d(Var(x)).value(), x, 0, 0));
    // Two draws differ (the generator advances) but a fresh layer with the seed repeats them.
    Dropout again(0.5, 42);
    EXPECT_TRUE(all_close(again(Var(x)).value(), y, 0, 0));
}

TEST(Dropout, BackwardUsesTheSameMask) {
    // y = x ⊙ m/(1 − p), so with x = 1 the cotangent of Σy equals y itself.
    Dropout d(0.25, 3);
    Var x(Tensor::ones({64}, DType::f64), true);
    Var y = d(x);
    sum(y).backward();
    EXPECT_TRUE(all_close(x.grad(), y.value(), 0, 1e-15));
}

TEST(BasicBlock, DownsampleShapeAndBackward) {
    BasicBlock block(2, 3, 2, false);
    block.finalize(13);
    EXPECT_EQ(block(Var(Tensor::zeros({2, 2, 4, 4}))).shape(), (Shape{2, 3, 2, 2}));
    block.eval();  // eval: θ differences see fixed running statistics
    block.to(DType::f64);
    std::vector<std::string> names;
    for (const auto& [name, v] : block.named_parameters()) names.push_back(name);
    ASSERT_EQ(names.size(), 9u);
    EXPECT_EQ(names[0], "conv1.weight");
    EXPECT_EQ(names[6], "downsample.0.weight");
    EXPECT_EQ(names[8], "downsample.1.bias");
    check_layer_backward(block, random_tensor({2, 2, 4, 4}, DType::f64, 14));
}

TEST(Sequential, NamesChildrenByPosition) {
    Sequential seq(
        {std::make_shared<Linear>(2, 3), std::make_shared<Tanh>(), std::make_shared<Linear>(3, 1)});
    seq.finalize(0);
    auto named = seq.named_parameters();
    ASSERT_EQ(named.size(), 4u);
    EXPECT_EQ(named[0].first, "0.weight");
    EXPECT_EQ(named[3].first, "2.bias");
    seq.to(DType::f64);
    check_layer_backward(seq, random_tensor({3, 2}, DType::f64, 15));
}

}  // namespace
}  // namespace postr::nn
