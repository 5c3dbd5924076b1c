// Reductions on the CPU against naive f64 references: random shapes and dim sets, keepdim,
// negative dims, non-contiguous inputs, empty and rank-0 tensors, edge values, thread-count
// reproducibility, f32 accuracy, and error messages.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
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

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using RowFn = std::function<double(const std::vector<double>&)>;

// Naive reference: groups x's elements (row-major) by their position in the kept dims, then
// applies fn to each group (in row-major order of the reduced dims). Returns an f64 tensor.
Tensor reference(const Tensor& x, std::vector<int> dims, bool keepdim, const RowFn& fn) {
    const int rank = x.dim();
    std::vector<bool> reduced(static_cast<std::size_t>(rank), dims.empty());
    for (int d : dims) reduced[static_cast<std::size_t>(d < 0 ? d + rank : d)] = true;
    Shape out_shape, kept_sizes;
    for (int d = 0; d < rank; ++d) {
        if (!reduced[static_cast<std::size_t>(d)]) kept_sizes.push_back(x.size(d));
        if (keepdim || !reduced[static_cast<std::size_t>(d)])
            out_shape.push_back(reduced[static_cast<std::size_t>(d)] ? 1 : x.size(d));
    }
    std::vector<std::vector<double>> groups(static_cast<std::size_t>(numel(kept_sizes)));
    std::vector<double> v = x.to_vector<double>();
    std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
    for (double value : v) {
        std::int64_t g = 0;
        for (int d = 0; d < rank; ++d)
            if (!reduced[static_cast<std::size_t>(d)])
                g = g * x.size(d) + idx[static_cast<std::size_t>(d)];
        groups[static_cast<std::size_t>(g)].push_back(value);
        for (int d = rank - 1; d >= 0; --d) {
            if (++idx[static_cast<std::size_t>(d)] < x.size(d)) break;
            idx[static_cast<std::size_t>(d)] = 0;
        }
    }
    std::vector<double> out;
    for (const auto& g : groups) out.push_back(fn(g));
    return Tensor::from_vector(out, out_shape);
}

double ref_sum(const std::vector<double>& r) {
    double s = 0;
    for (double v : r) s += v;
    return s;
}
double ref_mean(const std::vector<double>& r) { return ref_sum(r) / static_cast<double>(r.size()); }
double ref_var(const std::vector<double>& r, std::int64_t correction) {
    double m = ref_mean(r), ss = 0;
    for (double v : r) ss += (v - m) * (v - m);
    return ss / static_cast<double>(static_cast<std::int64_t>(r.size()) - correction);
}
double ref_logsumexp(const std::vector<double>& r) {
    double m = -kInf, s = 0;
    for (double v : r) m = std::max(m, v);
    for (double v : r) s += std::exp(v - m);
    return m + std::log(s);
}

// The layouts every case runs on: contiguous, strided and (rank ≥ 2) transposed.
std::vector<Tensor> layouts(const Tensor& x) {
    std::vector<Tensor> out = {x, test::strided_copy(x)};
    if (x.dim() >= 2) out.push_back(test::transposed_copy(x));
    return out;
}

struct Case {
    Shape shape;
    std::vector<int> dims;
};
const std::vector<Case> kCases = {
    {{7}, {}},
    {{7}, {0}},
    {{5, 6}, {1}},
    {{5, 6}, {0}},
    {{5, 6}, {-1, 0}},
    {{3, 4, 5}, {1}},
    {{3, 4, 5}, {0, 2}},
    {{3, 4, 5}, {-2}},
    {{2, 3, 4, 5}, {0, 2, 3}},
    {{2, 1, 4, 3}, {1, -1}},
    {{4, 300}, {1}},
    {{300, 3}, {0}},
};

// Random values in [−1, 1] over rows of at most n elements: the cascade's error is about
// (16 + log2(n))·ε·Σ|x| ≤ 32·ε·n; 32·ε·n is far below the change one wrong element makes.
double sum_atol(DType dtype, std::int64_t n) {
    return 32.0 * (dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64) * static_cast<double>(n);
}

