// Per-layer curvature kernels (curvature_ops.h) against naive f64 loops written from the header's
// formulas, in f32 and f64: full blocks written into column slices of a wider tensor, subsets
// with repeated and unsorted indices, sums of squares accumulated into a nonzero diag, empty
// sizes, thread-count independence, the error messages, and agreement with autodiff's Jacobian.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/ops.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/curvature_ops.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::random_tensor;
using test::throws_error;
using i64 = std::int64_t;

std::vector<double> values(const Tensor& t) {
    return t.to(DType::f64).contiguous().to_vector<double>();
}
double eps_of(DType dtype) { return dtype == DType::f64 ? test::kEpsF64 : test::kEpsF32; }

// One layer's three forms, bound to its inputs, with the f64 reference J [N, K, P].
struct Case {
    std::string name;
    DType dtype;
    i64 n, k, p;
    // Most products summed into one J entry; inputs lie in [−1, 1], so |J| ≤ terms and the
    // rounding of one entry stays below terms·ε (tolerances below use 4·terms·ε).
    double terms;
    std::vector<double> ref;
    std::function<void(const Tensor&)> full;
    std::function<void(const Tensor&, const Tensor&)> subset;
    std::function<void(const Tensor&)> sq_sum;
};

Tensor maybe_strided(const Tensor& t, bool strided) { return strided ? test::strided_copy(t) : t; }

// Linear y = x Wᵀ + b: J[n,k,o·I+i] = cot[k,n,o]·x[n,i], J[n,k,O·I+o] = cot[k,n,o].
Case linear_case(i64 n, i64 k, i64 o, i64 in, bool bias, DType dtype, std::uint64_t seed,
                 bool strided = false) {
    Tensor cot = maybe_strided(random_tensor({k, n, o}, dtype, seed), strided);
    Tensor x = random_tensor({n, in}, dtype, seed + 1);
    if (strided && n > 1 && in > 1) x = test::transposed_copy(x);
    const i64 p = o * in + (bias ? o : 0);
    std::vector<double> c = values(cot), xv = values(x), ref(static_cast<std::size_t>(n * k * p));
    for (i64 a = 0; a < n; ++a)
        for (i64 b = 0; b < k; ++b) {
            double* row = ref.data() + (a * k + b) * p;
            for (i64 u = 0; u < o; ++u) {
                const double cu = c[static_cast<std::size_t>((b * n + a) * o + u)];
                for (i64 v = 0; v < in; ++v)
                    row[u * in + v] = cu * xv[static_cast<std::size_t>(a * in + v)];
                if (bias) row[o * in + u] = cu;
            }
        }
    Case cs{"linear", dtype, n, k, p, 1.0, ref, {}, {}, {}};
    cs.full = [=](const Tensor& out) { linear_jacobian_into(cot, x, bias, out); };
    cs.subset = [=](const Tensor& idx, const Tensor& out) {
        linear_jacobian_subset_into(cot, x, bias, idx, out);
    };
    cs.sq_sum = [=](const Tensor& diag) { linear_jacobian_sq_sum_(cot, x, bias, diag); };
    return cs;
}

struct ConvShape {
    i64 n, k, o, in, h, w, kh, kw;
    Conv2dOptions opt;
    bool bias;
};

i64 conv_out(i64 size, i64 kernel, i64 stride, i64 pad, i64 dil) {
    return (size + 2 * pad - dil * (kernel - 1) - 1) / stride + 1;
}

