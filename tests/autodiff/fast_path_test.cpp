// The fused first-order backward paths of batch_norm (training) and relu, taken when the backward
// is not recorded (no create_graph) and carries no tangent, against the differentiable composite
// rules they replace (taken with create_graph): values, batched cotangents [K, ...], and
// tangents flowing through a first-order backward (forward-over-reverse). Also the CPU conv
// kernels (im2col/col2im copy only the in-image part of each window) on planes larger than the
// op table and kernel tests use, against the convolution sum.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

struct Tolerance {
    double rtol, atol;
};
Tolerance tolerance(DType dtype) {
    // f32: the fused kernel sums in f64 and the composite in f32 over ≤ 100 elements per channel.
    return dtype == DType::f64 ? Tolerance{1e-12, 1e-13} : Tolerance{2e-5, 2e-6};
}

// Gradients of out = f(inputs) for cotangent g, by the fused path (create_graph off) and by the
// composite one (create_graph on), which must agree.
void expect_paths_agree(const Var& out, const std::vector<Var>& inputs, const Tensor& g) {
    const Tolerance tol = tolerance(g.dtype());
    std::vector<Var> fused = grad({out}, inputs, {g}, /*retain_graph=*/true, false);
    std::vector<Var> composite = grad({out}, inputs, {g}, /*retain_graph=*/true, true);
    ASSERT_EQ(fused.size(), composite.size());
    for (std::size_t i = 0; i < fused.size(); ++i) {
        EXPECT_FALSE(fused[i].requires_grad()) << "input " << i;
        EXPECT_TRUE(test::all_close(fused[i].value(), composite[i].value(), tol.rtol, tol.atol))
            << "input " << i;
    }
}

class FastPath : public ::testing::TestWithParam<DType> {};

TEST_P(FastPath, BatchNormTrainingMatchesCompositeRule) {
    const DType dt = GetParam();
    struct Case {
        Shape x;
        bool weight, bias;
    };
    for (const Case& c : {Case{{4, 3, 5, 5}, true, true}, Case{{6, 3}, false, false},
                          Case{{3, 2, 7}, true, false}, Case{{5, 4, 2, 3}, false, true}}) {
        const std::int64_t ch = c.x[1];
        Var x(test::random_tensor(c.x, dt, 1, -2.0, 3.0), true);
        Var w = c.weight ? Var(test::random_tensor({ch}, dt, 2, 0.5, 1.5), true) : Var();
        Var b = c.bias ? Var(test::random_tensor({ch}, dt, 3), true) : Var();
        Tensor rm = Tensor::zeros({ch}, dt), rv = Tensor::ones({ch}, dt);
        Var y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
        std::vector<Var> inputs{x};
        if (w.defined()) inputs.push_back(w);
        if (b.defined()) inputs.push_back(b);
        SCOPED_TRACE(to_string(c.x));
        expect_paths_agree(y, inputs, test::random_tensor(c.x, dt, 4));
        Shape batched = c.x;
        batched.insert(batched.begin(), 3);
        expect_paths_agree(y, inputs, test::random_tensor(batched, dt, 5));
    }
}

