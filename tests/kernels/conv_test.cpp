// conv2d and its two backward ops on the CPU, against naive f64 loops, the adjoint identities
// ⟨conv2d_backward_input(g, w), x⟩ = ⟨g, conv2d(x, w)⟩ = ⟨conv2d_backward_weight(g, x), w⟩, and
// central finite differences.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/thread_pool.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::random_tensor;
using test::throws_error;
using i64 = std::int64_t;

struct ConvCase {
    i64 n, c_in, h, w, c_out, kh, kw;
    Conv2dOptions o;
    bool bias;
    std::string name;
};

std::vector<ConvCase> conv_cases() {
    return {
        {2, 3, 7, 6, 4, 3, 3, {}, true, "plain 3x3"},
        {2, 3, 9, 8, 5, 3, 3, {2, 2, 1, 1, 1, 1}, true, "stride 2, padding 1"},
        {2, 2, 9, 9, 3, 3, 3, {1, 1, 2, 2, 2, 2}, false, "dilation 2, padding 2"},
        {3, 4, 5, 6, 6, 1, 1, {}, true, "pointwise 1x1"},
        {2, 4, 7, 6, 3, 1, 1, {2, 2, 0, 0, 1, 1}, true, "1x1 with stride 2"},
        {2, 3, 8, 7, 4, 2, 3, {2, 1, 1, 0, 1, 2}, true, "non-square kernel, mixed options"},
        {2, 1, 6, 6, 2, 3, 3, {1, 1, 1, 1, 1, 1}, true, "single input channel"},
        {1, 2, 4, 4, 2, 4, 4, {3, 3, 0, 0, 1, 1}, false, "kernel equals input"},
        {2, 3, 3, 3, 2, 5, 5, {1, 1, 2, 2, 1, 1}, true, "kernel larger than unpadded input"},
    };
}

struct Geometry {
    i64 n, c_in, h, w, c_out, kh, kw, h_out, w_out;
    Conv2dOptions o;
};
Geometry geometry(const ConvCase& c) {
    i64 eh = c.o.dilation_h * (c.kh - 1) + 1, ew = c.o.dilation_w * (c.kw - 1) + 1;
    return {c.n,
            c.c_in,
            c.h,
            c.w,
            c.c_out,
            c.kh,
            c.kw,
            (c.h + 2 * c.o.pad_h - eh) / c.o.stride_h + 1,
            (c.w + 2 * c.o.pad_w - ew) / c.o.stride_w + 1,
            c.o};
}

// Calls f(n, co, ci, oh, ow, ki, kj, x_index, w_index, out_index) for every term of the
// convolution sum whose input pixel lies inside the image (the 7-loop definition).
template <class F>
void for_each_term(const Geometry& g, F&& f) {
    for (i64 n = 0; n < g.n; ++n)
        for (i64 co = 0; co < g.c_out; ++co)
            for (i64 oh = 0; oh < g.h_out; ++oh)
                for (i64 ow = 0; ow < g.w_out; ++ow)
                    for (i64 ci = 0; ci < g.c_in; ++ci)
                        for (i64 ki = 0; ki < g.kh; ++ki)
                            for (i64 kj = 0; kj < g.kw; ++kj) {
                                i64 ih = oh * g.o.stride_h - g.o.pad_h + ki * g.o.dilation_h;
                                i64 iw = ow * g.o.stride_w - g.o.pad_w + kj * g.o.dilation_w;
                                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                                f(((n * g.c_in + ci) * g.h + ih) * g.w + iw,
                                  ((co * g.c_in + ci) * g.kh + ki) * g.kw + kj,
                                  ((n * g.c_out + co) * g.h_out + oh) * g.w_out + ow);
                            }
}

// Reference forward in f64, plus Σ|x·w| per output (the scale of its rounding error).
struct Reference {
    Tensor value, abs_sum;
};
Reference naive_conv(const Geometry& g, const Tensor& x, const Tensor& w, const Tensor& b) {
    auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
    std::vector<double> out(static_cast<std::size_t>(g.n * g.c_out * g.h_out * g.w_out), 0.0);
    std::vector<double> abs(out.size(), 0.0);
    for_each_term(g, [&](i64 xi, i64 wi, i64 oi) {
        out[oi] += xv[xi] * wv[wi];
        abs[oi] += std::abs(xv[xi] * wv[wi]);
    });
    if (b.defined()) {
        auto bv = b.to_vector<double>();
        for (std::size_t i = 0; i < out.size(); ++i) {
            i64 co = (static_cast<i64>(i) / (g.h_out * g.w_out)) % g.c_out;
            out[i] += bv[co];
            abs[i] += std::abs(bv[co]);
        }
    }
    Shape shape = {g.n, g.c_out, g.h_out, g.w_out};
    return {Tensor::from_vector(out, shape), Tensor::from_vector(abs, shape)};
}

