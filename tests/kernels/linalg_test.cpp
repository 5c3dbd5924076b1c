// Cholesky and the ops built on it, on the CPU, against naive f64 references: reconstruction
// L·Lᵀ = A, residuals of solves, the failing minor of indefinite inputs, 0×0 / 1×1 / batched /
// non-contiguous inputs, syrk_ leaving the upper triangle alone, logdet and inverse; eigh's
// reconstruction A = V·diag(w)·Vᵀ, orthonormality and analytic 2×2 / 3×3 cases.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::random_tensor;
using Vec = std::vector<double>;

double eps_of(DType t) { return t == DType::f64 ? test::kEpsF64 : test::kEpsF32; }

std::size_t ix(std::int64_t i) { return static_cast<std::size_t>(i); }

// A = B·Bᵀ + n·I for B uniform in [-1, 1]: eigenvalues in [n, n + ‖B‖²] ⊂ [n, ~2n], so the
// condition number stays below about 3 and every tolerance below is scaled only by n·ε.
// shape: [..., n, n]; each matrix gets its own B.
Tensor spd(const Shape& shape, DType dtype, std::uint64_t seed) {
    const std::int64_t n = shape.back();
    const Vec b = random_tensor(shape, DType::f64, seed).to_vector<double>();
    Vec a(b.size(), 0.0);
    for (std::int64_t p = 0;
         p < static_cast<std::int64_t>(b.size()) / std::max<std::int64_t>(n * n, 1); ++p)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double s = i == j ? static_cast<double>(n) : 0.0;
                for (std::int64_t k = 0; k < n; ++k)
                    s += b[ix(p * n * n + i * n + k)] * b[ix(p * n * n + j * n + k)];
                a[ix(p * n * n + i * n + j)] = s;
            }
    return Tensor::from_vector(a, shape).to(dtype);
}

// Batched product of row-major [B, m, k] and [B, k, n] (optionally |x|·|y|) in f64.
Vec product(const Vec& x, const Vec& y, std::int64_t batches, std::int64_t m, std::int64_t k,
            std::int64_t n, bool absolute = false) {
    Vec r(ix(batches * m * n), 0.0);
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double s = 0;
                for (std::int64_t q = 0; q < k; ++q) {
                    const double t = x[ix((p * m + i) * k + q)] * y[ix((p * k + q) * n + j)];
                    s += absolute ? std::abs(t) : t;
                }
                r[ix((p * m + i) * n + j)] = s;
            }
    return r;
}

// Row-major transpose of each [m, n] matrix in a batch.
Vec transposed(const Vec& x, std::int64_t batches, std::int64_t m, std::int64_t n) {
    Vec r(x.size());
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j)
                r[ix((p * n + j) * m + i)] = x[ix((p * m + i) * n + j)];
    return r;
}

// |got − want| ≤ sum_tolerance(terms, ε, scale) elementwise; `scale` is the sum of absolute
// terms of the reference (for backward-stable algorithms, |L|·|Lᵀ| or |A|·|X|).
::testing::AssertionResult within(const Vec& got, const Vec& want, const Vec& scale, double terms,
                                  double eps) {
    if (got.size() != want.size())
        return ::testing::AssertionFailure()
               << "sizes differ: " << got.size() << " vs " << want.size();
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double tol = test::sum_tolerance(terms, eps, scale[i]);
        if (!(std::abs(got[i] - want[i]) <= tol))
            return ::testing::AssertionFailure()
                   << "element " << i << ": got " << got[i] << ", expected " << want[i]
                   << " (tolerance " << tol << ")";
    }
    return ::testing::AssertionSuccess();
}

// L·Lᵀ = A within Cholesky's backward error (n+1)·ε·(|L|·|Lᵀ|) (Higham, Thm 10.3), L lower
// with exact zeros above the diagonal and a positive diagonal.
void expect_factor(const Tensor& a, const Tensor& l) {
    ASSERT_EQ(l.shape(), a.shape());
    const std::int64_t n = a.size(-1), batches = n == 0 ? 0 : a.numel() / (n * n);
    const Vec lv = l.to_vector<double>(), av = a.to_vector<double>();
    const Vec lt = transposed(lv, batches, n, n);
    Vec labs(lv.size()), ltabs(lv.size());
    for (std::size_t i = 0; i < lv.size(); ++i)
        labs[i] = std::abs(lv[i]), ltabs[i] = std::abs(lt[i]);
    EXPECT_TRUE(within(product(lv, lt, batches, n, n, n), av,
                       product(labs, ltabs, batches, n, n, n), static_cast<double>(n + 1),
                       eps_of(a.dtype())));
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < n; ++i) {
            EXPECT_GT(lv[ix((p * n + i) * n + i)], 0.0);
            for (std::int64_t j = i + 1; j < n; ++j) EXPECT_EQ(lv[ix((p * n + i) * n + j)], 0.0);
        }
}