// J[n,k,((o·I+i)·kH+a)·kW+b] = Σ_{h,w} cot[k,n,o,h,w]·xpad[n,i,h·s+a·d−pad, w·s+b·d−pad].
Case conv_case(const ConvShape& s, DType dtype, std::uint64_t seed, bool strided = false) {
    const auto& o = s.opt;
    const i64 ho = conv_out(s.h, s.kh, o.stride_h, o.pad_h, o.dilation_h);
    const i64 wo = conv_out(s.w, s.kw, o.stride_w, o.pad_w, o.dilation_w);
    Tensor cot = maybe_strided(random_tensor({s.k, s.n, s.o, ho, wo}, dtype, seed), strided);
    Tensor x = maybe_strided(random_tensor({s.n, s.in, s.h, s.w}, dtype, seed + 1), strided);
    const i64 q = s.in * s.kh * s.kw, p = s.o * q + (s.bias ? s.o : 0), hw = ho * wo;
    std::vector<double> c = values(cot), xv = values(x),
                        ref(static_cast<std::size_t>(s.n * s.k * p));
    auto cot_at = [&](i64 kk, i64 nn, i64 oo, i64 hh, i64 ww) {
        return c[static_cast<std::size_t>((((kk * s.n + nn) * s.o + oo) * ho + hh) * wo + ww)];
    };
    for (i64 nn = 0; nn < s.n; ++nn)
        for (i64 kk = 0; kk < s.k; ++kk) {
            double* row = ref.data() + (nn * s.k + kk) * p;
            for (i64 oo = 0; oo < s.o; ++oo) {
                for (i64 ii = 0; ii < s.in; ++ii)
                    for (i64 a = 0; a < s.kh; ++a)
                        for (i64 b = 0; b < s.kw; ++b) {
                            double acc = 0;
                            for (i64 hh = 0; hh < ho; ++hh)
                                for (i64 ww = 0; ww < wo; ++ww) {
                                    const i64 ih = hh * o.stride_h + a * o.dilation_h - o.pad_h;
                                    const i64 iw = ww * o.stride_w + b * o.dilation_w - o.pad_w;
                                    if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                                    acc += cot_at(kk, nn, oo, hh, ww) *
                                           xv[static_cast<std::size_t>(
                                               ((nn * s.in + ii) * s.h + ih) * s.w + iw)];
                                }
                            row[((oo * s.in + ii) * s.kh + a) * s.kw + b] = acc;
                        }
                if (s.bias) {
                    double acc = 0;
                    for (i64 hh = 0; hh < ho; ++hh)
                        for (i64 ww = 0; ww < wo; ++ww) acc += cot_at(kk, nn, oo, hh, ww);
                    row[s.o * q + oo] = acc;
                }
            }
        }
    Case cs{"conv2d", dtype, s.n, s.k, p, static_cast<double>(std::max<i64>(hw, 1)),
            ref,      {},    {},  {}};
    cs.full = [=](const Tensor& out) {
        conv2d_jacobian_into(cot, x, s.kh, s.kw, s.opt, s.bias, out);
    };
    cs.subset = [=](const Tensor& idx, const Tensor& out) {
        conv2d_jacobian_subset_into(cot, x, s.kh, s.kw, s.opt, s.bias, idx, out);
    };
    cs.sq_sum = [=](const Tensor& diag) {
        conv2d_jacobian_sq_sum_(cot, x, s.kh, s.kw, s.opt, s.bias, diag);
    };
    return cs;
}