Tensor naive_backward_input(const Geometry& g, const Tensor& grad_out, const Tensor& w) {
    auto gv = grad_out.to_vector<double>(), wv = w.to_vector<double>();
    std::vector<double> gx(static_cast<std::size_t>(g.n * g.c_in * g.h * g.w), 0.0);
    for_each_term(g, [&](i64 xi, i64 wi, i64 oi) { gx[xi] += gv[oi] * wv[wi]; });
    return Tensor::from_vector(gx, {g.n, g.c_in, g.h, g.w});
}

Tensor naive_backward_weight(const Geometry& g, const Tensor& grad_out, const Tensor& x) {
    auto gv = grad_out.to_vector<double>(), xv = x.to_vector<double>();
    std::vector<double> gw(static_cast<std::size_t>(g.c_out * g.c_in * g.kh * g.kw), 0.0);
    for_each_term(g, [&](i64 xi, i64 wi, i64 oi) { gw[wi] += gv[oi] * xv[xi]; });
    return Tensor::from_vector(gw, {g.c_out, g.c_in, g.kh, g.kw});
}

double dot(const Tensor& a, const Tensor& b) {
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    EXPECT_EQ(av.size(), bv.size());
    double s = 0;
    for (std::size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
    return s;
}

// |actual − expected| ≤ k·ε·abs_sum + tiny elementwise, where abs_sum is Σ|terms| of each
// element: the worst-case rounding bound of a k-term dot product (STYLE 3.9).
::testing::AssertionResult within_sum_bound(const Tensor& actual, const Tensor& expected,
                                            const Tensor& abs_sum, double k, double eps) {
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << "shapes differ: " << to_string(actual.shape())
                                             << " vs " << to_string(expected.shape());
    auto a = actual.to_vector<double>(), e = expected.to_vector<double>(),
         s = abs_sum.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        double tol = test::sum_tolerance(k, eps, s[i]) + 1e-300;
        if (!(std::abs(a[i] - e[i]) <= tol))
            return ::testing::AssertionFailure()
                   << "element " << i << ": " << a[i] << " vs expected " << e[i] << " (tol " << tol
                   << ")";
    }
    return ::testing::AssertionSuccess();
}

Tensor abs_tensor(const Tensor& t) {
    auto v = t.to_vector<double>();
    for (auto& x : v) x = std::abs(x);
    return Tensor::from_vector(v, t.shape());
}

class Conv2dTyped : public ::testing::TestWithParam<DType> {};

TEST_P(Conv2dTyped, MatchesNaiveReference) {
    const DType dt = GetParam();
    const double eps = dt == DType::f32 ? test::kEpsF32 : test::kEpsF64;
    std::uint64_t seed = 100;
    for (const auto& c : conv_cases()) {
        SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
        Geometry g = geometry(c);
        Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, dt, seed++);
        Tensor w = random_tensor({c.c_out, c.c_in, c.kh, c.kw}, dt, seed++);
        Tensor b = c.bias ? random_tensor({c.c_out}, dt, seed++) : Tensor();
        Reference ref = naive_conv(g, x, w, b);
        double k = static_cast<double>(c.c_in * c.kh * c.kw + 1);
        Tensor out = conv2d(x, w, b, c.o);
        EXPECT_EQ(out.dtype(), dt);
        EXPECT_TRUE(within_sum_bound(out, ref.value, ref.abs_sum, k, eps));
        // Non-contiguous operands give the same values.
        Tensor out_strided = conv2d(test::transposed_copy(x), test::strided_copy(w),
                                    b.defined() ? test::strided_copy(b) : b, c.o);
        EXPECT_TRUE(within_sum_bound(out_strided, ref.value, ref.abs_sum, k, eps));
    }
}

