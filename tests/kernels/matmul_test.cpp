// matmul and gemm_ on the CPU against a naive f64 triple loop: shapes with M/N/K = 1 and 0,
// transposed and strided operands, broadcast batches, rank-1 operands, α/β, and error messages.
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::random_tensor;

// The exact product and the sum of absolute terms Σ_k |a_ik·b_kj|, which bounds rounding.
struct Reference {
    std::vector<double> value;
    std::vector<double> abs_sum;
};

// a: [B, M, K], b: [B, K, N] given in row-major order.
Reference naive_matmul(const std::vector<double>& a, const std::vector<double>& b,
                       std::int64_t batches, std::int64_t m, std::int64_t k, std::int64_t n) {
    Reference r{std::vector<double>(static_cast<std::size_t>(batches * m * n), 0.0),
                std::vector<double>(static_cast<std::size_t>(batches * m * n), 0.0)};
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double s = 0, s_abs = 0;
                for (std::int64_t q = 0; q < k; ++q) {
                    const double t = a[static_cast<std::size_t>((p * m + i) * k + q)] *
                                     b[static_cast<std::size_t>((p * k + q) * n + j)];
                    s += t;
                    s_abs += std::abs(t);
                }
                r.value[static_cast<std::size_t>((p * m + i) * n + j)] = s;
                r.abs_sum[static_cast<std::size_t>((p * m + i) * n + j)] = s_abs;
            }
    return r;
}

// matmul's expected result for any a, b of rank >= 2 (batch dims broadcast).
Reference reference_matmul(const Tensor& a, const Tensor& b) {
    Shape batch = broadcast_shapes("test", Shape(a.shape().begin(), a.shape().end() - 2),
                                   Shape(b.shape().begin(), b.shape().end() - 2));
    const std::int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
    Shape sa = batch, sb = batch;
    sa.insert(sa.end(), {m, k});
    sb.insert(sb.end(), {k, n});
    return naive_matmul(a.expand(sa).to_vector<double>(), b.expand(sb).to_vector<double>(),
                        numel(batch), m, k, n);
}

double eps_of(DType t) { return t == DType::f64 ? test::kEpsF64 : test::kEpsF32; }

// |actual − value| ≤ (K+1)·ε·Σ|terms| per element: K roundings in the sum plus one in the
// product (sum_tolerance's worst-case n·ε bound). Exact where the sum of terms is zero.
::testing::AssertionResult matches(const Tensor& actual, const Reference& ref, std::int64_t k) {
    const std::vector<double> got = actual.to_vector<double>();
    if (got.size() != ref.value.size())
        return ::testing::AssertionFailure()
               << "sizes differ: " << got.size() << " vs " << ref.value.size();
    const double eps = eps_of(actual.dtype());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double tol = test::sum_tolerance(static_cast<double>(k + 1), eps, ref.abs_sum[i]);
        if (!(std::abs(got[i] - ref.value[i]) <= tol))
            return ::testing::AssertionFailure()
                   << "element " << i << ": got " << got[i] << ", expected " << ref.value[i]
                   << " (tolerance " << tol << ")";
    }
    return ::testing::AssertionSuccess();
}

class MatmulDtype : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulDtype, MatchesReferenceAcrossShapes) {
    const DType dt = GetParam();
    const std::vector<std::array<std::int64_t, 3>> shapes = {{1, 1, 1},   {1, 5, 1},   {3, 4, 2},
                                                             {7, 1, 5},   {1, 8, 6},   {6, 8, 1},
                                                             {17, 33, 9}, {64, 65, 31}};
    std::uint64_t seed = 1;
    for (const auto& [m, k, n] : shapes) {
        SCOPED_TRACE(testing::Message()
                     << "M=" << m << " K=" << k << " N=" << n << " seed " << seed);
        const Tensor a = random_tensor({m, k}, dt, seed++);
        const Tensor b = random_tensor({k, n}, dt, seed++);
        const Tensor c = matmul(a, b);
        EXPECT_EQ(c.shape(), (Shape{m, n}));
        EXPECT_EQ(c.dtype(), dt);
        EXPECT_TRUE(matches(c, reference_matmul(a, b), k));
    }
}