class LinalgDtype : public ::testing::TestWithParam<DType> {};

TEST_P(LinalgDtype, CholeskyReconstructsSpdInput) {
    for (std::int64_t n : {1, 2, 5, 33, 100}) {
        SCOPED_TRACE(testing::Message() << "n=" << n);
        const Tensor a = spd({n, n}, GetParam(), 100 + static_cast<std::uint64_t>(n));
        expect_factor(a, cholesky(a));
    }
}

TEST_P(LinalgDtype, CholeskyIsBatchedAndAcceptsAnyLayout) {
    const Tensor a = spd({2, 3, 6, 6}, GetParam(), 7);
    const Tensor l = cholesky(a);
    expect_factor(a, l);
    EXPECT_TRUE(test::all_close(cholesky(test::transposed_copy(a)), l, 0, 0));
    EXPECT_TRUE(test::all_close(cholesky(test::strided_copy(a)), l, 0, 0));
    // A broadcast batch (stride 0) is factored once per copy.
    const Tensor one = spd({6, 6}, GetParam(), 8);
    const Tensor lb = cholesky(one.expand({4, 6, 6}));
    for (std::int64_t p = 0; p < 4; ++p) EXPECT_TRUE(test::all_close(lb[p], cholesky(one), 0, 0));
}

TEST_P(LinalgDtype, CholeskyReadsOnlyTheLowerTriangle) {
    const Tensor a = spd({5, 5}, GetParam(), 9);
    Tensor garbage = a.clone();
    for (std::int64_t i = 0; i < 5; ++i)
        garbage.slice(0, i, i + 1)
            .slice(1, i + 1, 5)
            .fill_(std::numeric_limits<double>::quiet_NaN());
    EXPECT_TRUE(test::all_close(cholesky(garbage), cholesky(a), 0, 0));
}

TEST_P(LinalgDtype, CholeskyHandlesEmptyAndOneByOne) {
    const DType dt = GetParam();
    EXPECT_EQ(cholesky(Tensor::empty({0, 0}, dt)).shape(), (Shape{0, 0}));
    EXPECT_EQ(cholesky(Tensor::empty({3, 0, 0}, dt)).shape(), (Shape{3, 0, 0}));
    EXPECT_EQ(cholesky(Tensor::empty({0, 2, 2}, dt)).shape(), (Shape{0, 2, 2}));
    const Tensor l = cholesky(Tensor::full({1, 1}, 4.0, dt));
    EXPECT_EQ(l.item(), 2.0);
}

TEST_P(LinalgDtype, CholeskyReportsFailingMinorOnIndefiniteInput) {
    const Tensor a =
        Tensor::from_vector(Vec{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1}, {4, 4})
            .to(GetParam());
    EXPECT_TRUE(test::throws_error(
        [&] { cholesky(a); },
        {"cholesky: matrix is not positive definite: leading minor of order 3 is not positive "
         "(matrix [4, 4], batch index 0). Add jitter to the diagonal or check the input"}));
    try {
        cholesky(a);
        ADD_FAILURE() << "no exception";
    } catch (const NotPositiveDefinite& e) {
        EXPECT_EQ(e.minor(), 3);
    }
    // 1×1 negative: the first minor.
    try {
        cholesky(Tensor::full({1, 1}, -1.0, GetParam()));
        ADD_FAILURE() << "no exception";
    } catch (const NotPositiveDefinite& e) {
        EXPECT_EQ(e.minor(), 1);
    }
}

TEST_P(LinalgDtype, CholeskyNamesTheFailingBatch) {
    Tensor a = spd({2, 3, 4, 4}, GetParam(), 10);
    a[1][1].select(0, 1).select(0, 1).fill_(-5.0);  // batch index 1·3 + 1 = 4, minor 2
    EXPECT_TRUE(test::throws_error([&] { cholesky(a); },
                                   {"leading minor of order 2", "matrix [4, 4], batch index 4"}));
}