// J[n,k,c] = Σ_{h,w} cot[k,n,c,h,w]·x̂[n,c,h,w], J[n,k,C+c] = Σ_{h,w} cot[k,n,c,h,w].
Case affine_case(i64 n, i64 k, i64 ch, i64 h, i64 w, DType dtype, std::uint64_t seed,
                 bool strided = false) {
    Tensor cot = maybe_strided(random_tensor({k, n, ch, h, w}, dtype, seed), strided);
    Tensor xhat = maybe_strided(random_tensor({n, ch, h, w}, dtype, seed + 1), strided);
    const i64 p = 2 * ch, hw = h * w;
    std::vector<double> c = values(cot), xv = values(xhat),
                        ref(static_cast<std::size_t>(n * k * p));
    for (i64 a = 0; a < n; ++a)
        for (i64 b = 0; b < k; ++b)
            for (i64 cc = 0; cc < ch; ++cc) {
                double scale = 0, shift = 0;
                for (i64 j = 0; j < hw; ++j) {
                    const double cv = c[static_cast<std::size_t>(((b * n + a) * ch + cc) * hw + j)];
                    scale += cv * xv[static_cast<std::size_t>((a * ch + cc) * hw + j)];
                    shift += cv;
                }
                ref[static_cast<std::size_t>((a * k + b) * p + cc)] = scale;
                ref[static_cast<std::size_t>((a * k + b) * p + ch + cc)] = shift;
            }
    Case cs{"channel_affine",
            dtype,
            n,
            k,
            p,
            static_cast<double>(std::max<i64>(hw, 1)),
            ref,
            {},
            {},
            {}};
    cs.full = [=](const Tensor& out) { channel_affine_jacobian_into(cot, xhat, out); };
    cs.subset = [=](const Tensor& idx, const Tensor& out) {
        channel_affine_jacobian_subset_into(cot, xhat, idx, out);
    };
    cs.sq_sum = [=](const Tensor& diag) { channel_affine_jacobian_sq_sum_(cot, xhat, diag); };
    return cs;
}

// Reference columns `idx` of J: [N, K, S].
Tensor gathered(const Case& cs, const std::vector<i64>& idx) {
    const i64 s = static_cast<i64>(idx.size());
    std::vector<double> v(static_cast<std::size_t>(cs.n * cs.k * s));
    for (i64 r = 0; r < cs.n * cs.k; ++r)
        for (i64 j = 0; j < s; ++j)
            v[static_cast<std::size_t>(r * s + j)] =
                cs.ref[static_cast<std::size_t>(r * cs.p + idx[static_cast<std::size_t>(j)])];
    return Tensor::from_vector(v, {cs.n, cs.k, s});
}

constexpr i64 kLeft = 5, kRight = 3;  // untouched columns around the slice under test
constexpr double kSentinel = 7.0;     // |J| entries of these tests never equal it

// The columns outside [kLeft, kLeft + width) of `wide` still hold the sentinel.
::testing::AssertionResult untouched(const Tensor& wide, i64 width) {
    const std::vector<double> v = values(wide);
    const i64 d = wide.size(2);
    for (i64 r = 0; r < wide.size(0) * wide.size(1); ++r)
        for (i64 j = 0; j < d; ++j)
            if ((j < kLeft || j >= kLeft + width) &&
                v[static_cast<std::size_t>(r * d + j)] != kSentinel)
                return ::testing::AssertionFailure()
                       << "column " << j << " of row " << r << " was written";
    return ::testing::AssertionSuccess();
}

// Full form into a column slice of a wider [N, K, kLeft + P + kRight] tensor.
void check_full(const Case& cs) {
    SCOPED_TRACE(cs.name + (cs.dtype == DType::f64 ? " f64" : " f32"));
    Tensor wide = Tensor::full({cs.n, cs.k, kLeft + cs.p + kRight}, kSentinel, cs.dtype);
    Tensor out = wide.slice(2, kLeft, kLeft + cs.p);
    cs.full(out);
    const double tol = 4 * cs.terms * eps_of(cs.dtype);
    EXPECT_TRUE(
        all_close(out.to(DType::f64), Tensor::from_vector(cs.ref, {cs.n, cs.k, cs.p}), tol, tol));
    EXPECT_TRUE(untouched(wide, cs.p));
}

// Unsorted positions with repeats, including the first and the last of the block.
std::vector<i64> subset_positions(i64 p, i64 s, std::uint64_t seed) {
    if (p == 0) return {};
    std::vector<i64> idx = test::random_ints({s}, 0, p, seed).to_vector<i64>();
    idx.push_back(p - 1);
    idx.push_back(0);
    idx.push_back(idx.front());
    idx.push_back(p - 1);
    return idx;
}