void check_against_reference(const char* what,
                             const std::function<Tensor(const Tensor&, const Case&, bool)>& op,
                             const std::function<RowFn(const Case&)>& ref, double rtol_f32,
                             double rtol_f64) {
    std::uint64_t seed = 1;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (const Case& c : kCases) {
            for (bool keepdim : {false, true}) {
                Tensor x = random_tensor(c.shape, dtype, ++seed);
                Tensor expected = reference(x, c.dims, keepdim, ref(c));
                for (const Tensor& xl : layouts(x)) {
                    SCOPED_TRACE(::testing::Message()
                                 << what << " " << dtype_name(dtype) << " shape "
                                 << to_string(c.shape) << " keepdim " << keepdim << " seed " << seed
                                 << " contiguous " << xl.is_contiguous());
                    Tensor got = op(xl, c, keepdim);
                    EXPECT_EQ(got.dtype(), dtype);
                    double rtol = dtype == DType::f32 ? rtol_f32 : rtol_f64;
                    EXPECT_TRUE(all_close(got, expected, rtol, sum_atol(dtype, x.numel())));
                }
            }
        }
    }
}

TEST(Sum, MatchesReferenceOverDimsLayoutsAndKeepdim) {
    check_against_reference(
        "sum", [](const Tensor& x, const Case& c, bool k) { return sum(x, c.dims, k); },
        [](const Case&) { return RowFn(ref_sum); }, 0, 0);
}

TEST(Mean, MatchesReferenceOverDimsLayoutsAndKeepdim) {
    check_against_reference(
        "mean", [](const Tensor& x, const Case& c, bool k) { return mean(x, c.dims, k); },
        [](const Case&) { return RowFn(ref_mean); }, 0, 0);
}

TEST(Var, MatchesReferenceWithBothCorrections) {
    for (std::int64_t correction : {0, 1}) {
        // Two passes: the deviations carry the mean's rounding, a few ε relative.
        check_against_reference(
            "var",
            [=](const Tensor& x, const Case& c, bool k) { return var(x, c.dims, correction, k); },
            [=](const Case&) {
                return RowFn([=](const std::vector<double>& r) { return ref_var(r, correction); });
            },
            1e-5, 1e-13);
    }
}

TEST(Logsumexp, MatchesReferenceOverDimsLayoutsAndKeepdim) {
    // exp and log add a few ulp per element on top of the sum's rounding.
    check_against_reference(
        "logsumexp", [](const Tensor& x, const Case& c, bool k) { return logsumexp(x, c.dims, k); },
        [](const Case&) { return RowFn(ref_logsumexp); }, 1e-6, 1e-13);
}

TEST(Norm, MatchesReferenceForEachP) {
    auto pnorm = [](double p) {
        return RowFn([=](const std::vector<double>& r) {
            double s = 0;
            for (double v : r)
                s = p == kInf ? std::max(s, std::abs(v)) : s + std::pow(std::abs(v), p);
            return p == kInf ? s : std::pow(s, 1.0 / p);
        });
    };
    for (double p : {1.0, 2.0, kInf}) {
        check_against_reference(
            "norm", [=](const Tensor& x, const Case& c, bool k) { return norm(x, p, c.dims, k); },
            [=](const Case&) { return pnorm(p); }, 1e-6, 1e-13);
    }
}

TEST(Norm, DoesNotOverflowOrUnderflowInF32) {
    Tensor big = Tensor::from_vector(std::vector<float>{3e30f, -4e30f}, {2});
    EXPECT_NEAR(norm(big).item(), 5e30, 5e30 * 1e-6);
    Tensor tiny = Tensor::from_vector(std::vector<float>{3e-30f, 4e-30f}, {2});
    EXPECT_NEAR(norm(tiny).item(), 5e-30, 5e-30 * 1e-6);
    Tensor inf = Tensor::from_vector(std::vector<float>{1.0f, -INFINITY}, {2});
    EXPECT_EQ(norm(inf).item(), kInf);
    EXPECT_EQ(norm(Tensor::zeros({3})).item(), 0.0);
    EXPECT_TRUE(
        std::isnan(norm(Tensor::from_vector(std::vector<double>{1, kNaN, kInf}, {3})).item()));
}

TEST(Norm, RejectsUnsupportedP) {
    EXPECT_TRUE(throws_error([] { norm(Tensor::ones({3}), 3.0); }, {"norm", "p", "3"}));
}