// Triangular matrices with diagonal in [1, 2] and off-diagonal entries of size 1/n: well
// conditioned, so the residual bound n·ε·(|op(A)|·|X|) (Higham, Thm 8.5) is the whole story.
Tensor triangular(std::int64_t n, bool lower, DType dtype, std::uint64_t seed) {
    Vec v = random_tensor({n, n}, DType::f64, seed).to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            double& x = v[ix(i * n + j)];
            if (i == j)
                x = 1.5 + 0.5 * x;
            else if ((j < i) != lower)
                x = 0.0;
            else
                x /= static_cast<double>(n);
        }
    return Tensor::from_vector(v, {n, n}).to(dtype);
}

// Checks op(A)·X = B: a: [..., n, n] (broadcast to x), x, b: [..., n, k].
void expect_solves(const Tensor& a, const Tensor& x, const Tensor& b, bool transpose,
                   bool unit_diagonal) {
    ASSERT_EQ(x.shape(), b.shape());
    const std::int64_t n = x.size(-2), k = x.size(-1),
                       batches = x.numel() / std::max<std::int64_t>(n * k, 1);
    Shape ashape(x.shape().begin(), x.shape().end() - 2);
    ashape.insert(ashape.end(), {n, n});
    Vec av = a.expand(ashape).to_vector<double>();
    if (transpose) av = transposed(av, batches, n, n);
    if (unit_diagonal)
        for (std::int64_t p = 0; p < batches; ++p)
            for (std::int64_t i = 0; i < n; ++i) av[ix((p * n + i) * n + i)] = 1.0;
    const Vec xv = x.to_vector<double>();
    Vec aabs(av.size()), xabs(xv.size());
    for (std::size_t i = 0; i < av.size(); ++i) aabs[i] = std::abs(av[i]);
    for (std::size_t i = 0; i < xv.size(); ++i) xabs[i] = std::abs(xv[i]);
    EXPECT_TRUE(within(product(av, xv, batches, n, n, k), b.to_vector<double>(),
                       product(aabs, xabs, batches, n, n, k), static_cast<double>(n + 1),
                       eps_of(x.dtype())));
}

TEST_P(LinalgDtype, TriangularSolveSatisfiesEveryVariant) {
    const DType dt = GetParam();
    const std::int64_t n = 20, k = 3;
    const Tensor b = random_tensor({n, k}, dt, 21);
    for (bool lower : {true, false})
        for (bool transpose : {false, true})
            for (bool unit : {false, true}) {
                SCOPED_TRACE(testing::Message() << "lower " << lower << " transpose " << transpose
                                                << " unit " << unit);
                const Tensor a = triangular(n, lower, dt, 22);
                const Tensor x = triangular_solve(a, b, lower, transpose, unit);
                expect_solves(a, x, b, transpose, unit);
                // A transposed layout of a (column-major buffer) and a strided b give the same.
                const Tensor xt = triangular_solve(test::transposed_copy(a), test::strided_copy(b),
                                                   lower, transpose, unit);
                expect_solves(a, xt, b, transpose, unit);
            }
}

TEST_P(LinalgDtype, TriangularSolveIgnoresTheOtherTriangleAndUnitDiagonal) {
    const DType dt = GetParam();
    const Tensor a = triangular(6, true, dt, 31);
    const Tensor b = random_tensor({6, 2}, dt, 33);
    // Strictly-upper garbage (the lower solve must not read it).
    Tensor upper_garbage = a.clone();
    for (std::int64_t i = 0; i < 5; ++i) upper_garbage[i].slice(0, i + 1, 6).fill_(1e3);
    EXPECT_TRUE(test::all_close(triangular_solve(upper_garbage, b), triangular_solve(a, b), 0, 0));
    // With unit_diagonal the stored diagonal is never read.
    Tensor diag_garbage = a.clone();
    for (std::int64_t i = 0; i < 6; ++i) diag_garbage[i][i].fill_(-7.0);
    expect_solves(a, triangular_solve(diag_garbage, b, true, false, true), b, false, true);
}

