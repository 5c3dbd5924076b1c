// What the op table cannot express for conv, pooling and batch norm: agreement with the fused
// backward kernels, second derivatives through the rules (reverse-over-reverse against finite
// differences), max pooling's tie subgradient, the running-statistics side effect, and errors.
#include <gtest/gtest.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

Tensor rand64(const Shape& shape, std::uint64_t seed) {
    return test::random_tensor(shape, DType::f64, seed, -2.0, 2.0);
}

TEST(ConvAutodiff, GradientsMatchTheBackwardKernels) {
    Conv2dOptions o;
    o.stride_h = 2;
    o.pad_w = 1;
    Var x(rand64({2, 2, 5, 6}, 1), true), w(rand64({3, 2, 3, 2}, 2), true), b(rand64({3}, 3), true);
    Var y = conv2d(x, w, b, o);
    Tensor g = rand64(y.shape(), 4);
    std::vector<Var> grads = grad({y}, {x, w, b}, {g});
    EXPECT_TRUE(test::all_close(grads[0].value(), conv2d_backward_input(g, w.value(), x.shape(), o),
                                1e-14, 1e-14));
    EXPECT_TRUE(test::all_close(grads[1].value(),
                                conv2d_backward_weight(g, x.value(), w.shape(), o), 1e-14, 1e-14));
    EXPECT_TRUE(test::all_close(grads[2].value(), sum(g, {0, 2, 3}), 1e-14, 1e-14));
}

// Reverse-over-reverse H v (hessian_vector_product) against central differences of the
// gradient: runs the VJP rules of the ops that appear inside a backward pass. Step 1e-5 leaves
// a truncation error of about 1e-10 and a rounding error of about 1e-11·|∇f|.
void expect_hvp_matches_differences(const VarFn& f, const Tensor& theta, std::uint64_t seed) {
    Tensor v = test::random_tensor(theta.shape(), DType::f64, seed);
    Tensor hv = hessian_vector_product(f, theta, v);
    const double h = 1e-5;
    Tensor fd = mul(sub(grad(f, add(theta, mul(v, h))), grad(f, sub(theta, mul(v, h)))), 0.5 / h);
    EXPECT_TRUE(test::all_close(hv, fd, 1e-6, 1e-7));
}

// The [n] elements of θ from `offset`, as a tensor of `shape`.
Var unpack(const Var& theta, std::int64_t& offset, const Shape& shape) {
    Var part = reshape(narrow(theta, 0, offset, numel(shape)), shape);
    offset += numel(shape);
    return part;
}

// θ = (x [1, 2, 5, 4], w [2, 2, 2, 3], b [2]): conv2d's adjoints and their rules all appear.
TEST(ConvAutodiff, HessianVectorProductsMatchFiniteDifferences) {
    Conv2dOptions o;
    o.pad_h = o.pad_w = 1;
    o.dilation_h = 2;
    o.stride_w = 2;
    auto f = [o](const Var& theta) {
        std::int64_t at = 0;
        Var x = unpack(theta, at, {1, 2, 5, 4}), w = unpack(theta, at, {2, 2, 2, 3}),
            b = unpack(theta, at, {2});
        return sum(pow(conv2d(x, w, b, o), 3.0));
    };
    expect_hvp_matches_differences(f, rand64({40 + 24 + 2}, 5), 6);
}

TEST(PoolAutodiff, HessianVectorProductsMatchFiniteDifferences) {
    Pool2dOptions o;
    o.kernel_h = o.kernel_w = 3;
    o.pad_h = o.pad_w = 1;
    Tensor offsets = mul(test::random_ints({1, 2, 5, 5}, 0, 100, 7).to(DType::f64), 5.0);
    auto f = [o, offsets](const Var& theta) {
        Var x = reshape(theta, {1, 2, 5, 5});
        Var avg = adaptive_avg_pool2d(avg_pool2d(pow(x, 3.0), o), 2, 1);
        Var top = max_pool2d(add(x, Var(offsets)), o).values;
        return add(sum(square(avg)), mul(sum(square(top)), 0.01));
    };
    expect_hvp_matches_differences(f, rand64({50}, 8), 9);
}

// Ties go to the first maximum in row-major order (the kernel's choice), a subgradient.
TEST(PoolAutodiff, MaxPoolTieSendsTheCotangentToTheFirstMaximum) {
    Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 3, 3, 0, 0, 0, 0}, {1, 2, 2, 2});
    Var v(x, true);
    Pool2dOptions o;
    VarValuesIndices r = max_pool2d(v, o);
    r.values.backward(Tensor::ones({1, 2, 1, 1}, DType::f64));
    EXPECT_EQ(v.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 0, 1, 0, 0, 0}));
    EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0}));
}