TEST_P(MatmulDtype, ZeroInnerDimensionGivesZeros) {
    const Tensor a = Tensor::empty({3, 0}, GetParam());
    const Tensor b = Tensor::empty({0, 4}, GetParam());
    const Tensor c = matmul(a, b);
    EXPECT_EQ(c.shape(), (Shape{3, 4}));
    EXPECT_TRUE(test::all_close(c, Tensor::zeros({3, 4}, GetParam()), 0, 0));
}

TEST_P(MatmulDtype, EmptyOperandsGiveEmptyResults) {
    const DType dt = GetParam();
    EXPECT_EQ(matmul(Tensor::empty({0, 3, 4}, dt), Tensor::empty({4, 2}, dt)).shape(),
              (Shape{0, 3, 2}));
    EXPECT_EQ(matmul(Tensor::empty({0, 4}, dt), Tensor::empty({4, 2}, dt)).shape(), (Shape{0, 2}));
    EXPECT_EQ(matmul(Tensor::empty({3, 4}, dt), Tensor::empty({4, 0}, dt)).shape(), (Shape{3, 0}));
}

TEST_P(MatmulDtype, TransposedOperandsMatchReference) {
    const DType dt = GetParam();
    // a.t() and b.t() are views with strides (1, ld): passed to BLAS as transposes.
    const Tensor at = random_tensor({9, 5}, dt, 11);  // holds aᵀ
    const Tensor bt = random_tensor({7, 9}, dt, 12);  // holds bᵀ
    const Tensor a = random_tensor({5, 9}, dt, 13);
    const Tensor b = random_tensor({9, 7}, dt, 14);
    EXPECT_TRUE(matches(matmul(at.t(), b), reference_matmul(at.t(), b), 9));
    EXPECT_TRUE(matches(matmul(a, bt.t()), reference_matmul(a, bt.t()), 9));
    EXPECT_TRUE(matches(matmul(at.t(), bt.t()), reference_matmul(at.t(), bt.t()), 9));
    // Batched transposed layouts.
    const Tensor a3 = test::transposed_copy(random_tensor({3, 5, 9}, dt, 15));
    const Tensor b3 = test::transposed_copy(random_tensor({3, 9, 7}, dt, 16));
    EXPECT_TRUE(matches(matmul(a3, b3), reference_matmul(a3, b3), 9));
}

TEST_P(MatmulDtype, StridedOperandsMatchReference) {
    const DType dt = GetParam();
    // Column stride 2: no leading dim describes it, so it is copied before BLAS.
    const Tensor a = test::strided_copy(random_tensor({2, 6, 10}, dt, 21));
    const Tensor b = test::strided_copy(random_tensor({2, 10, 4}, dt, 22));
    EXPECT_TRUE(matches(matmul(a, b), reference_matmul(a, b), 10));
    // A row-sliced view (row stride 2·K) is BLAS-ready with ld = 2·K.
    const Tensor big = random_tensor({12, 10}, dt, 23);
    const Tensor rows = big.slice(0, 0, 12, 2);
    EXPECT_TRUE(matches(matmul(rows, b[0]), reference_matmul(rows, b[0]), 10));
    // A column slice keeps unit column stride with ld = 10.
    const Tensor cols = big.slice(1, 2, 8);
    const Tensor b6 = random_tensor({6, 3}, dt, 24);
    EXPECT_TRUE(matches(matmul(cols, b6), reference_matmul(cols, b6), 6));
}

TEST_P(MatmulDtype, ExpandedOperandsMatchReference) {
    const DType dt = GetParam();
    // Stride 0 inside the matrix (a broadcast column) must be materialized for BLAS.
    const Tensor col = random_tensor({8, 1}, dt, 31);
    const Tensor b = col.expand({8, 5});
    const Tensor a = random_tensor({4, 8}, dt, 32);
    EXPECT_TRUE(matches(matmul(a, b), reference_matmul(a, b), 8));
    const Tensor row = random_tensor({1, 8}, dt, 33).expand({4, 8});
    EXPECT_TRUE(matches(matmul(row, b), reference_matmul(row, b), 8));
}