TEST_P(Conv2dTyped, BackwardMatchesNaiveLoops) {
    const DType dt = GetParam();
    const double eps = dt == DType::f32 ? test::kEpsF32 : test::kEpsF64;
    std::uint64_t seed = 200;
    for (const auto& c : conv_cases()) {
        SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
        Geometry g = geometry(c);
        Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, dt, seed++);
        Tensor w = random_tensor({c.c_out, c.c_in, c.kh, c.kw}, dt, seed++);
        Tensor grad_out = random_tensor({c.n, c.c_out, g.h_out, g.w_out}, dt, seed++);
        // Rounding bounds: each grad_x element sums at most C_out·kH·kW terms, each grad_w
        // element N·H_out·W_out terms.
        Tensor gx = conv2d_backward_input(grad_out, w, x.shape(), c.o);
        EXPECT_TRUE(within_sum_bound(gx, naive_backward_input(g, grad_out, w),
                                     naive_backward_input(g, abs_tensor(grad_out), abs_tensor(w)),
                                     static_cast<double>(c.c_out * c.kh * c.kw), eps));
        Tensor gw = conv2d_backward_weight(grad_out, x, w.shape(), c.o);
        EXPECT_TRUE(within_sum_bound(gw, naive_backward_weight(g, grad_out, x),
                                     naive_backward_weight(g, abs_tensor(grad_out), abs_tensor(x)),
                                     static_cast<double>(c.n * g.h_out * g.w_out), eps));
        // Strided grad_out.
        Tensor gx2 = conv2d_backward_input(test::strided_copy(grad_out), w, x.shape(), c.o);
        EXPECT_TRUE(all_close(gx2, gx, 0, 0));
        Tensor gw2 = conv2d_backward_weight(test::transposed_copy(grad_out), test::strided_copy(x),
                                            w.shape(), c.o);
        EXPECT_TRUE(all_close(gw2, gw, 0, 0));
    }
}

INSTANTIATE_TEST_SUITE_P(Conv2d, Conv2dTyped, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Conv2d, BackwardSatisfiesAdjointIdentity) {
    // conv2d without bias is bilinear: ⟨g, conv(x, w)⟩ = ⟨Bᵢ(g, w), x⟩ = ⟨B_w(g, x), w⟩. All three
    // are sums of the same products in different orders: f64 agrees to ~1e-12 relative (the
    // worst case is about (terms)·ε·Σ|products| which is ≤ 1e-12 of the value for these sizes).
    std::uint64_t seed = 300;
    for (const auto& c : conv_cases()) {
        SCOPED_TRACE(c.name);
        Geometry g = geometry(c);
        Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, DType::f64, seed++);
        Tensor w = random_tensor({c.c_out, c.c_in, c.kh, c.kw}, DType::f64, seed++);
        Tensor grad_out = random_tensor({c.n, c.c_out, g.h_out, g.w_out}, DType::f64, seed++);
        double forward = dot(grad_out, conv2d(x, w, Tensor(), c.o));
        double via_input = dot(conv2d_backward_input(grad_out, w, x.shape(), c.o), x);
        double via_weight = dot(conv2d_backward_weight(grad_out, x, w.shape(), c.o), w);
        double scale =
            dot(abs_tensor(grad_out), conv2d(abs_tensor(x), abs_tensor(w), Tensor(), c.o));
        EXPECT_NEAR(via_input, forward, 1e-12 * scale);
        EXPECT_NEAR(via_weight, forward, 1e-12 * scale);
    }
}