TEST(BatchNormAutodiff, TrainingGradientsMatchTheBackwardKernel) {
    Tensor x = rand64({4, 3, 2, 2}, 8), w = rand64({3}, 9), b = rand64({3}, 10);
    Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::ones({3}, DType::f64);
    Var xv(x, true), wv(w, true), bv(b, true);
    Var y = batch_norm(xv, wv, bv, rm, rv, true, 0.1, 1e-5);
    Tensor g = rand64(y.shape(), 11);
    std::vector<Var> grads = grad({y}, {xv, wv, bv}, {g});
    Tensor rm2 = Tensor::zeros({3}, DType::f64), rv2 = Tensor::ones({3}, DType::f64);
    BatchNormResult fwd = batch_norm_train(x, w, b, rm2, rv2, 0.1, 1e-5);
    BatchNormGrads ref = batch_norm_backward(g, x, w, fwd.save_mean, fwd.save_invstd);
    EXPECT_TRUE(test::all_close(y.value(), fwd.out, 0, 0));
    EXPECT_TRUE(test::all_close(grads[0].value(), ref.grad_x, 1e-12, 1e-13));
    EXPECT_TRUE(test::all_close(grads[1].value(), ref.grad_weight, 1e-12, 1e-13));
    EXPECT_TRUE(test::all_close(grads[2].value(), ref.grad_bias, 1e-12, 1e-13));
}

// The rules rebuild the batch statistics from x, so the backward pass is differentiable in x
// (saved statistics would be constants there and give a wrong Hessian).
TEST(BatchNormAutodiff, HessianVectorProductsMatchFiniteDifferences) {
    Tensor c = rand64({3, 2, 2, 2}, 12);
    auto f = [c](const Var& theta) {
        std::int64_t at = 0;
        Var x = unpack(theta, at, {3, 2, 2, 2}), w = unpack(theta, at, {2}),
            b = unpack(theta, at, {2});
        Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
        return sum(mul(pow(batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5), 3.0), Var(c)));
    };
    expect_hvp_matches_differences(f, rand64({24 + 2 + 2}, 13), 14);
}

TEST(BatchNormAutodiff, TrainingUpdatesRunningStatisticsOncePerForward) {
    Tensor x = rand64({5, 2}, 16);
    Tensor rm = Tensor::from_vector(std::vector<double>{0.5, -1.0}, {2});
    Tensor rv = Tensor::from_vector(std::vector<double>{2.0, 3.0}, {2});
    Var xv(x, true);
    Var y = batch_norm(xv, Var(), Var(), rm, rv, true, 0.25, 1e-5);
    grad({sum(square(y))}, {xv});  // backward must not touch the running statistics
    Tensor expect_mean =
        add(mul(mean(x, {0}), 0.25), Tensor::from_vector(std::vector<double>{0.375, -0.75}, {2}));
    Tensor expect_var =
        add(mul(var(x, {0}, 1), 0.25), Tensor::from_vector(std::vector<double>{1.5, 2.25}, {2}));
    EXPECT_TRUE(test::all_close(rm, expect_mean, 1e-14, 1e-14));
    EXPECT_TRUE(test::all_close(rv, expect_var, 1e-14, 1e-14));
}

TEST(BatchNormAutodiff, EvaluationMatchesTheKernelAndLeavesStatisticsAlone) {
    Tensor x = rand64({3, 2, 4}, 17), w = rand64({2}, 18), b = rand64({2}, 19);
    Tensor rm = Tensor::from_vector(std::vector<double>{0.3, -0.2}, {2});
    Tensor rv = Tensor::from_vector(std::vector<double>{0.5, 1.7}, {2});
    Var y = batch_norm(Var(x), Var(w), Var(b), rm, rv, false, 0.1, 1e-5);
    EXPECT_TRUE(test::all_close(y.value(), batch_norm_eval(x, w, b, rm, rv, 1e-5), 1e-14, 1e-14));
    EXPECT_EQ(rm.to_vector<double>(), (std::vector<double>{0.3, -0.2}));
    EXPECT_EQ(rv.to_vector<double>(), (std::vector<double>{0.5, 1.7}));
}

TEST(BatchNormAutodiff, EvaluationNeedsRunningStatistics) {
    Tensor x = rand64({3, 2}, 20), none, rv = Tensor::ones({2}, DType::f64),
           short_mean = Tensor::zeros({3}, DType::f64);
    EXPECT_TRUE(test::throws_error([&] { batch_norm(Var(x), Var(), Var(), none, rv, false); },
                                   {"batch_norm", "running_mean", "undefined"}));
    EXPECT_TRUE(test::throws_error([&] { batch_norm(Var(x), Var(), Var(), short_mean, rv, false); },
                                   {"batch_norm", "running_mean", "[2]", "[3, 2]", "[3]"}));
}

}  // namespace
}  // namespace postr
