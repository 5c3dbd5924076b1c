// max_pool2d, avg_pool2d, adaptive_avg_pool2d and their backward ops on the CPU, against naive
// f64 loops; the backward ops also through the adjoint identity ⟨B(g), v⟩ = ⟨g, A(v)⟩ with A the
// (linear, for fixed indices) forward map.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::random_tensor;
using test::throws_error;
using i64 = std::int64_t;

struct PoolCase {
    Shape x;
    Pool2dOptions o;
    std::string name;
};

std::vector<PoolCase> pool_cases() {
    return {
        {{2, 3, 8, 8}, {2, 2, 2, 2, 0, 0}, "2x2 stride 2"},
        {{2, 2, 9, 7}, {3, 3, 2, 2, 1, 1}, "3x3 stride 2 padding 1 (overlapping)"},
        {{1, 3, 6, 5}, {3, 3, 1, 1, 1, 1}, "3x3 stride 1 padding 1"},
        {{2, 2, 7, 9}, {2, 3, 1, 2, 1, 1}, "non-square kernel and stride"},
        {{2, 1, 8, 8}, {2, 2, 3, 3, 0, 0}, "stride larger than kernel"},
        {{1, 2, 5, 5}, {5, 5, 1, 1, 0, 0}, "global window"},
    };
}