TEST(Conv2d, GradientsMatchFiniteDifferences) {
    // L(x, w, b) = Σ r·conv2d(x, w, b); its gradients are Bᵢ(r, w), B_w(r, x) and Σ r over
    // {N, H_out, W_out}. Central differences, h = 1e-6 (STYLE 3.9); L is bilinear, so the only
    // error is rounding ≈ ε·|L|/h, far below the 1e-8 + 1e-6·|b| rule.
    Conv2dOptions o{2, 1, 1, 2, 1, 2};
    Tensor x = random_tensor({2, 2, 5, 4}, DType::f64, 1);
    Tensor w = random_tensor({3, 2, 3, 2}, DType::f64, 2);
    Tensor b = random_tensor({3}, DType::f64, 3);
    Tensor out = conv2d(x, w, b, o);
    Tensor r = random_tensor(out.shape(), DType::f64, 4);
    auto loss = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
        return dot(r, conv2d(xx, ww, bb, o));
    };
    auto check = [&](Tensor& param, const Tensor& analytic, const char* name) {
        SCOPED_TRACE(name);
        auto grad = analytic.to_vector<double>();
        auto values = param.to_vector<double>();
        ASSERT_EQ(grad.size(), values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            const double h = 1e-6 * std::max(1.0, std::abs(values[i]));
            auto plus = values, minus = values;
            plus[i] += h;
            minus[i] -= h;
            Tensor saved = param;
            param = Tensor::from_vector(plus, saved.shape());
            double lp = loss(x, w, b);
            param = Tensor::from_vector(minus, saved.shape());
            double lm = loss(x, w, b);
            param = saved;
            double fd = (lp - lm) / (2 * h);
            EXPECT_NEAR(grad[i], fd, 1e-8 + 1e-6 * std::abs(fd)) << "element " << i;
        }
    };
    check(x, conv2d_backward_input(r, w, x.shape(), o), "x");
    check(w, conv2d_backward_weight(r, x, w.shape(), o), "weight");
    std::vector<double> grad_b(3, 0.0), rv = r.to_vector<double>();
    for (std::size_t i = 0; i < rv.size(); ++i)
        grad_b[(i / static_cast<std::size_t>(out.size(2) * out.size(3))) % 3] += rv[i];
    check(b, Tensor::from_vector(grad_b, {3}), "bias");
}

TEST(Conv2d, LargeBatchIsChunkedConsistently) {
    // 16 samples of K·P·8 bytes = 144·4096·8 ≈ 4.7 MB each exceed the 64 MiB im2col bound, so
    // the CPU kernel runs two chunks; every sample must still match the naive loops.
    ConvCase c{16, 16, 64, 64, 8, 3, 3, {1, 1, 1, 1, 1, 1}, true, "chunked"};
    Geometry g = geometry(c);
    Tensor x = random_tensor({c.n, c.c_in, c.h, c.w}, DType::f64, 11);
    Tensor w = random_tensor({c.c_out, c.c_in, c.kh, c.kw}, DType::f64, 12);
    Tensor b = random_tensor({c.c_out}, DType::f64, 13);
    Tensor grad_out = random_tensor({c.n, c.c_out, g.h_out, g.w_out}, DType::f64, 14);
    Reference ref = naive_conv(g, x, w, b);
    EXPECT_TRUE(within_sum_bound(conv2d(x, w, b, c.o), ref.value, ref.abs_sum, 145, test::kEpsF64));
    EXPECT_TRUE(all_close(conv2d_backward_input(grad_out, w, x.shape(), c.o),
                          naive_backward_input(g, grad_out, w), 1e-12, 1e-12));
    EXPECT_TRUE(all_close(conv2d_backward_weight(grad_out, x, w.shape(), c.o),
                          naive_backward_weight(g, grad_out, x), 1e-11, 1e-11));
}

TEST(Conv2d, ResultsDoNotDependOnTheThreadCount) {
    // Chunks are sized by memory, and each output is accumulated by one thread in a fixed
    // order, so 1 and 4 threads agree bitwise.
    Conv2dOptions o{2, 1, 1, 1, 1, 2};
    Tensor x = random_tensor({6, 5, 12, 11}, DType::f32, 21);
    Tensor w = random_tensor({7, 5, 3, 3}, DType::f32, 22);
    Tensor g = random_tensor(conv2d(x, w, Tensor(), o).shape(), DType::f32, 23);
    const int saved = num_threads();
    set_num_threads(1);
    Tensor out1 = conv2d(x, w, Tensor(), o), gx1 = conv2d_backward_input(g, w, x.shape(), o),
           gw1 = conv2d_backward_weight(g, x, w.shape(), o);
    set_num_threads(4);
    Tensor out4 = conv2d(x, w, Tensor(), o), gx4 = conv2d_backward_input(g, w, x.shape(), o),
           gw4 = conv2d_backward_weight(g, x, w.shape(), o);
    set_num_threads(saved);
    EXPECT_TRUE(all_close(out4, out1, 0, 0));
    EXPECT_TRUE(all_close(gx4, gx1, 0, 0));
    EXPECT_TRUE(all_close(gw4, gw1, 0, 0));
}