TEST_P(MatmulDtype, BroadcastsBatchDims) {
    const DType dt = GetParam();
    const Tensor a = random_tensor({2, 1, 3, 4}, dt, 41);
    const Tensor b = random_tensor({5, 4, 2}, dt, 42);
    const Tensor c = matmul(a, b);
    EXPECT_EQ(c.shape(), (Shape{2, 5, 3, 2}));
    EXPECT_TRUE(matches(c, reference_matmul(a, b), 4));
    // A plain matrix against a batch, and a batch against a plain matrix.
    const Tensor m = random_tensor({4, 3}, dt, 43);
    EXPECT_EQ(matmul(a, m).shape(), (Shape{2, 1, 3, 3}));
    EXPECT_TRUE(matches(matmul(a, m), reference_matmul(a, m), 4));
    const Tensor w = random_tensor({3, 4}, dt, 44);
    EXPECT_TRUE(matches(matmul(w, b), reference_matmul(w, b), 4));
}

TEST_P(MatmulDtype, RankOneOperandsDropTheirDim) {
    const DType dt = GetParam();
    const Tensor v = random_tensor({4}, dt, 51);
    const Tensor w = random_tensor({4}, dt, 52);
    const Tensor m = random_tensor({4, 3}, dt, 53);
    const Tensor mt = random_tensor({3, 4}, dt, 54);
    const Tensor batch = random_tensor({2, 3, 4}, dt, 55);

    const Tensor vm = matmul(v, m);  // [4]·[4, 3] → [3]
    EXPECT_EQ(vm.shape(), (Shape{3}));
    EXPECT_TRUE(matches(vm, reference_matmul(v.unsqueeze(0), m), 4));
    const Tensor mv = matmul(mt, w);  // [3, 4]·[4] → [3]
    EXPECT_EQ(mv.shape(), (Shape{3}));
    EXPECT_TRUE(matches(mv, reference_matmul(mt, w.unsqueeze(1)), 4));
    const Tensor dot = matmul(v, w);  // [4]·[4] → []
    EXPECT_EQ(dot.shape(), (Shape{}));
    EXPECT_TRUE(matches(dot, reference_matmul(v.unsqueeze(0), w.unsqueeze(1)), 4));
    const Tensor bv = matmul(batch, w);  // [2, 3, 4]·[4] → [2, 3]
    EXPECT_EQ(bv.shape(), (Shape{2, 3}));
    EXPECT_TRUE(matches(bv, reference_matmul(batch, w.unsqueeze(1)), 4));
    const Tensor vb = matmul(v.slice(0, 0, 3), batch);  // [3]·[2, 3, 4] → [2, 4]
    EXPECT_EQ(vb.shape(), (Shape{2, 4}));
    EXPECT_TRUE(matches(vb, reference_matmul(v.slice(0, 0, 3).unsqueeze(0), batch), 3));
}

TEST_P(MatmulDtype, GemmScalesAndAccumulates) {
    const DType dt = GetParam();
    const Tensor a = random_tensor({5, 7}, dt, 61);
    const Tensor b = random_tensor({7, 3}, dt, 62);
    const Tensor c0 = random_tensor({5, 3}, dt, 63);
    Tensor c = c0.clone();
    gemm_(c, a, b, 0.5, -2.0);
    Reference ref = reference_matmul(a, b);
    const std::vector<double> old = c0.to_vector<double>();
    for (std::size_t i = 0; i < old.size(); ++i) {
        ref.value[i] = 0.5 * ref.value[i] - 2.0 * old[i];
        ref.abs_sum[i] = 0.5 * ref.abs_sum[i] + 2.0 * std::abs(old[i]);
    }
    EXPECT_TRUE(matches(c, ref, 7 + 1));
}