TEST_P(FastPath, ReluMatchesCompositeRule) {
    const DType dt = GetParam();
    // Away from the kink, plus exact zeros (subgradient 0 on both paths).
    Tensor xv = test::random_tensor({4, 3, 5}, dt, 6, -1.0, 1.0);
    xv = where(lt(abs(xv), Tensor::scalar(0.05, dt)), Tensor::scalar(0.0, dt), xv);
    Var x(xv, true);
    Var y = relu(x);
    expect_paths_agree(y, {x}, test::random_tensor({4, 3, 5}, dt, 7));
    expect_paths_agree(y, {x}, test::random_tensor({3, 4, 3, 5}, dt, 8));
    // The value is exactly the cotangent where x > 0 and zero elsewhere.
    Tensor g = test::random_tensor({4, 3, 5}, dt, 9);
    Tensor want = where(gt(xv, Tensor::scalar(0.0, dt)), g, Tensor::scalar(0.0, dt));
    EXPECT_TRUE(test::all_close(grad({y}, {x}, {g}, true)[0].value(), want, 0, 0));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FastPath, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Forward-over-reverse: with a tangent on x, a first-order backward must propagate it, so the
// rules take the composite path; the gradient's tangent then equals the one obtained with
// create_graph.
TEST(FastPath, TangentsFlowThroughFirstOrderBackward) {
    auto f = [](const Var& x, Tensor& rm, Tensor& rv) {
        Var h = relu(batch_norm(x, Var(), Var(), rm, rv, true, 0.1, 1e-5));
        return sum(mul(h, h));
    };
    Tensor xv = test::random_tensor({4, 2, 3}, DType::f64, 10, -2.0, 2.0);
    Tensor v = test::random_tensor({4, 2, 3}, DType::f64, 11);
    Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
    Tensor tangents[2];
    for (bool create : {false, true}) {
        Var x(xv, true);
        x.set_tangent(v);
        Var gx = grad({f(x, rm, rv)}, {x}, {}, false, create)[0];
        ASSERT_TRUE(gx.tangent().defined()) << "create_graph " << create;
        tangents[create ? 1 : 0] = gx.tangent().value();
    }
    EXPECT_TRUE(test::all_close(tangents[0], tangents[1], 1e-12, 1e-13));
}

// The 7-loop convolution sum in f64: forward, and the adjoints for cotangent g.
struct NaiveConv {
    Tensor out, grad_x, grad_w;
};
NaiveConv naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& g,
                     const Conv2dOptions& o) {
    using i64 = std::int64_t;
    const i64 n = x.size(0), ci = x.size(1), h = x.size(2), wd = x.size(3), co = w.size(0),
              kh = w.size(2), kw = w.size(3);
    const i64 ho = (h + 2 * o.pad_h - (kh - 1) - 1) / o.stride_h + 1;
    const i64 wo = (wd + 2 * o.pad_w - (kw - 1) - 1) / o.stride_w + 1;
    const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>(),
               gv = g.to_vector<double>();
    std::vector<double> out(static_cast<std::size_t>(n * co * ho * wo)), gx(xv.size()),
        gw(wv.size());
    for (i64 s = 0; s < n; ++s)
        for (i64 c = 0; c < co; ++c)
            for (i64 oh = 0; oh < ho; ++oh)
                for (i64 ow = 0; ow < wo; ++ow) {
                    const auto oi = static_cast<std::size_t>(((s * co + c) * ho + oh) * wo + ow);
                    out[oi] = bv[static_cast<std::size_t>(c)];
                    for (i64 k = 0; k < ci; ++k)
                        for (i64 ki = 0; ki < kh; ++ki)
                            for (i64 kj = 0; kj < kw; ++kj) {
                                const i64 ih = oh * o.stride_h - o.pad_h + ki;
                                const i64 iw = ow * o.stride_w - o.pad_w + kj;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                                const auto xi =
                                    static_cast<std::size_t>(((s * ci + k) * h + ih) * wd + iw);
                                const auto wi =
                                    static_cast<std::size_t>(((c * ci + k) * kh + ki) * kw + kj);
                                out[oi] += xv[xi] * wv[wi];
                                gx[xi] += gv[oi] * wv[wi];
                                gw[wi] += gv[oi] * xv[xi];
                            }
                }
    return {Tensor::from_vector(out, {n, co, ho, wo}), Tensor::from_vector(gx, x.shape()),
            Tensor::from_vector(gw, w.shape())};
}

TEST(FastPath, ConvOnLargePlanesMatchesConvolutionSum) {
    for (std::int64_t stride : {1, 2}) {
        SCOPED_TRACE(stride);
        Conv2dOptions o;
        o.stride_h = o.stride_w = stride;
        o.pad_h = o.pad_w = 1;
        // 17×16 = 272 output positions per plane.
        const Tensor x = test::random_tensor({3, 2, 17 * stride, 16 * stride}, DType::f64, 20);
        const Tensor w = test::random_tensor({4, 2, 3, 3}, DType::f64, 21);
        const Tensor b = test::random_tensor({4}, DType::f64, 22);
        const Tensor g = test::random_tensor({3, 4, 17, 16}, DType::f64, 23);
        const NaiveConv want = naive_conv(x, w, b, g, o);
        EXPECT_TRUE(test::all_close(conv2d(x, w, b, o), want.out, 1e-12, 1e-13));
        EXPECT_TRUE(
            test::all_close(conv2d_backward_input(g, w, x.shape(), o), want.grad_x, 1e-12, 1e-13));
        EXPECT_TRUE(
            test::all_close(conv2d_backward_weight(g, x, w.shape(), o), want.grad_w, 1e-12, 1e-13));
    }
}

}  // namespace
}  // namespace postr