void check_subset(const Case& cs, std::uint64_t seed) {
    SCOPED_TRACE(cs.name + (cs.dtype == DType::f64 ? " f64" : " f32"));
    const std::vector<i64> idx = subset_positions(cs.p, 7, seed);
    const i64 s = static_cast<i64>(idx.size());
    Tensor wide = Tensor::full({cs.n, cs.k, kLeft + s + kRight}, kSentinel, cs.dtype);
    Tensor out = wide.slice(2, kLeft, kLeft + s);
    cs.subset(Tensor::from_vector(idx, {s}), out);
    const double tol = 4 * cs.terms * eps_of(cs.dtype);
    EXPECT_TRUE(all_close(out.to(DType::f64), gathered(cs, idx), tol, tol));
    EXPECT_TRUE(untouched(wide, s));
    // Against the kernel's own full block, gathered.
    Tensor full = Tensor::empty({cs.n, cs.k, cs.p}, cs.dtype);
    cs.full(full);
    Tensor picked = index_select(full, 2, Tensor::from_vector(idx, {s}));
    EXPECT_TRUE(all_close(out, picked, tol, tol));
}

// Σ_n Σ_k J² added to a diag holding values in [0.5, 1]; all terms are positive, so a relative
// bound of (number of terms)·ε holds for the accumulated sum.
void check_sq_sum(const Case& cs, std::uint64_t seed, bool strided_diag = false) {
    SCOPED_TRACE(cs.name + (cs.dtype == DType::f64 ? " f64" : " f32"));
    Tensor diag0 = random_tensor({cs.p}, cs.dtype, seed, 0.5, 1.0);
    Tensor diag = strided_diag ? test::strided_copy(diag0) : diag0.clone();
    cs.sq_sum(diag);
    std::vector<double> expected = values(diag0);
    for (i64 r = 0; r < cs.n * cs.k; ++r)
        for (i64 j = 0; j < cs.p; ++j) {
            const double v = cs.ref[static_cast<std::size_t>(r * cs.p + j)];
            expected[static_cast<std::size_t>(j)] += v * v;
        }
    const double rtol =
        4 * (static_cast<double>(cs.n * cs.k) + 2 * cs.terms + 1) * eps_of(cs.dtype);
    EXPECT_TRUE(all_close(diag.to(DType::f64), Tensor::from_vector(expected, {cs.p}), rtol, 0.0));
}

void check_all(const Case& cs, std::uint64_t seed, bool strided_diag = false) {
    check_full(cs);
    check_subset(cs, seed);
    check_sq_sum(cs, seed, strided_diag);
}

const DType kDtypes[] = {DType::f32, DType::f64};

// ---- Linear ---------------------------------------------------------------------------------

TEST(LinearJacobian, MatchesReferenceAllForms) {
    std::uint64_t seed = 10;
    for (DType dt : kDtypes)
        for (bool bias : {false, true}) {
            check_all(linear_case(3, 4, 5, 7, bias, dt, seed), seed);
            check_all(linear_case(9, 2, 17, 33, bias, dt, seed + 1), seed + 1, true);
            check_all(linear_case(1, 1, 1, 1, bias, dt, seed + 2), seed + 2);
            seed += 3;
        }
}

TEST(LinearJacobian, NonContiguousInputs) {
    for (DType dt : kDtypes) check_all(linear_case(5, 3, 6, 4, true, dt, 31, true), 31);
}

TEST(LinearJacobian, ManyRowsSpanParallelChunks) {
    // 128·10 rows of 8,320 columns: several parallel_for chunks per thread.
    check_full(linear_case(128, 10, 128, 64, true, DType::f32, 41));
}

TEST(LinearJacobian, EmptySizes) {
    for (DType dt : kDtypes) {
        check_all(linear_case(0, 3, 4, 5, true, dt, 51), 51);
        check_all(linear_case(3, 0, 4, 5, true, dt, 52), 52);
        check_all(linear_case(3, 2, 4, 0, true, dt, 53), 53);   // only the bias columns
        check_all(linear_case(3, 2, 0, 5, false, dt, 54), 54);  // P = 0
    }
    // S = 0.
    Tensor cot = random_tensor({2, 3, 4}, DType::f32, 55),
           x = random_tensor({3, 5}, DType::f32, 56);
    Tensor out = Tensor::empty({3, 2, 0});
    linear_jacobian_subset_into(cot, x, true, Tensor::empty({0}, DType::i64), out);
    EXPECT_EQ(out.numel(), 0);
}