Shape out_shape(const Shape& x, const Pool2dOptions& o) {
    return {x[0], x[1], (x[2] + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1,
            (x[3] + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1};
}

// Calls f(plane, oh, ow, ih, iw) for every in-image element of every window.
template <class F>
void for_each_window_element(const Shape& x, const Shape& out, const Pool2dOptions& o, F&& f) {
    for (i64 q = 0; q < x[0] * x[1]; ++q)
        for (i64 oh = 0; oh < out[2]; ++oh)
            for (i64 ow = 0; ow < out[3]; ++ow)
                for (i64 ki = 0; ki < o.kernel_h; ++ki)
                    for (i64 kj = 0; kj < o.kernel_w; ++kj) {
                        i64 ih = oh * o.stride_h - o.pad_h + ki,
                            iw = ow * o.stride_w - o.pad_w + kj;
                        if (ih >= 0 && ih < x[2] && iw >= 0 && iw < x[3]) f(q, oh, ow, ih, iw);
                    }
}

// Max and first argmax in row-major window order (padding is −inf, so never chosen).
std::pair<Tensor, Tensor> naive_max_pool(const Tensor& x, const Pool2dOptions& o) {
    Shape os = out_shape(x.shape(), o);
    auto xv = x.to_vector<double>();
    std::vector<double> best(static_cast<std::size_t>(numel(os)),
                             -std::numeric_limits<double>::infinity());
    std::vector<std::int64_t> arg(best.size(), -1);
    for_each_window_element(x.shape(), os, o, [&](i64 q, i64 oh, i64 ow, i64 ih, i64 iw) {
        std::size_t oi = static_cast<std::size_t>((q * os[2] + oh) * os[3] + ow);
        double v = xv[static_cast<std::size_t>((q * x.size(2) + ih) * x.size(3) + iw)];
        if (arg[oi] < 0 || v > best[oi]) {
            best[oi] = v;
            arg[oi] = ih * x.size(3) + iw;
        }
    });
    return {Tensor::from_vector(best, os), Tensor::from_vector(arg, os)};
}

Tensor naive_avg_pool(const Tensor& x, const Pool2dOptions& o) {
    Shape os = out_shape(x.shape(), o);
    auto xv = x.to_vector<double>();
    std::vector<double> s(static_cast<std::size_t>(numel(os)), 0.0);
    for_each_window_element(x.shape(), os, o, [&](i64 q, i64 oh, i64 ow, i64 ih, i64 iw) {
        s[static_cast<std::size_t>((q * os[2] + oh) * os[3] + ow)] +=
            xv[static_cast<std::size_t>((q * x.size(2) + ih) * x.size(3) + iw)];
    });
    for (auto& v : s) v /= static_cast<double>(o.kernel_h * o.kernel_w);
    return Tensor::from_vector(s, os);
}

// PyTorch's rule: window i spans [⌊i·in/out⌋, ⌈(i+1)·in/out⌉), written with floating floor/ceil
// (independently of the kernel's integer arithmetic).
Tensor naive_adaptive(const Tensor& x, i64 out_h, i64 out_w) {
    auto xv = x.to_vector<double>();
    i64 planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    std::vector<double> out(static_cast<std::size_t>(planes * out_h * out_w), 0.0);
    for (i64 q = 0; q < planes; ++q)
        for (i64 oh = 0; oh < out_h; ++oh)
            for (i64 ow = 0; ow < out_w; ++ow) {
                auto h0 = static_cast<i64>(std::floor(double(oh) * h / out_h));
                auto h1 = static_cast<i64>(std::ceil(double(oh + 1) * h / out_h));
                auto w0 = static_cast<i64>(std::floor(double(ow) * w / out_w));
                auto w1 = static_cast<i64>(std::ceil(double(ow + 1) * w / out_w));
                double s = 0;
                for (i64 ih = h0; ih < h1; ++ih)
                    for (i64 iw = w0; iw < w1; ++iw)
                        s += xv[static_cast<std::size_t>((q * h + ih) * w + iw)];
                out[static_cast<std::size_t>((q * out_h + oh) * out_w + ow)] =
                    s / static_cast<double>((h1 - h0) * (w1 - w0));
            }
    return Tensor::from_vector(out, {x.size(0), x.size(1), out_h, out_w});
}

double dot(const Tensor& a, const Tensor& b) {
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    EXPECT_EQ(av.size(), bv.size());
    double s = 0;
    for (std::size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
    return s;
}

double abs_dot(const Tensor& a, const Tensor& b) {
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    double s = 0;
    for (std::size_t i = 0; i < av.size(); ++i) s += std::abs(av[i] * bv[i]);
    return s;
}

// Averages of at most k·k terms: f32 rounding ≤ (terms + 1)·ε relative to Σ|x|/area ≤ max|x| = 1.
constexpr double kRtolPoolF32 = 64 * test::kEpsF32;
constexpr double kRtolPoolF64 = 64 * test::kEpsF64;

class PoolTyped : public ::testing::TestWithParam<DType> {};

TEST_P(PoolTyped, MaxPoolMatchesNaiveReference) {
    std::uint64_t seed = 10;
    for (const auto& c : pool_cases()) {
        SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
        Tensor x = random_tensor(c.x, GetParam(), seed++);
        auto [values, indices] = naive_max_pool(x, c.o);
        ValuesIndices r = max_pool2d(x, c.o);
        EXPECT_EQ(r.indices.dtype(), DType::i64);
        EXPECT_TRUE(all_close(r.values, values, 0, 0));  // a max is exact
        EXPECT_TRUE(all_close(r.indices, indices, 0, 0));
        ValuesIndices s = max_pool2d(test::transposed_copy(x), c.o);
        EXPECT_TRUE(all_close(s.values, values, 0, 0));
        EXPECT_TRUE(all_close(s.indices, indices, 0, 0));
    }
}

TEST_P(PoolTyped, AvgPoolMatchesNaiveReference) {
    const double rtol = GetParam() == DType::f32 ? kRtolPoolF32 : kRtolPoolF64;
    std::uint64_t seed = 20;
    for (const auto& c : pool_cases()) {
        SCOPED_TRACE(c.name + " seed " + std::to_string(seed));
        Tensor x = random_tensor(c.x, GetParam(), seed++);
        Tensor ref = naive_avg_pool(x, c.o);
        EXPECT_TRUE(all_close(avg_pool2d(x, c.o), ref, rtol, rtol));
        EXPECT_TRUE(all_close(avg_pool2d(test::strided_copy(x), c.o), ref, rtol, rtol));
    }
}

TEST_P(PoolTyped, AdaptiveAvgPoolMatchesNaiveReference) {
    const double rtol = GetParam() == DType::f32 ? kRtolPoolF32 : kRtolPoolF64;
    struct Case {
        Shape x;
        i64 out_h, out_w;
    };
    std::uint64_t seed = 30;
    for (const Case& c :
         {Case{{2, 3, 7, 7}, 3, 3}, Case{{1, 2, 5, 5}, 5, 5}, Case{{2, 2, 6, 9}, 4, 2},
          Case{{1, 2, 3, 2}, 5, 4}, Case{{2, 4, 8, 8}, 1, 1}, Case{{1, 1, 10, 3}, 3, 3}}) {
        SCOPED_TRACE(to_string(c.x) + " -> " + std::to_string(c.out_h) + "x" +
                     std::to_string(c.out_w));
        Tensor x = random_tensor(c.x, GetParam(), seed++);
        Tensor ref = naive_adaptive(x, c.out_h, c.out_w);
        EXPECT_TRUE(all_close(adaptive_avg_pool2d(x, c.out_h, c.out_w), ref, rtol, rtol));
        EXPECT_TRUE(all_close(adaptive_avg_pool2d(test::transposed_copy(x), c.out_h, c.out_w), ref,
                              rtol, rtol));
        // Backward by the adjoint identity (f64 sums of the same products: 1e-12 relative).
        Tensor x64 = x.to(DType::f64);
        Tensor g = random_tensor({c.x[0], c.x[1], c.out_h, c.out_w}, DType::f64, seed++);
        Tensor gx = adaptive_avg_pool2d_backward(g, c.x);
        EXPECT_EQ(gx.shape(), c.x);
        EXPECT_NEAR(dot(gx, x64), dot(g, adaptive_avg_pool2d(x64, c.out_h, c.out_w)),
                    1e-12 * abs_dot(gx, x64));
    }
}

INSTANTIATE_TEST_SUITE_P(Pool, PoolTyped, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(MaxPool2d, TiesPickTheFirstMaximumInRowMajorOrder) {
    // Constant planes: every window's first in-image element (row-major) must be reported.
    Pool2dOptions o{3, 3, 2, 2, 1, 1};
    Tensor x = Tensor::full({1, 2, 5, 5}, 0.25, DType::f32);
    auto [values, indices] = naive_max_pool(x, o);
    ValuesIndices r = max_pool2d(x, o);
    EXPECT_TRUE(all_close(r.indices, indices, 0, 0));
    // Hand-checked corners: window (0,0) starts at (0,0); window (1,1) at (1,1) = 6.
    auto iv = r.indices.to_vector<std::int64_t>();
    EXPECT_EQ(iv[0], 0);
    EXPECT_EQ(iv[4], 6);
    // A tie inside one window between (0,1) and (1,0): the earlier one, (0,1), wins.
    Tensor y = Tensor::from_vector(std::vector<double>{0, 5, 1, 5}, {1, 1, 2, 2});
    EXPECT_EQ(max_pool2d(y, {2, 2, 2, 2, 0, 0}).indices.item<std::int64_t>(), 1);
}

TEST(MaxPool2d, NegativeValuesNextToPaddingAreNotReplacedByPadding) {
    // Padding is −inf, not 0: an all-negative input keeps negative maxima.
    Tensor x = Tensor::full({1, 1, 3, 3}, -2.0, DType::f64);
    ValuesIndices r = max_pool2d(x, {2, 2, 2, 2, 1, 1});
    EXPECT_TRUE(all_close(r.values, Tensor::full({1, 1, 2, 2}, -2.0, DType::f64), 0, 0));
}

TEST(MaxPool2d, BackwardScattersToTheArgmax) {
    std::uint64_t seed = 40;
    for (const auto& c : pool_cases()) {
        SCOPED_TRACE(c.name);
        Tensor x = random_tensor(c.x, DType::f64, seed++);
        ValuesIndices r = max_pool2d(x, c.o);
        Tensor g = random_tensor(r.values.shape(), DType::f64, seed++);
        Tensor gx = max_pool2d_backward(g, r.indices, c.x);
        // Naive scatter-add.
        auto gv = g.to_vector<double>();
        auto iv = r.indices.to_vector<std::int64_t>();
        std::vector<double> ref(static_cast<std::size_t>(numel(c.x)), 0.0);
        i64 out_plane = r.values.size(2) * r.values.size(3), plane = c.x[2] * c.x[3];
        for (std::size_t i = 0; i < gv.size(); ++i)
            ref[static_cast<std::size_t>(static_cast<i64>(i) / out_plane * plane + iv[i])] += gv[i];
        EXPECT_TRUE(all_close(gx, Tensor::from_vector(ref, c.x), 1e-15, 0));
        // Adjoint of the gather v ↦ v[indices]: ⟨B(g), v⟩ = ⟨g, gather(v)⟩ for any v.
        Tensor v = random_tensor(c.x, DType::f64, seed++);
        auto vv = v.to_vector<double>();
        double gathered = 0;
        for (std::size_t i = 0; i < gv.size(); ++i)
            gathered +=
                gv[i] *
                vv[static_cast<std::size_t>(static_cast<i64>(i) / out_plane * plane + iv[i])];
        EXPECT_NEAR(dot(gx, v), gathered, 1e-12 * abs_dot(gx, v));
        // f32 gradients: the same scatter, rounding only where windows overlap (≤ 4 terms).
        Tensor f32 = max_pool2d_backward(g.to(DType::f32), r.indices, c.x);
        EXPECT_TRUE(all_close(f32, gx, 8 * test::kEpsF32, 8 * test::kEpsF32));
    }
}

TEST(AvgPool2d, BackwardSatisfiesAdjointIdentity) {
    // avg_pool2d is linear: ⟨B(g), x⟩ = ⟨g, A(x)⟩; both are f64 sums of the same products.
    std::uint64_t seed = 50;
    for (const auto& c : pool_cases()) {
        SCOPED_TRACE(c.name);
        Tensor x = random_tensor(c.x, DType::f64, seed++);
        Tensor g = random_tensor(out_shape(c.x, c.o), DType::f64, seed++);
        Tensor gx = avg_pool2d_backward(g, c.x, c.o);
        EXPECT_NEAR(dot(gx, x), dot(g, avg_pool2d(x, c.o)), 1e-12 * abs_dot(gx, x));
        EXPECT_TRUE(all_close(avg_pool2d_backward(g.to(DType::f32), c.x, c.o), gx, kRtolPoolF32,
                              kRtolPoolF32));
        EXPECT_TRUE(all_close(avg_pool2d_backward(test::strided_copy(g), c.x, c.o), gx, 0, 0));
    }
}

TEST(AdaptiveAvgPool2d, KnownWindows) {
    // H = 7 → 3: windows [0, 3), [2, 5), [4, 7) (overlapping at 2 and 4).
    std::vector<double> v(7);
    for (int i = 0; i < 7; ++i) v[static_cast<std::size_t>(i)] = i;
    Tensor x = Tensor::from_vector(v, {1, 1, 7, 1});
    Tensor out = adaptive_avg_pool2d(x, 3, 1);
    EXPECT_TRUE(
        all_close(out, Tensor::from_vector(std::vector<double>{1, 3, 5}, {1, 1, 3, 1}), 1e-15, 0));
    // Backward: element 2 lies in windows 0 and 1, each of size 3.
    Tensor gx = adaptive_avg_pool2d_backward(Tensor::ones({1, 1, 3, 1}, DType::f64), x.shape());
    EXPECT_TRUE(all_close(gx,
                          Tensor::from_vector(std::vector<double>{1. / 3, 1. / 3, 2. / 3, 1. / 3,
                                                                  2. / 3, 1. / 3, 1. / 3},
                                              {1, 1, 7, 1}),
                          1e-15, 0));
}

TEST(Pool2d, EmptyBatch) {
    Tensor x = Tensor::zeros({0, 3, 4, 4}, DType::f32);
    ValuesIndices r = max_pool2d(x, {});
    EXPECT_EQ(r.values.shape(), (Shape{0, 3, 2, 2}));
    EXPECT_EQ(max_pool2d_backward(r.values, r.indices, x.shape()).shape(), x.shape());
    EXPECT_EQ(avg_pool2d(x, {}).shape(), (Shape{0, 3, 2, 2}));
    EXPECT_EQ(adaptive_avg_pool2d(x, 1, 1).shape(), (Shape{0, 3, 1, 1}));
    EXPECT_EQ(adaptive_avg_pool2d_backward(Tensor::zeros({0, 3, 1, 1}), x.shape()).shape(),
              x.shape());
}

TEST(Pool2d, RejectsBadArguments) {
    Tensor x = random_tensor({2, 3, 5, 5}, DType::f32, 1);
    EXPECT_TRUE(throws_error(
        [&] {
            max_pool2d(x.view({6, 5, 5}), {});
        },
        {"max_pool2d", "x must have rank 4", "[6, 5, 5]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            avg_pool2d(x, {6, 6, 1, 1, 0, 0});
        },
        {"avg_pool2d", "kernel larger than padded input", "6x6", "5x5"}));
    EXPECT_TRUE(throws_error(
        [&] {
            max_pool2d(x, {3, 3, 1, 1, 2, 0});
        },
        {"max_pool2d", "padding must be between 0 and half the kernel"}));
    EXPECT_TRUE(throws_error(
        [&] {
            max_pool2d(x, {2, 2, 0, 2, 0, 0});
        },
        {"max_pool2d", "stride must be positive"}));
    EXPECT_TRUE(throws_error([&] { adaptive_avg_pool2d(x, 0, 2); },
                             {"adaptive_avg_pool2d", "output size must be positive"}));
    ValuesIndices r = max_pool2d(x, {});
    EXPECT_TRUE(throws_error([&] { max_pool2d_backward(r.values, r.values, x.shape()); },
                             {"max_pool2d_backward", "indices has the wrong dtype"}));
    EXPECT_TRUE(throws_error(
        [&] {
            max_pool2d_backward(r.values, r.indices, {2, 4, 5, 5});
        },
        {"max_pool2d_backward", "grad_out and input_shape differ in N or C", "[2, 3, 2, 2]",
         "[2, 4, 5, 5]"}));
    Tensor bad = Tensor::full(r.indices.shape(), 25.0, DType::i64);
    EXPECT_TRUE(throws_error([&] { max_pool2d_backward(r.values, bad, x.shape()); },
                             {"max_pool2d_backward", "indices holds 25", "25 elements"}));
    EXPECT_TRUE(throws_error(
        [&] {
            avg_pool2d_backward(r.values, {2, 3, 7, 7}, {});
        },
        {"avg_pool2d_backward", "grad_out has the wrong shape", "[2, 3, 3, 3]"}));
}

}  // namespace
}  // namespace postr