TEST_P(LinalgDtype, TriangularSolveBroadcastsBatches) {
    const DType dt = GetParam();
    const Tensor a = triangular(5, true, dt, 41);
    const Tensor b = random_tensor({3, 5, 4}, dt, 42);
    const Tensor x = triangular_solve(a, b);
    EXPECT_EQ(x.shape(), (Shape{3, 5, 4}));
    expect_solves(a, x, b, false, false);
    const Tensor a2 = a.unsqueeze(0).expand({2, 1, 5, 5}).contiguous();
    const Tensor x2 = triangular_solve(a2, b);
    EXPECT_EQ(x2.shape(), (Shape{2, 3, 5, 4}));
    expect_solves(a2, x2, b.expand({2, 3, 5, 4}), false, false);
    EXPECT_EQ(triangular_solve(a, Tensor::empty({5, 0}, dt)).shape(), (Shape{5, 0}));
    EXPECT_EQ(triangular_solve(Tensor::empty({0, 0}, dt), Tensor::empty({0, 3}, dt)).shape(),
              (Shape{0, 3}));
}

TEST_P(LinalgDtype, CholeskySolveHasSmallResidual) {
    const DType dt = GetParam();
    const std::int64_t n = 30, k = 4;
    const Tensor a = spd({2, 1, n, n}, dt, 51);
    const Tensor b = random_tensor({3, n, k}, dt, 52);
    const Tensor x = cholesky_solve(b, cholesky(a));
    ASSERT_EQ(x.shape(), (Shape{2, 3, n, k}));
    // Residual of a backward-stable solve: factorization plus two triangular solves, each
    // n·ε·(|A|·|X|) for this well-conditioned A (see spd), hence 3(n+1) terms.
    const Tensor ae = a.expand({2, 3, n, n});
    const Vec av = ae.to_vector<double>(), xv = x.to_vector<double>();
    Vec aabs(av.size()), xabs(xv.size());
    for (std::size_t i = 0; i < av.size(); ++i) aabs[i] = std::abs(av[i]);
    for (std::size_t i = 0; i < xv.size(); ++i) xabs[i] = std::abs(xv[i]);
    EXPECT_TRUE(within(product(av, xv, 6, n, n, k), b.expand({2, 3, n, k}).to_vector<double>(),
                       product(aabs, xabs, 6, n, n, k), 3.0 * static_cast<double>(n + 1),
                       eps_of(dt)));
}

TEST_P(LinalgDtype, SyrkUpdatesOnlyTheLowerTriangle) {
    const DType dt = GetParam();
    const std::int64_t m = 9, n = 5;
    const Tensor a = random_tensor({m, n}, dt, 61);
    const Tensor c0 = random_tensor({n, n}, dt, 62);
    const Vec av = a.to_vector<double>(), cv = c0.to_vector<double>();
    const Vec at = transposed(av, 1, m, n);
    Vec aabs(av.size()), atabs(av.size());
    for (std::size_t i = 0; i < av.size(); ++i)
        aabs[i] = std::abs(av[i]), atabs[i] = std::abs(at[i]);
    const Vec gram = product(at, av, 1, n, m, n), gram_abs = product(atabs, aabs, 1, n, m, n);
    const double alpha = 0.7, beta = -0.3;
    Vec want(cv.size()), scale(cv.size());
    for (std::size_t i = 0; i < cv.size(); ++i) {
        want[i] = alpha * gram[i] + beta * cv[i];
        scale[i] = alpha * gram_abs[i] + std::abs(beta * cv[i]);
    }
    auto check = [&](const Tensor& c) {
        const Vec got = c.to_vector<double>();
        Vec lower_got, lower_want, lower_scale;
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                if (j <= i) {
                    lower_got.push_back(got[ix(i * n + j)]);
                    lower_want.push_back(want[ix(i * n + j)]);
                    lower_scale.push_back(scale[ix(i * n + j)]);
                } else {
                    EXPECT_EQ(got[ix(i * n + j)], cv[ix(i * n + j)])
                        << "upper (" << i << ", " << j << ")";
                }
            }
        // m products summed, one scaling by α and one β-term: m + 2 roundings.
        EXPECT_TRUE(
            within(lower_got, lower_want, lower_scale, static_cast<double>(m + 2), eps_of(dt)));
    };
    Tensor c = c0.clone();
    syrk_(c, a, alpha, beta);
    check(c);
    // a as a transposed view, c as a transposed view, c with a column stride of 2.
    Tensor c2 = test::transposed_copy(c0);
    syrk_(c2, test::transposed_copy(a), alpha, beta);
    check(c2);
    Tensor c3 = test::strided_copy(c0);
    syrk_(c3, test::strided_copy(a), alpha, beta);
    check(c3);
}