TEST(LinearJacobian, SqSumIsIndependentOfThreadCount) {
    const int saved = num_threads();
    Tensor cot = random_tensor({10, 64, 40}, DType::f32, 61),
           x = random_tensor({64, 30}, DType::f32, 62);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Tensor d = Tensor::ones({40 * 30 + 40});
        linear_jacobian_sq_sum_(cot, x, true, d);
        return values(d);
    };
    const std::vector<double> one = run(1), two = run(2);
    set_num_threads(saved);
    EXPECT_EQ(one, two);
}

TEST(LinearJacobian, RejectsBadArguments) {
    Tensor cot = random_tensor({2, 3, 4}, DType::f32, 1), x = random_tensor({3, 5}, DType::f32, 2);
    Tensor out = Tensor::empty({3, 2, 24});
    const char* op = "linear_jacobian_into";
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_into(cot.view({6, 4}), x, true, out);
        },
        {op, "cot", "rank 3", "[6, 4]"}));
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot, x.view({15}), true, out); },
                             {op, "x", "rank 2", "[15]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_into(cot, random_tensor({4, 5}, DType::f32, 3), true, out);
        },
        {op, "differ in N", "[2, 3, 4]", "[4, 5]"}));
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot, x.to(DType::f64), true, out); },
                             {op, "dtypes differ", "x", "cot"}));
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot, x, false, out); },
                             {op, "out must be [N, K, P] = [3, 2, 20]", "[3, 2, 24]"}));
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot, x, true, out.to(DType::f64)); },
                             {op, "dtypes differ", "out"}));
    Tensor wide = Tensor::empty({3, 2, 48});
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot, x, true, wide.slice(2, 0, 48, 2)); },
                             {op, "unit last stride", "[3, 2, 24]"}));
    EXPECT_TRUE(throws_error([&] { linear_jacobian_into(cot.to(DType::i64), x, true, out); },
                             {op, "cot", "f32 or f64"}));

    const char* sop = "linear_jacobian_subset_into";
    Tensor sout = Tensor::empty({3, 2, 2});
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true,
                                        Tensor::from_vector(std::vector<i64>{0, 24}, {2}), sout);
        },
        {sop, "index out of range", "index[1] = 24", "P = 24"}));
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true,
                                        Tensor::from_vector(std::vector<i64>{-1, 2}, {2}), sout);
        },
        {sop, "index out of range", "index[0] = -1"}));
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true,
                                        Tensor::from_vector(std::vector<double>{0, 1}, {2}), sout);
        },
        {sop, "index", "wrong dtype"}));
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true,
                                        Tensor::from_vector(std::vector<i64>{0, 1, 2}, {3}), sout);
        },
        {sop, "out must be [N, K, S] = [3, 2, 3]", "[3, 2, 2]"}));

    const char* qop = "linear_jacobian_sq_sum_";
    EXPECT_TRUE(throws_error([&] { linear_jacobian_sq_sum_(cot, x, true, Tensor::zeros({20})); },
                             {qop, "diag must be [P] = [24]", "[20]"}));
    EXPECT_TRUE(throws_error(
        [&] { linear_jacobian_sq_sum_(cot, x, true, Tensor::zeros({24}, DType::f64)); },
        {qop, "dtypes differ", "diag"}));
}

// ---- Conv2d ---------------------------------------------------------------------------------

