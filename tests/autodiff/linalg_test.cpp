// Linear-algebra ops beyond the op table: known values (log det and its gradient A⁻¹), the
// symmetric-cotangent convention of cholesky, errors raised through the Var ops, and second
// derivatives (reverse over reverse) against finite differences of the gradient.
#include <cmath>
#include <functional>
#include <limits>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

Tensor mat(std::vector<double> v, std::int64_t n) { return Tensor::from_vector(v, {n, n}); }

// det = 4·(5·3 − 1) − 2·(2·3 − 0) = 44.
Tensor known_spd() { return mat({4, 2, 0, 2, 5, 1, 0, 1, 3}, 3); }

TEST(LinalgAutodiff, LogdetOfAKnownMatrixAndItsGradientIsTheInverse) {
    Var a(known_spd(), true);
    Var logdet = cholesky_logdet(cholesky(a));
    EXPECT_NEAR(logdet.value().item(), std::log(44.0), 1e-14);
    // d log det A / dA = A⁻ᵀ = A⁻¹, symmetric under the symmetric-cotangent convention.
    Tensor g = grad({logdet}, {a})[0].value();
    EXPECT_TRUE(test::all_close(matmul(g, known_spd()), eye(3, DType::f64), 0, 1e-14));
    EXPECT_TRUE(test::all_close(g, cholesky_inverse(cholesky(known_spd())), 1e-14, 1e-15));
}

TEST(LinalgAutodiff, CholeskyCotangentIsSymmetric) {
    // The kernel reads only the lower triangle, but the rule treats A as (A + Aᵀ)/2.
    Var a(known_spd(), true);
    Tensor c = test::random_tensor({3, 3}, DType::f64, 1);
    Tensor g = grad({sum(mul(cholesky(a), Var(c)))}, {a})[0].value();
    EXPECT_TRUE(test::all_close(g, g.transpose(0, 1), 0, 1e-15));
    EXPECT_GT(std::abs(g.to_vector<double>()[1]), 1e-3);  // upper entries are not dropped
}

TEST(LinalgAutodiff, NotPositiveDefiniteIsThrownThroughTheVarOp) {
    Var a(mat({1, 2, 2, 1}, 2), true);
    try {
        cholesky(a);
        ADD_FAILURE() << "no exception";
    } catch (const NotPositiveDefinite& e) {
        EXPECT_EQ(e.minor(), 2);
    }
    EXPECT_TRUE(test::throws_error([&] { cholesky(a); }, {"cholesky", "leading minor of order 2"}));
}

TEST(LinalgAutodiff, ShapeErrorsComeFromTheKernelOp) {
    Var l(eye(3, DType::f64), true), b(Tensor::zeros({4, 2}, DType::f64), true);
    EXPECT_TRUE(test::throws_error([&] { triangular_solve(l, b); },
                                   {"triangular_solve", "[3, 3]", "[4, 2]"}));
    EXPECT_TRUE(
        test::throws_error([&] { cholesky_solve(b, l); }, {"cholesky_solve", "[3, 3]", "[4, 2]"}));
}

// Reverse over reverse: H·v from differentiating ⟨∇f, v⟩ against central differences of ∇f
// along v (the gradients themselves exact, so the error is the usual h² + ε/h).
void expect_hvp_matches_differences(const std::function<Var(const Var&)>& f, const Tensor& x0,
                                    std::uint64_t seed) {
    Tensor v = test::random_tensor(x0.shape(), DType::f64, seed);
    Var x(x0, true);
    Var g = grad({f(x)}, {x}, {}, true, true)[0];
    Tensor hv = grad({sum(mul(g, Var(v)))}, {x})[0].value();
    auto gradient_at = [&](const Tensor& at) {
        Var xa(at, true);
        return grad({f(xa)}, {xa})[0].value();
    };
    const double h =
        std::cbrt(std::numeric_limits<double>::epsilon()) * std::max(1.0, max(abs(x0)).item());
    Tensor numeric =
        mul(sub(gradient_at(add(x0, mul(v, h))), gradient_at(add(x0, mul(v, -h)))), 1.0 / (2 * h));
    EXPECT_TRUE(test::all_close(hv, numeric, 1e-6, 1e-8));
}

Var sym(const Var& a) { return mul(add(a, transpose(a, -1, -2)), 0.5); }

TEST(LinalgAutodiff, SecondDerivativeThroughCholesky) {
    Tensor c = test::random_tensor({2, 3, 3}, DType::f64, 2);
    Tensor x0 =
        add(mul(test::random_tensor({2, 3, 3}, DType::f64, 3), 0.5), mul(eye(3, DType::f64), 3.0));
    auto f = [&](const Var& x) { return sum(mul(cholesky(sym(x)), Var(c))); };
    expect_hvp_matches_differences(f, x0, 4);
    // And a nonlinear scalar of the factor: log det.
    expect_hvp_matches_differences(
        [](const Var& x) { return sum(cholesky_logdet(cholesky(sym(x)))); }, x0, 5);
}

TEST(LinalgAutodiff, SecondDerivativesOfTheSolvesAndTheInverse) {
    Tensor l0 = add(test::random_tensor({3, 3}, DType::f64, 6), mul(eye(3, DType::f64), 3.0));
    Tensor b = test::random_tensor({3, 2}, DType::f64, 7);
    Tensor c = test::random_tensor({3, 3}, DType::f64, 8);
    expect_hvp_matches_differences(
        [&](const Var& l) { return sum(square(triangular_solve(l, Var(b), true, true))); }, l0, 9);
    expect_hvp_matches_differences(
        [&](const Var& l) { return sum(square(cholesky_solve(Var(b), l))); }, l0, 10);
    expect_hvp_matches_differences(
        [&](const Var& l) { return sum(mul(cholesky_inverse(l), Var(c))); }, l0, 11);
    expect_hvp_matches_differences([&](const Var& l) { return sum(square(cholesky_logdet(l))); },
                                   l0, 12);
}

}  // namespace
}  // namespace postr