TEST(Conv2d, EmptyBatchGivesEmptyOutputAndZeroWeightGradient) {
    Tensor x = Tensor::zeros({0, 3, 5, 5}, DType::f32);
    Tensor w = random_tensor({4, 3, 3, 3}, DType::f32, 5);
    Tensor b = random_tensor({4}, DType::f32, 6);
    Conv2dOptions o{1, 1, 1, 1, 1, 1};
    Tensor out = conv2d(x, w, b, o);
    EXPECT_EQ(out.shape(), (Shape{0, 4, 5, 5}));
    EXPECT_EQ(conv2d_backward_input(out, w, x.shape(), o).shape(), x.shape());
    EXPECT_TRUE(all_close(conv2d_backward_weight(out, x, w.shape(), o),
                          Tensor::zeros(w.shape(), DType::f32), 0, 0));
}

TEST(Conv2d, KnownValues) {
    // A 3x3 all-ones kernel on a 3x3 ramp with padding 1: each output is the sum of the
    // in-image neighbours (computed by hand), plus the bias 0.5.
    Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
    Tensor w = Tensor::ones({1, 1, 3, 3}, DType::f64);
    Tensor b = Tensor::full({1}, 0.5, DType::f64);
    Tensor out = conv2d(x, w, b, {1, 1, 1, 1, 1, 1});
    Tensor expected = Tensor::from_vector(
        std::vector<double>{12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5}, {1, 1, 3, 3});
    EXPECT_TRUE(all_close(out, expected, 0, 0));
}

TEST(Conv2d, RejectsBadArguments) {
    Tensor x = random_tensor({2, 3, 8, 8}, DType::f32, 1);
    Tensor w4 = random_tensor({5, 4, 3, 3}, DType::f32, 2);
    Tensor w = random_tensor({5, 3, 3, 3}, DType::f32, 3);
    EXPECT_TRUE(throws_error(
        [&] { conv2d(x, w4, Tensor()); },
        {"conv2d", "x has 3 channels, weight expects 4", "[2, 3, 8, 8]", "[5, 4, 3, 3]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d(x.view({2, 3, 64}), w, Tensor());
        },
        {"conv2d", "x must have rank 4", "[2, 3, 64]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d(x, w.view({5, 27}), Tensor());
        },
        {"conv2d", "weight must have rank 4", "[5, 27]"}));
    Tensor big = random_tensor({5, 3, 11, 3}, DType::f32, 4);
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d(x, big, Tensor(), {1, 1, 1, 1, 1, 1});
        },
        {"conv2d", "kernel larger than padded input", "11x3", "10x10"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d(x, w, Tensor(), {1, 1, 0, 0, 4, 1});
        },
        {"conv2d", "kernel larger than padded input", "9x3"}));
    EXPECT_TRUE(throws_error([&] { conv2d(x, w, random_tensor({4}, DType::f32, 5)); },
                             {"conv2d", "bias must be [C_out] = [5]", "[4]"}));
    EXPECT_TRUE(
        throws_error([&] { conv2d(x, w.to(DType::f64), Tensor()); }, {"conv2d", "dtypes differ"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d(x, w, Tensor(), {0, 1, 0, 0, 1, 1});
        },
        {"conv2d", "stride must be positive"}));
    EXPECT_TRUE(throws_error([&] { conv2d(x.to(DType::i64), w, Tensor()); },
                             {"conv2d", "x must be f32 or f64"}));
    Tensor grad_out = random_tensor({2, 5, 6, 5}, DType::f32, 6);
    EXPECT_TRUE(throws_error(
        [&] { conv2d_backward_input(grad_out, w, x.shape()); },
        {"conv2d_backward_input", "grad_out has the wrong shape", "[2, 5, 6, 5]", "[2, 5, 6, 6]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_backward_weight(grad_out, x, {5, 3, 3, 3});
        },
        {"conv2d_backward_weight", "grad_out has the wrong shape"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_backward_weight(grad_out, x, {5, 3, 3});
        },
        {"conv2d_backward_weight", "weight_shape must have 4 dims"}));
    EXPECT_TRUE(
        throws_error([&] { conv2d_backward_input(grad_out, w4, x.shape()); },
                     {"conv2d_backward_input", "input_shape has 3 channels, weight expects 4"}));
}

}  // namespace
}  // namespace postr