TEST(Conv2dJacobian, MatchesReferenceAllForms) {
    const ConvShape shapes[] = {
        {2, 3, 4, 3, 6, 5, 3, 3, {1, 1, 1, 1, 1, 1}, true},
        {3, 2, 5, 2, 7, 8, 3, 2, {2, 1, 0, 1, 1, 1}, false},  // stride, asymmetric kernel
        {2, 2, 3, 2, 9, 9, 3, 3, {1, 2, 2, 1, 2, 1}, true},   // dilation, padding
        {1, 4, 2, 3, 5, 5, 1, 1, {1, 1, 0, 0, 1, 1}, true},   // pointwise
        {2, 1, 2, 2, 4, 4, 4, 4, {1, 1, 0, 0, 1, 1}, false},  // 1x1 output
        {2, 2, 3, 2, 5, 6, 2, 3, {3, 2, 2, 3, 1, 2}, true},   // padding beyond the taps
    };
    std::uint64_t seed = 100;
    for (DType dt : kDtypes)
        for (const ConvShape& s : shapes) {
            check_all(conv_case(s, dt, seed), seed, seed % 2 == 0);
            ++seed;
        }
}

TEST(Conv2dJacobian, NonContiguousInputs) {
    const ConvShape s{2, 3, 3, 2, 6, 6, 3, 3, {1, 1, 1, 1, 1, 1}, true};
    for (DType dt : kDtypes) check_all(conv_case(s, dt, 131, true), 131);
}

TEST(Conv2dJacobian, EmptySizes) {
    for (DType dt : kDtypes) {
        check_all(conv_case({0, 2, 3, 2, 5, 5, 3, 3, {}, true}, dt, 141), 141);
        check_all(conv_case({2, 0, 3, 2, 5, 5, 3, 3, {}, true}, dt, 142), 142);
        check_all(conv_case({2, 2, 3, 0, 5, 5, 3, 3, {}, true}, dt, 143), 143);  // I = 0: bias only
        check_all(conv_case({2, 2, 0, 2, 5, 5, 3, 3, {}, true}, dt, 144), 144);  // O = 0: P = 0
    }
}

TEST(Conv2dJacobian, SqSumIsIndependentOfThreadCount) {
    const int saved = num_threads();
    Tensor cot = random_tensor({4, 6, 8, 8, 8}, DType::f32, 151);
    Tensor x = random_tensor({6, 5, 8, 8}, DType::f32, 152);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Tensor d = Tensor::ones({8 * 5 * 9 + 8});
        conv2d_jacobian_sq_sum_(cot, x, 3, 3, {1, 1, 1, 1, 1, 1}, true, d);
        return values(d);
    };
    const std::vector<double> one = run(1), two = run(2);
    set_num_threads(saved);
    EXPECT_EQ(one, two);
}