TEST_P(LinalgDtype, SyrkWithNoRowsScalesTheLowerTriangle) {
    const DType dt = GetParam();
    const Tensor c0 = random_tensor({4, 4}, dt, 71);
    Tensor c = c0.clone();
    syrk_(c, Tensor::empty({0, 4}, dt), 1.0, 0.5);
    const Vec got = c.to_vector<double>(), old = c0.to_vector<double>();
    for (std::int64_t i = 0; i < 4; ++i)
        for (std::int64_t j = 0; j < 4; ++j)
            EXPECT_EQ(got[ix(i * 4 + j)], j <= i ? 0.5 * old[ix(i * 4 + j)] : old[ix(i * 4 + j)]);
    // β = 0 clears the lower triangle, NaN included.
    Tensor nan = Tensor::full({3, 3}, std::numeric_limits<double>::quiet_NaN(), dt);
    syrk_(nan, random_tensor({2, 3}, dt, 72), 1.0, 0.0);
    EXPECT_TRUE(std::isfinite(nan[2][0].item()));
    EXPECT_TRUE(std::isnan(nan[0][2].item()));
    Tensor empty = Tensor::empty({0, 0}, dt);
    syrk_(empty, Tensor::empty({5, 0}, dt));
}

TEST_P(LinalgDtype, SymmetrizeLowerCopiesLowerOntoUpper) {
    const DType dt = GetParam();
    for (const Tensor& c0 : {random_tensor({2, 5, 5}, dt, 81),
                             test::transposed_copy(random_tensor({2, 5, 5}, dt, 82))}) {
        const Vec before = c0.to_vector<double>();
        Tensor c = c0;
        symmetrize_lower_(c);
        const Vec after = c.to_vector<double>();
        for (std::int64_t p = 0; p < 2; ++p)
            for (std::int64_t i = 0; i < 5; ++i)
                for (std::int64_t j = 0; j < 5; ++j) {
                    const std::int64_t lo = j <= i ? (p * 5 + i) * 5 + j : (p * 5 + j) * 5 + i;
                    EXPECT_EQ(after[ix((p * 5 + i) * 5 + j)], before[ix(lo)]);
                }
    }
    Tensor empty = Tensor::empty({3, 0, 0}, dt);
    symmetrize_lower_(empty);
}

TEST_P(LinalgDtype, CholeskyLogdetMatchesDiagonalSum) {
    const DType dt = GetParam();
    const Tensor l = cholesky(spd({3, 7, 7}, dt, 91));
    const Tensor logdet = cholesky_logdet(l);
    ASSERT_EQ(logdet.shape(), (Shape{3}));
    const Vec lv = l.to_vector<double>();
    Vec want(3), scale(3);
    for (std::int64_t p = 0; p < 3; ++p) {
        for (std::int64_t i = 0; i < 7; ++i) {
            const double t = 2.0 * std::log(lv[ix((p * 7 + i) * 7 + i)]);
            want[ix(p)] += t;
            scale[ix(p)] += std::abs(t);
        }
    }
    // Summed in f64 and rounded once to the dtype: a couple of ulp of the dtype.
    EXPECT_TRUE(within(logdet.to_vector<double>(), want, scale, 2.0, eps_of(dt)));
    EXPECT_TRUE(test::all_close(cholesky_logdet(test::strided_copy(l)), logdet, 0, 0));
    EXPECT_EQ(cholesky_logdet(Tensor::empty({0, 0}, dt)).item(), 0.0);
    EXPECT_NEAR(cholesky_logdet(Tensor::full({1, 1}, 2.0, dt)).item(), 2.0 * std::log(2.0),
                2.0 * eps_of(dt));
    EXPECT_EQ(cholesky_logdet(Tensor::empty({0, 3, 3}, dt)).shape(), (Shape{0}));
}