TEST_P(MatmulDtype, GemmWithZeroBetaIgnoresNan) {
    const DType dt = GetParam();
    const Tensor a = random_tensor({4, 6}, dt, 71);
    const Tensor b = random_tensor({6, 2}, dt, 72);
    Tensor c = Tensor::full({4, 2}, std::numeric_limits<double>::quiet_NaN(), dt);
    gemm_(c, a, b);
    EXPECT_TRUE(matches(c, reference_matmul(a, b), 6));
    // K = 0: only β·c remains.
    Tensor c2 = Tensor::full({4, 2}, std::numeric_limits<double>::quiet_NaN(), dt);
    gemm_(c2, Tensor::empty({4, 0}, dt), Tensor::empty({0, 2}, dt), 1.0, 0.0);
    EXPECT_TRUE(test::all_close(c2, Tensor::zeros({4, 2}, dt), 0, 0));
    Tensor c3 = Tensor::full({4, 2}, 3.0, dt);
    gemm_(c3, Tensor::empty({4, 0}, dt), Tensor::empty({0, 2}, dt), 1.0, 0.5);
    EXPECT_TRUE(test::all_close(c3, Tensor::full({4, 2}, 1.5, dt), 0, 0));
}

TEST_P(MatmulDtype, GemmWritesIntoViews) {
    const DType dt = GetParam();
    const Tensor a = random_tensor({4, 6}, dt, 81);
    const Tensor b = random_tensor({6, 3}, dt, 82);
    const Reference ref = reference_matmul(a, b);
    // A transposed c (strides (1, 4)) is written column-major by BLAS directly.
    Tensor buffer = Tensor::zeros({3, 4}, dt);
    Tensor ct = buffer.t();
    gemm_(ct, a, b);
    EXPECT_TRUE(matches(ct, ref, 6));
    // A column-strided c goes through a copy; the elements between its columns stay zero.
    Tensor wide = Tensor::zeros({4, 6}, dt);
    Tensor cs = wide.slice(1, 0, 6, 2);
    gemm_(cs, a, b);
    EXPECT_TRUE(matches(cs, ref, 6));
    EXPECT_TRUE(test::all_close(wide.slice(1, 1, 6, 2), Tensor::zeros({4, 3}, dt), 0, 0));
}

TEST_P(MatmulDtype, GemmReadsAliasedInputsBeforeWriting) {
    const DType dt = GetParam();
    Tensor c = random_tensor({4, 4}, dt, 91);
    const Tensor c0 = c.clone();
    const Tensor b = random_tensor({4, 4}, dt, 92);
    gemm_(c, c, b);  // c ← c·b: the old c must be read from a copy
    EXPECT_TRUE(matches(c, reference_matmul(c0, b), 4));
}

INSTANTIATE_TEST_SUITE_P(F32AndF64, MatmulDtype, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Matmul, RejectsDifferingInnerDimensions) {
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::zeros({3, 4}), Tensor::zeros({5, 2}));
        },
        {"matmul: inner dimensions differ: a is [3, 4], b is [5, 2]. "
         "Transpose b or check the layer sizes"}));
    EXPECT_TRUE(test::throws_error([] { matmul(Tensor::zeros({4}), Tensor::zeros({5})); },
                                   {"matmul: inner dimensions differ", "[4]", "[5]"}));
}

TEST(Matmul, RejectsBadOperands) {
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::zeros({2, 2}, DType::i64), Tensor::zeros({2, 2}, DType::i64));
        },
        {"matmul", "a", "f32 or f64"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::zeros({2, 2}, DType::f32), Tensor::zeros({2, 2}, DType::f64));
        },
        {"matmul", "dtypes differ", "[2, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::scalar(1.0), Tensor::zeros({1, 2}));
        },
        {"matmul", "a", "rank at least 1"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5}));
        },
        {"matmul", "[2]", "[3]"}));
}

TEST(Gemm, RejectsMismatchedShapes) {
    Tensor c = Tensor::zeros({3, 3});
    EXPECT_TRUE(test::throws_error(
        [&] {
            gemm_(c, Tensor::zeros({3, 4}), Tensor::zeros({4, 2}));
        },
        {"gemm_: c has the wrong shape", "[3, 3]", "[3, 4]", "[4, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gemm_(c, Tensor::zeros({3, 4}), Tensor::zeros({3, 3}));
        },
        {"gemm_: inner dimensions differ", "[3, 4]", "[3, 3]"}));
    Tensor c3 = Tensor::zeros({1, 3, 3});
    EXPECT_TRUE(test::throws_error(
        [&] {
            gemm_(c3, Tensor::zeros({3, 3}), Tensor::zeros({3, 3}));
        },
        {"gemm_", "c", "rank 2", "[1, 3, 3]"}));
}

}  // namespace
}  // namespace postr