TEST(Conv2dJacobian, RejectsBadArguments) {
    const Conv2dOptions pad1{1, 1, 1, 1, 1, 1};
    Tensor cot = random_tensor({2, 3, 4, 5, 5}, DType::f32, 1);
    Tensor x = random_tensor({3, 2, 5, 5}, DType::f32, 2);
    Tensor out = Tensor::empty({3, 2, 4 * 2 * 9 + 4});
    const char* op = "conv2d_jacobian_into";
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_jacobian_into(cot.view({2, 3, 4, 25}), x, 3, 3, pad1, true, out);
        },
        {op, "cot", "rank 5", "[2, 3, 4, 25]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_jacobian_into(cot, x.view({3, 2, 25}), 3, 3, pad1, true, out);
        },
        {op, "x", "rank 4", "[3, 2, 25]"}));
    EXPECT_TRUE(
        throws_error([&] { conv2d_jacobian_into(cot, x, 3, 3, Conv2dOptions{}, true, out); },
                     {op, "(H_out, W_out) = (3, 3)", "[3, 2, 5, 5]", "[2, 3, 4, 5, 5]"}));
    EXPECT_TRUE(throws_error([&] { conv2d_jacobian_into(cot, x, 0, 3, pad1, true, out); },
                             {op, "kernel size must be positive"}));
    EXPECT_TRUE(throws_error([&] { conv2d_jacobian_into(cot, x, 9, 3, pad1, true, out); },
                             {op, "kernel larger than padded input", "[3, 2, 5, 5]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_jacobian_into(cot, x, 3, 3, {0, 1, 1, 1, 1, 1}, true, out);
        },
        {op, "stride must be positive"}));
    EXPECT_TRUE(
        throws_error([&] { conv2d_jacobian_into(cot, x.to(DType::f64), 3, 3, pad1, true, out); },
                     {op, "dtypes differ", "x"}));
    EXPECT_TRUE(throws_error([&] { conv2d_jacobian_into(cot, x, 3, 3, pad1, false, out); },
                             {op, "out must be [N, K, P] = [3, 2, 72]", "[3, 2, 76]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            conv2d_jacobian_subset_into(cot, x, 3, 3, pad1, true,
                                        Tensor::from_vector(std::vector<i64>{76}, {1}),
                                        Tensor::empty({3, 2, 1}));
        },
        {"conv2d_jacobian_subset_into", "index out of range", "index[0] = 76", "P = 76"}));
    EXPECT_TRUE(throws_error(
        [&] { conv2d_jacobian_sq_sum_(cot, x, 3, 3, pad1, true, Tensor::zeros({72})); },
        {"conv2d_jacobian_sq_sum_", "diag must be [P] = [76]", "[72]"}));
}

// ---- channel affine -------------------------------------------------------------------------

TEST(ChannelAffineJacobian, MatchesReferenceAllForms) {
    std::uint64_t seed = 200;
    for (DType dt : kDtypes) {
        check_all(affine_case(3, 4, 5, 3, 4, dt, seed), seed, true);
        check_all(affine_case(1, 1, 1, 1, 1, dt, seed + 1), seed + 1);
        check_all(affine_case(4, 3, 6, 2, 2, dt, seed + 2, true), seed + 2);
        seed += 3;
    }
}

TEST(ChannelAffineJacobian, EmptySizes) {
    for (DType dt : kDtypes) {
        check_all(affine_case(0, 2, 3, 2, 2, dt, 211), 211);
        check_all(affine_case(2, 0, 3, 2, 2, dt, 212), 212);
        check_all(affine_case(2, 2, 0, 2, 2, dt, 213), 213);
        check_all(affine_case(2, 2, 3, 0, 2, dt, 214), 214);  // empty planes: J = 0
    }
}

TEST(ChannelAffineJacobian, RejectsBadArguments) {
    Tensor cot = random_tensor({2, 3, 4, 2, 2}, DType::f32, 1);
    Tensor xhat = random_tensor({3, 4, 2, 2}, DType::f32, 2);
    const char* op = "channel_affine_jacobian_into";
    EXPECT_TRUE(throws_error(
        [&] {
            channel_affine_jacobian_into(cot, random_tensor({3, 5, 2, 2}, DType::f32, 3),
                                         Tensor::empty({3, 2, 8}));
        },
        {op, "cot must be [K, ...xhat's shape]", "[2, 3, 4, 2, 2]", "[3, 5, 2, 2]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            channel_affine_jacobian_into(cot, xhat, Tensor::empty({3, 2, 4}));
        },
        {op, "out must be [N, K, 2C] = [3, 2, 8]", "[3, 2, 4]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            channel_affine_jacobian_into(cot, xhat.view({3, 4, 4}), Tensor::empty({3, 2, 8}));
        },
        {op, "xhat", "rank 4", "[3, 4, 4]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            channel_affine_jacobian_subset_into(
                cot, xhat, Tensor::from_vector(std::vector<i64>{8}, {1}), Tensor::empty({3, 2, 1}));
        },
        {"channel_affine_jacobian_subset_into", "index out of range", "index[0] = 8", "P = 8"}));
    EXPECT_TRUE(
        throws_error([&] { channel_affine_jacobian_sq_sum_(cot, xhat, Tensor::zeros({4})); },
                     {"channel_affine_jacobian_sq_sum_", "diag must be [P] = [8]", "[4]"}));
}