TEST_P(LinalgDtype, CholeskyInverseInvertsTheMatrix) {
    const DType dt = GetParam();
    const std::int64_t n = 12;
    const Tensor a = spd({2, n, n}, dt, 101);
    const Tensor inv = cholesky_inverse(cholesky(a));
    ASSERT_EQ(inv.shape(), (Shape{2, n, n}));
    const Vec iv = inv.to_vector<double>(), av = a.to_vector<double>();
    // Exactly symmetric: the upper triangle is a copy of the lower.
    for (std::int64_t p = 0; p < 2; ++p)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < i; ++j)
                EXPECT_EQ(iv[ix((p * n + i) * n + j)], iv[ix((p * n + j) * n + i)]);
    // inv·A = I: a backward-stable inverse has residual about κ(A)·n·ε·(|inv|·|A|); κ < 3 for
    // these inputs (see spd), so 4(n+1) terms cover it.
    Vec iabs(iv.size()), aabs(av.size()), eye_v(iv.size(), 0.0);
    for (std::size_t i = 0; i < iv.size(); ++i)
        iabs[i] = std::abs(iv[i]), aabs[i] = std::abs(av[i]);
    for (std::int64_t p = 0; p < 2; ++p)
        for (std::int64_t i = 0; i < n; ++i) eye_v[ix((p * n + i) * n + i)] = 1.0;
    EXPECT_TRUE(within(product(iv, av, 2, n, n, n), eye_v, product(iabs, aabs, 2, n, n, n),
                       4.0 * static_cast<double>(n + 1), eps_of(dt)));
    EXPECT_EQ(cholesky_inverse(Tensor::empty({0, 0}, dt)).shape(), (Shape{0, 0}));
    EXPECT_EQ(cholesky_inverse(Tensor::full({1, 1}, 2.0, dt)).item(), 0.25);
}

TEST_P(LinalgDtype, CholeskyInverseRejectsZeroDiagonal) {
    Tensor l = Tensor::zeros({3, 3}, GetParam());
    l[0][0].fill_(1.0);
    l[2][2].fill_(1.0);
    EXPECT_TRUE(test::throws_error(
        [&] { cholesky_inverse(l); },
        {"cholesky_inverse: l is singular: diagonal element 2 is zero", "[3, 3]"}));
}

// ============================== eigh ==============================

// (B + Bᵀ)/2 for B uniform in [-1, 1]: symmetric and indefinite; shape [..., n, n].
Tensor symmetric(const Shape& shape, DType dtype, std::uint64_t seed) {
    const std::int64_t n = shape.back();
    const Vec b = random_tensor(shape, DType::f64, seed).to_vector<double>();
    const std::int64_t batches = n == 0 ? 0 : static_cast<std::int64_t>(b.size()) / (n * n);
    const Vec bt = transposed(b, batches, n, n);
    Vec a(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.5 * (b[i] + bt[i]);
    return Tensor::from_vector(a, shape).to(dtype);
}

// A = V·diag(w)·Vᵀ, VᵀV = I and w ascending, for every matrix of a batch. syevd is backward
// stable: the reconstruction error is a modest multiple of n·ε·‖A‖ (Golub & Van Loan 8.4; the
// constant 4 covers the O(n) rounding of the test's own products), and VᵀV − I of n·ε.
void expect_eigh(const Tensor& a, const EighResult& r) {
    const std::int64_t n = a.size(-1), batches = n == 0 ? 0 : a.numel() / (n * n);
    ASSERT_EQ(r.eigenvectors.shape(), a.shape());
    Shape wshape(a.shape().begin(), a.shape().end() - 1);
    ASSERT_EQ(r.eigenvalues.shape(), wshape);
    const double eps = eps_of(a.dtype());
    const Vec av = a.to_vector<double>(), v = r.eigenvectors.to_vector<double>(),
              w = r.eigenvalues.to_vector<double>();
    const Vec vt = transposed(v, batches, n, n);
    Vec vw(v.size());
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < n; ++j)
                vw[ix((p * n + i) * n + j)] = v[ix((p * n + i) * n + j)] * w[ix(p * n + j)];
    const Vec rebuilt = product(vw, vt, batches, n, n, n);
    const Vec gram = product(vt, v, batches, n, n, n);
    for (std::int64_t p = 0; p < batches; ++p) {
        double norm = 0;
        for (std::int64_t i = 0; i < n * n; ++i)
            norm += av[ix(p * n * n + i)] * av[ix(p * n * n + i)];
        norm = std::max(std::sqrt(norm), 1.0);
        for (std::int64_t i = 0; i < n; ++i) {
            if (i + 1 < n) {
                EXPECT_LE(w[ix(p * n + i)], w[ix(p * n + i + 1)]) << "batch " << p;
            }
            for (std::int64_t j = 0; j < n; ++j) {
                const std::size_t e = ix((p * n + i) * n + j);
                EXPECT_NEAR(rebuilt[e], av[e], 4.0 * static_cast<double>(n) * eps * norm)
                    << "batch " << p << " (" << i << ", " << j << ")";
                EXPECT_NEAR(gram[e], i == j ? 1.0 : 0.0, 4.0 * static_cast<double>(n) * eps)
                    << "batch " << p << " (" << i << ", " << j << ")";
            }
        }
    }
}