TEST(Sum, EmptyIsZeroAndMeanOfEmptyIsNaN) {
    Tensor e = Tensor::zeros({0, 3});
    EXPECT_EQ(sum(e).item(), 0.0);
    EXPECT_TRUE(all_close(sum(e, {0}), Tensor::zeros({3}), 0, 0));
    EXPECT_EQ(sum(e, {1}).shape(), Shape({0}));
    EXPECT_TRUE(std::isnan(mean(e).item()));
    EXPECT_EQ(logsumexp(e, {0}).to_vector<double>(), std::vector<double>(3, -kInf));
    EXPECT_EQ(norm(e).item(), 0.0);
    EXPECT_TRUE(std::isnan(var(e).item()));
}

TEST(Sum, RankZeroReducesToItself) {
    Tensor s = Tensor::scalar(2.5, DType::f64);
    EXPECT_EQ(sum(s).item(), 2.5);
    EXPECT_EQ(sum(s, {0}).shape(), Shape({}));
    EXPECT_EQ(sum(s, {-1}, true).shape(), Shape({}));
    EXPECT_EQ(mean(s).item(), 2.5);
    EXPECT_EQ(max(s).item(), 2.5);
    EXPECT_EQ(argmax(s, 0).item(), 0.0);
    EXPECT_TRUE(std::isnan(var(s).item()));  // one element, correction 1
    EXPECT_EQ(var(s, {}, 0).item(), 0.0);
}

TEST(Sum, OfI64IsExactI64) {
    Tensor x = test::random_ints({40, 50}, -1'000'000'000'000, 1'000'000'000'000, 7);
    Tensor s = sum(x, {1});
    EXPECT_EQ(s.dtype(), DType::i64);
    std::vector<std::int64_t> v = x.to_vector<std::int64_t>(), got = s.to_vector<std::int64_t>();
    for (int r = 0; r < 40; ++r) {
        std::int64_t e = 0;
        for (int c = 0; c < 50; ++c) e += v[static_cast<std::size_t>(r * 50 + c)];
        EXPECT_EQ(got[static_cast<std::size_t>(r)], e);
    }
}

TEST(Sum, IsBitwiseIdenticalForOneAndTwoThreads) {
    const int saved = num_threads();
    // A single long row (chunked path), many short rows, and a strided column reduction.
    Tensor a = random_tensor({(1 << 20) + 37}, DType::f32, 11, -1e3, 1e3);
    Tensor b = random_tensor({300, 5000}, DType::f32, 12);
    auto run = [&] {
        std::vector<Tensor> r = {sum(a),           sum(b, {1}),       sum(b, {0}),
                                 var(a),           logsumexp(a, {0}), norm(b, 2.0, {1}),
                                 max(a, 0).indices};
        return r;
    };
    set_num_threads(1);
    std::vector<Tensor> one = run();
    set_num_threads(2);
    std::vector<Tensor> two = run();
    set_num_threads(saved);
    for (std::size_t k = 0; k < one.size(); ++k) {
        SCOPED_TRACE(k);
        ASSERT_EQ(one[k].nbytes(), two[k].nbytes());
        EXPECT_EQ(std::memcmp(one[k].data_ptr(), two[k].data_ptr(), one[k].nbytes()), 0);
    }
}

TEST(Sum, F32IsAccurateOverTenMillionElements) {
    // A naive running f32 sum of 1e7 copies of 0.1f is off by about 9%; the cascade is not.
    const std::int64_t n = 10'000'000;
    Tensor x = Tensor::full({n}, 0.1, DType::f32);
    double exact = static_cast<double>(n) * static_cast<double>(0.1f);
    EXPECT_LT(std::abs(sum(x).item() - exact) / exact, 1e-6);
    EXPECT_LT(std::abs(mean(x).item() - static_cast<double>(0.1f)) / 0.1, 1e-6);
    EXPECT_LT(std::abs(sum(x.view({1000, 10000}), {0, 1}).item() - exact) / exact, 1e-6);
}

TEST(Var, IsExactForConstantRowsWithALargeOffset) {
    Tensor x = Tensor::full({4, 1000}, 1e6, DType::f32);
    EXPECT_TRUE(all_close(var(x, {1}), Tensor::zeros({4}), 0, 0));
}