// ---- the two roads agree (STYLE 3.9 invariance, f64) -------------------------------------------

// With jac = ∂y[n, ...] / ∂θ from autodiff, the kernel's rows are J[n, k, :] = Σ_out cot[k, n,
// out]·jac[n, out, :]. Both sides are exact sums of a few products: 1e-12 is rounding only.
TEST(CurvatureKernels, MatchAutodiffJacobian) {
    const DType dt = DType::f64;
    {  // Linear 3 → 2 with bias, N = 2, K = 3.
        const i64 n = 2, in = 3, o = 2, k = 3, p = o * in + o;
        Tensor x = random_tensor({n, in}, dt, 301), theta = random_tensor({p}, dt, 302);
        Tensor cot = random_tensor({k, n, o}, dt, 303);
        auto f = [&](const Var& th) {
            Var w = reshape(slice(th, 0, 0, o * in), {o, in});
            Var b = slice(th, 0, o * in, p);
            return add(matmul(Var(x), transpose(w, 0, 1)), b);
        };
        const std::vector<double> jac = values(jacobian(f, theta));  // [N, O, P]
        std::vector<double> expected(static_cast<std::size_t>(n * k * p), 0.0), c = values(cot);
        for (i64 a = 0; a < n; ++a)
            for (i64 b = 0; b < k; ++b)
                for (i64 u = 0; u < o; ++u)
                    for (i64 j = 0; j < p; ++j)
                        expected[static_cast<std::size_t>((a * k + b) * p + j)] +=
                            c[static_cast<std::size_t>((b * n + a) * o + u)] *
                            jac[static_cast<std::size_t>((a * o + u) * p + j)];
        Tensor out = Tensor::empty({n, k, p}, dt);
        linear_jacobian_into(cot, x, true, out);
        EXPECT_TRUE(all_close(out, Tensor::from_vector(expected, {n, k, p}), 1e-12, 1e-12));
    }
    {  // Conv2d 2 → 2 channels, 3x3, stride 2, padding 1, with bias, N = 2, K = 2.
        const i64 n = 2, in = 2, o = 2, k = 2, kh = 3, kw = 3, p = o * in * kh * kw + o;
        const Conv2dOptions opt{2, 2, 1, 1, 1, 1};
        Tensor x = random_tensor({n, in, 5, 4}, dt, 311), theta = random_tensor({p}, dt, 312);
        auto f = [&](const Var& th) {
            Var w = reshape(slice(th, 0, 0, p - o), {o, in, kh, kw});
            return conv2d(Var(x), w, slice(th, 0, p - o, p), opt);
        };
        Tensor jac_t = jacobian(f, theta);  // [N, O, H_out, W_out, P]
        const i64 hw = jac_t.size(2) * jac_t.size(3), rows = o * hw;
        Tensor cot = random_tensor({k, n, o, jac_t.size(2), jac_t.size(3)}, dt, 313);
        const std::vector<double> jac = values(jac_t), c = values(cot);
        std::vector<double> expected(static_cast<std::size_t>(n * k * p), 0.0);
        for (i64 a = 0; a < n; ++a)
            for (i64 b = 0; b < k; ++b)
                for (i64 r = 0; r < rows; ++r)
                    for (i64 j = 0; j < p; ++j)
                        expected[static_cast<std::size_t>((a * k + b) * p + j)] +=
                            c[static_cast<std::size_t>((b * n + a) * rows + r)] *
                            jac[static_cast<std::size_t>((a * rows + r) * p + j)];
        Tensor out = Tensor::empty({n, k, p}, dt);
        conv2d_jacobian_into(cot, x, kh, kw, opt, true, out);
        EXPECT_TRUE(all_close(out, Tensor::from_vector(expected, {n, k, p}), 1e-12, 1e-12));
    }
}

}  // namespace
}  // namespace postr