TEST_P(LinalgDtype, EighReconstructsSymmetricInput) {
    for (std::int64_t n : {1, 2, 5, 33, 100}) {
        SCOPED_TRACE(testing::Message() << "n=" << n);
        const Tensor a = symmetric({n, n}, GetParam(), 300 + static_cast<std::uint64_t>(n));
        expect_eigh(a, eigh(a));
    }
    // Positive definite input: every eigenvalue in [n, ~2n] (see spd).
    const Tensor a = spd({12, 12}, GetParam(), 301);
    const EighResult r = eigh(a);
    expect_eigh(a, r);
    EXPECT_GE(r.eigenvalues.to_vector<double>().front(), 12.0 * (1 - 100 * eps_of(GetParam())));
}

TEST_P(LinalgDtype, EighMatchesAnalyticCases) {
    const double tol = 16 * eps_of(GetParam());  // a few ulp of O(1) values
    // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, −1)/√2 and (1, 1)/√2.
    const EighResult r2 = eigh(Tensor::from_vector(Vec{2, 1, 1, 2}, {2, 2}).to(GetParam()));
    EXPECT_TRUE(test::all_close(r2.eigenvalues, Tensor::from_vector(Vec{1, 3}, {2}).to(GetParam()),
                                0, tol));
    const Vec v2 = r2.eigenvectors.to_vector<double>();
    const double h = 1 / std::sqrt(2.0);
    // Column j is ±(expected column j): compare after fixing the sign by the first entry.
    EXPECT_NEAR(std::abs(v2[0]), h, tol);
    EXPECT_NEAR(v2[2], -v2[0], tol);
    EXPECT_NEAR(std::abs(v2[1]), h, tol);
    EXPECT_NEAR(v2[3], v2[1], tol);
    // The second-difference matrix tridiag(−1, 2, −1) of order 3: eigenvalues 2 − √2, 2, 2 + √2
    // with eigenvectors (1, √2, 1)/2, (1, 0, −1)/√2, (1, −√2, 1)/2.
    const EighResult r3 =
        eigh(Tensor::from_vector(Vec{2, -1, 0, -1, 2, -1, 0, -1, 2}, {3, 3}).to(GetParam()));
    const double s = std::sqrt(2.0);
    EXPECT_TRUE(test::all_close(
        r3.eigenvalues, Tensor::from_vector(Vec{2 - s, 2, 2 + s}, {3}).to(GetParam()), 0, tol));
    const Vec v3 = r3.eigenvectors.to_vector<double>();
    const Vec want[3] = {{0.5, s / 2, 0.5}, {h, 0, -h}, {0.5, -s / 2, 0.5}};
    for (int j = 0; j < 3; ++j) {
        const double sign = v3[ix(j)] < 0 ? -1.0 : 1.0;
        for (int i = 0; i < 3; ++i)
            EXPECT_NEAR(sign * v3[ix(i * 3 + j)], want[j][ix(i)], tol) << "column " << j;
    }
}

TEST_P(LinalgDtype, EighIsBatchedAndAcceptsAnyLayout) {
    const Tensor a = symmetric({2, 3, 6, 6}, GetParam(), 310);
    const EighResult r = eigh(a);
    expect_eigh(a, r);
    // Each batch entry is decomposed on its own: the same LAPACK call on the same values.
    for (std::int64_t p = 0; p < 2; ++p)
        for (std::int64_t q = 0; q < 3; ++q) {
            const EighResult one = eigh(a[p][q].contiguous());
            EXPECT_TRUE(test::all_close(r.eigenvalues[p][q], one.eigenvalues, 0, 0));
            EXPECT_TRUE(test::all_close(r.eigenvectors[p][q], one.eigenvectors, 0, 0));
        }
    for (const Tensor& other : {test::transposed_copy(a), test::strided_copy(a)}) {
        const EighResult o = eigh(other);
        EXPECT_TRUE(test::all_close(o.eigenvalues, r.eigenvalues, 0, 0));
        EXPECT_TRUE(test::all_close(o.eigenvectors, r.eigenvectors, 0, 0));
    }
    const Tensor single = symmetric({5, 5}, GetParam(), 311);
    const EighResult b = eigh(single.expand({3, 5, 5}));
    const EighResult s = eigh(single);
    for (std::int64_t p = 0; p < 3; ++p)
        EXPECT_TRUE(test::all_close(b.eigenvectors[p], s.eigenvectors, 0, 0));
}