TEST(Logsumexp, IsStableForLargeAndInfiniteValues) {
    Tensor big = Tensor::from_vector(std::vector<float>{1000.0f, 1000.0f}, {1, 2});
    EXPECT_NEAR(logsumexp(big, {1}).item(), 1000.0 + std::log(2.0), 1e-4);
    Tensor small = Tensor::from_vector(std::vector<double>{-1000.0, -1000.0}, {2});
    EXPECT_NEAR(logsumexp(small, {0}).item(), -1000.0 + std::log(2.0), 1e-12);
    // Rows: all −inf, one −inf, +inf, NaN.
    Tensor edge = Tensor::from_vector(
        std::vector<double>{-kInf, -kInf, -kInf, 0.0, kInf, 1.0, kNaN, 1.0}, {4, 2});
    std::vector<double> got = logsumexp(edge, {1}).to_vector<double>();
    EXPECT_EQ(got[0], -kInf);
    EXPECT_NEAR(got[1], 0.0, 1e-15);
    EXPECT_EQ(got[2], kInf);
    EXPECT_TRUE(std::isnan(got[3]));
}

TEST(Logsumexp, MatchesReferenceOnAChunkedRow) {
    Tensor x = random_tensor({3, 100'000}, DType::f64, 5, -50, 50);
    EXPECT_TRUE(all_close(logsumexp(x, {1}), reference(x, {1}, false, ref_logsumexp), 1e-13, 0));
    EXPECT_TRUE(all_close(norm(x, 2.0, {1}),
                          reference(x, {1}, false,
                                    [](const std::vector<double>& r) {
                                        double s = 0;
                                        for (double v : r) s += v * v;
                                        return std::sqrt(s);
                                    }),
                          1e-13, 0));
}

TEST(Max, AllElementsAndNaNPropagates) {
    Tensor x = Tensor::from_vector(std::vector<double>{3, -1, 7, 2}, {2, 2});
    EXPECT_EQ(max(x).item(), 7.0);
    EXPECT_EQ(min(x).item(), -1.0);
    EXPECT_EQ(max(x).shape(), Shape({}));
    EXPECT_EQ(max(x.t()).item(), 7.0);
    Tensor n = Tensor::from_vector(std::vector<float>{1, NAN, 5}, {3});
    EXPECT_TRUE(std::isnan(max(n).item()));
    EXPECT_TRUE(std::isnan(min(n).item()));
    Tensor i = Tensor::from_vector(std::vector<std::int64_t>{4, -9, 12}, {3});
    EXPECT_EQ(max(i).item<std::int64_t>(), 12);
    EXPECT_EQ(min(i).item<std::int64_t>(), -9);
}

TEST(Max, OfEmptyThrows) {
    EXPECT_TRUE(throws_error([] { max(Tensor::zeros({0, 3})); }, {"max", "empty", "[0, 3]"}));
    EXPECT_TRUE(throws_error([] { min(Tensor::zeros({0})); }, {"min", "empty", "[0]"}));
    EXPECT_TRUE(throws_error([] { max(Tensor::zeros({2, 0}), 1); }, {"max", "[2, 0]"}));
    EXPECT_TRUE(throws_error([] { argmin(Tensor::zeros({0, 2}), 0); }, {"argmin", "[0, 2]"}));
}

TEST(Max, AlongDimMatchesReferenceWithFirstIndex) {
    std::uint64_t seed = 100;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (const Shape& shape : {Shape{9}, Shape{4, 7}, Shape{3, 5, 6}, Shape{2, 40'000}}) {
            for (int dim = -static_cast<int>(shape.size()); dim < static_cast<int>(shape.size());
                 ++dim) {
                // Few distinct values, so ties are common and the first index is tested.
                Tensor x = test::random_ints(shape, -3, 4, ++seed).to(dtype);
                for (bool largest : {true, false}) {
                    auto best = [&](const std::vector<double>& r, bool want_index) {
                        std::size_t bi = 0;
                        for (std::size_t i = 1; i < r.size(); ++i)
                            if (largest ? r[i] > r[bi] : r[i] < r[bi]) bi = i;
                        return want_index ? static_cast<double>(bi) : r[bi];
                    };
                    for (const Tensor& xl : layouts(x)) {
                        for (bool keepdim : {false, true}) {
                            SCOPED_TRACE(::testing::Message() << to_string(shape) << " dim " << dim
                                                              << " largest " << largest);
                            ValuesIndices got =
                                largest ? max(xl, dim, keepdim) : min(xl, dim, keepdim);
                            EXPECT_EQ(got.indices.dtype(), DType::i64);
                            auto rv = [&](const std::vector<double>& r) { return best(r, false); };
                            auto ri = [&](const std::vector<double>& r) { return best(r, true); };
                            EXPECT_TRUE(
                                all_close(got.values, reference(x, {dim}, keepdim, rv), 0, 0));
                            EXPECT_TRUE(
                                all_close(got.indices, reference(x, {dim}, keepdim, ri), 0, 0));
                            Tensor arg =
                                largest ? argmax(xl, dim, keepdim) : argmin(xl, dim, keepdim);
                            EXPECT_TRUE(all_close(arg, got.indices, 0, 0));
                        }
                    }
                }
            }
        }
    }
}

TEST(Max, AlongDimTreatsNaNAsTheExtremum) {
    Tensor x =
        Tensor::from_vector(std::vector<double>{1, kNaN, 9, kNaN, 2, 5, -kInf, kInf}, {2, 4});
    ValuesIndices mx = max(x, 1), mn = min(x, 1);
    EXPECT_EQ(mx.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 3}));
    EXPECT_EQ(mn.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2}));
    EXPECT_TRUE(std::isnan(mx.values.to_vector<double>()[0]));
    EXPECT_EQ(mn.values.to_vector<double>()[1], -kInf);
    // A NaN far along a chunked row.
    Tensor long_row = Tensor::zeros({100'000}, DType::f32);
    long_row.narrow(0, 70'000, 1).fill_(NAN);
    long_row.narrow(0, 80'000, 1).fill_(NAN);
    EXPECT_EQ(argmax(long_row, 0).item(), 70'000.0);
    EXPECT_EQ(argmin(long_row, 0).item(), 70'000.0);
}

TEST(AllFinite, DetectsNaNAndInfinityInAnyLayout) {
    Tensor x = random_tensor({50, 70'000}, DType::f32, 3);
    EXPECT_TRUE(all_finite(x));
    EXPECT_TRUE(all_finite(x.t()));
    EXPECT_TRUE(all_finite(Tensor::zeros({0})));
    EXPECT_TRUE(all_finite(test::random_ints({5}, 0, 9, 1)));
    x.select(0, 49).narrow(0, 69'999, 1).fill_(INFINITY);
    EXPECT_FALSE(all_finite(x));
    EXPECT_FALSE(all_finite(x.t()));
    EXPECT_TRUE(all_finite(x.narrow(0, 0, 49)));
    Tensor y = Tensor::from_vector(std::vector<double>{0, 1, kNaN}, {3});
    EXPECT_FALSE(all_finite(y));
}

TEST(CheckFinite, NamesOpArgumentIndexAndValue) {
    Tensor ok = Tensor::ones({2, 3});
    EXPECT_NO_THROW(check_finite("sgld", "theta", ok));
    Tensor bad = Tensor::from_vector(std::vector<double>{0, 1, 2, kInf, kNaN, 5}, {2, 3});
    EXPECT_TRUE(
        throws_error([&] { check_finite("sgld", "theta", bad); },
                     {"sgld: theta contains non-finite values", "flat index 3", "inf", "[2, 3]"}));
}

TEST(Reduction, BadDimNamesOpAndRank) {
    Tensor x = Tensor::zeros({2, 3});
    EXPECT_TRUE(throws_error([&] { sum(x, {2}); }, {"sum", "dim 2", "rank 2"}));
    EXPECT_TRUE(throws_error([&] { mean(x, {-3}); }, {"mean", "dim -3", "rank 2"}));
    EXPECT_TRUE(throws_error([&] { max(x, 5); }, {"max", "dim 5", "rank 2"}));
    EXPECT_TRUE(throws_error([&] { argmin(x, -3); }, {"argmin", "rank 2"}));
    EXPECT_TRUE(throws_error([&] { logsumexp(x, {0, -2}); }, {"logsumexp", "twice", "[2, 3]"}));
}

TEST(Reduction, FloatingOnlyOpsRejectI64) {
    Tensor i = test::random_ints({3}, 0, 5, 1);
    EXPECT_TRUE(throws_error([&] { mean(i); }, {"mean", "i64"}));
    EXPECT_TRUE(throws_error([&] { var(i); }, {"var", "i64"}));
    EXPECT_TRUE(throws_error([&] { logsumexp(i, {0}); }, {"logsumexp", "i64"}));
    EXPECT_TRUE(throws_error([&] { norm(i); }, {"norm", "i64"}));
}

}  // namespace
}  // namespace postr