TEST_P(LinalgDtype, EighReadsOnlyTheLowerTriangle) {
    const Tensor a = symmetric({7, 7}, GetParam(), 320);
    Vec garbage = a.to_vector<double>();
    for (std::int64_t i = 0; i < 7; ++i)
        for (std::int64_t j = i + 1; j < 7; ++j) garbage[ix(i * 7 + j)] = 1e3;
    const EighResult r = eigh(a);
    const EighResult g = eigh(Tensor::from_vector(garbage, {7, 7}).to(GetParam()));
    EXPECT_TRUE(test::all_close(g.eigenvalues, r.eigenvalues, 0, 0));
    EXPECT_TRUE(test::all_close(g.eigenvectors, r.eigenvectors, 0, 0));
}

TEST_P(LinalgDtype, EighHandlesEmptyInputs) {
    const EighResult r0 = eigh(Tensor::zeros({0, 0}, GetParam()));
    EXPECT_EQ(r0.eigenvalues.shape(), (Shape{0}));
    EXPECT_EQ(r0.eigenvectors.shape(), (Shape{0, 0}));
    const EighResult rb = eigh(Tensor::zeros({0, 4, 4}, GetParam()));
    EXPECT_EQ(rb.eigenvalues.shape(), (Shape{0, 4}));
    EXPECT_EQ(rb.eigenvectors.shape(), (Shape{0, 4, 4}));
    const EighResult r1 = eigh(Tensor::full({1, 1}, -2.5, GetParam()));
    EXPECT_EQ(r1.eigenvalues.item(), -2.5);
    EXPECT_EQ(std::abs(r1.eigenvectors.item()), 1.0);
}

TEST(Linalg, EighRejectsBadArguments) {
    EXPECT_TRUE(test::throws_error(
        [] {
            eigh(Tensor::zeros({3, 4}));
        },
        {"eigh", "a", "square", "[3, 4]"}));
    EXPECT_TRUE(test::throws_error([] { eigh(Tensor::zeros({3})); },
                                   {"eigh", "a", "rank at least 2", "[3]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            eigh(Tensor::zeros({2, 2}, DType::i64));
        },
        {"eigh", "a", "f32 or f64"}));
}

INSTANTIATE_TEST_SUITE_P(F32AndF64, LinalgDtype, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Linalg, RejectsBadArguments) {
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky(Tensor::zeros({3, 4}));
        },
        {"cholesky", "a", "square", "[3, 4]"}));
    EXPECT_TRUE(test::throws_error([] { cholesky(Tensor::zeros({3})); },
                                   {"cholesky", "a", "rank at least 2", "[3]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky(Tensor::zeros({2, 2}, DType::i64));
        },
        {"cholesky", "a", "f32 or f64"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            triangular_solve(Tensor::zeros({3, 3}), Tensor::zeros({4, 2}));
        },
        {"triangular_solve: a and b differ in n", "[3, 3]", "[4, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            triangular_solve(Tensor::zeros({3, 3}), Tensor::zeros({3, 2}, DType::f64));
        },
        {"triangular_solve", "dtypes differ"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky_solve(Tensor::zeros({3}), Tensor::zeros({3, 3}));
        },
        {"cholesky_solve", "b", "rank at least 2", "[3]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky_solve(Tensor::zeros({2, 3, 1}), Tensor::zeros({3, 3, 3}));
        },
        {"cholesky_solve", "[2]", "[3]"}));
    Tensor c = Tensor::zeros({3, 3});
    EXPECT_TRUE(test::throws_error(
        [&] {
            syrk_(c, Tensor::zeros({5, 4}));
        },
        {"syrk_", "[5, 4]", "[3, 3]"}));
    Tensor r = Tensor::zeros({3, 2});
    EXPECT_TRUE(test::throws_error([&] { symmetrize_lower_(r); },
                                   {"symmetrize_lower_", "square", "[3, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky_logdet(Tensor::zeros({2, 3}));
        },
        {"cholesky_logdet", "square", "[2, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky_inverse(Tensor::zeros({2, 3}));
        },
        {"cholesky_inverse", "square", "[2, 3]"}));
}

}  // namespace
}  // namespace postr
