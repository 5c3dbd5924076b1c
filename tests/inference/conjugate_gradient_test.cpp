// Conjugate gradients against dense Cholesky solves, the effect of a preconditioner and of
// damping, a GGN-vector-product operator of a small model against its dense GGN, a Newton step
// by the Hessian operator on conjugate Bayesian linear regression, and the error on an
// indefinite operator.
//
// Tolerances. CG is run to a relative residual of 1e-14; the error in x is then at most
// κ(A)·1e-14 relative, and the matrices here have κ ≤ ~1e3, so 1e-10 holds with margin (the
// Cholesky reference itself is accurate to ~κ·ε ≈ 1e-13).
#include "postr/inference/conjugate_gradient.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::ConjugateGradientOptions;
using inference::LinearOperator;

LinearOperator dense_operator(const Tensor& a) {
    return [a](const Tensor& v) { return matmul(a, v.view({-1, 1})).view({-1}); };
}

Tensor dense_solve(const Tensor& a, const Tensor& b) {
    return cholesky_solve(b.view({-1, 1}), cholesky(a)).view({-1});
}

// A = QᵀQ/D + 0.5 I: symmetric positive definite, κ ≈ 10.
Tensor random_spd(std::int64_t d, std::uint64_t seed) {
    const Tensor q = test::random_tensor({d, d}, DType::f64, seed);
    return add(mul(matmul(q.t(), q), 1.0 / static_cast<double>(d)), mul(eye(d, DType::f64), 0.5));
}

TEST(ConjugateGradient, EqualsCholeskySolveOnRandomSpd) {
    const std::int64_t d = 40;
    const Tensor a = random_spd(d, 1);
    const Tensor b = test::random_tensor({d}, DType::f64, 2);
    const auto result = inference::conjugate_gradient(dense_operator(a), b, {.tolerance = 1e-14});
    EXPECT_TRUE(result.converged);
    EXPECT_LE(result.iterations, d);
    EXPECT_LE(result.residual_norm, 1e-14 * norm(b).item());
    EXPECT_TRUE(test::all_close(result.x, dense_solve(a, b), 1e-10, 1e-12));
    // The true residual agrees with the recursive one.
    EXPECT_LT(norm(sub(b, matmul(a, result.x))).item(), 1e-12);

    // f32: to f32 rounding (relative residual 1e-5 reachable, error ≤ κ·1e-5).
    const auto r32 = inference::conjugate_gradient(dense_operator(a.to(DType::f32)),
                                                   b.to(DType::f32), {.tolerance = 1e-5});
    EXPECT_TRUE(r32.converged);
    EXPECT_EQ(r32.x.dtype(), DType::f32);
    EXPECT_TRUE(test::all_close(r32.x.to(DType::f64), dense_solve(a, b), 1e-3, 1e-4));
}

TEST(ConjugateGradient, JacobiPreconditionerCutsIterationsOnIllConditionedMatrix) {
    // A = S (I + 0.01 U) S with S = diag(√d_i), d_i from 1 to 1e4: κ(A) ~ 1e4, but the
    // Jacobi-preconditioned D⁻¹A is I + 0.01 U-like (κ ≈ 1.2), so a handful of iterations.
    const std::int64_t n = 60;
    std::vector<double> diag(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        diag[static_cast<std::size_t>(i)] =
            std::pow(10.0, 4.0 * static_cast<double>(i) / (n - 1.0));
    const Tensor s = sqrt(Tensor::from_vector(diag, {n}));
    Tensor u = test::random_tensor({n, n}, DType::f64, 3);
    u = mul(add(u, u.t()), 0.005);
    const Tensor inner = add(eye(n, DType::f64), u);
    const Tensor a = mul(mul(inner, s.view({n, 1})), s.view({1, n}));
    const Tensor b = test::random_tensor({n}, DType::f64, 4);
    const Tensor inverse_diagonal = reciprocal(mul(s, s));

    const auto plain = inference::conjugate_gradient(dense_operator(a), b,
                                                     {.tolerance = 1e-12, .max_iterations = 2000});
    const auto jacobi = inference::conjugate_gradient(
        dense_operator(a), b,
        {.tolerance = 1e-12, .max_iterations = 2000, .preconditioner = [&](const Tensor& r) {
             return mul(r, inverse_diagonal);
         }});
    std::printf("iterations: plain %lld, jacobi %lld\n", static_cast<long long>(plain.iterations),
                static_cast<long long>(jacobi.iterations));
    EXPECT_TRUE(plain.converged);
    EXPECT_TRUE(jacobi.converged);
    EXPECT_LT(3 * jacobi.iterations, plain.iterations)
        << "jacobi " << jacobi.iterations << " vs plain " << plain.iterations;
    // κ ~ 1e4 and tolerance 1e-12: the solutions agree to ~1e-8.
    EXPECT_TRUE(test::all_close(jacobi.x, dense_solve(a, b), 1e-7, 1e-10));
    EXPECT_TRUE(test::all_close(plain.x, dense_solve(a, b), 1e-7, 1e-10));
}

TEST(ConjugateGradient, DampingSolvesTheShiftedSystemOfASingularOperator) {
    // A = B Bᵀ of rank 5 in D = 30: singular, so only the damped system has a unique solution.
    const std::int64_t d = 30;
    const Tensor bmat = test::random_tensor({d, 5}, DType::f64, 5);
    const Tensor a = matmul(bmat, bmat.t());
    const Tensor b = test::random_tensor({d}, DType::f64, 6);
    const double delta = 0.3;
    const Tensor expected = dense_solve(add(a, mul(eye(d, DType::f64), delta)), b);
    const auto result =
        inference::conjugate_gradient(dense_operator(a), b, {.damping = delta, .tolerance = 1e-14});
    EXPECT_TRUE(result.converged);
    // A + δI has 6 distinct eigenvalues: CG needs about 6 iterations.
    EXPECT_LE(result.iterations, 12);
    EXPECT_TRUE(test::all_close(result.x, expected, 1e-10, 1e-12));
    // A starting point and an iteration cap.
    const auto warm = inference::conjugate_gradient(
        dense_operator(a), b, {.damping = delta, .tolerance = 1e-10, .initial = expected});
    EXPECT_EQ(warm.iterations, 0);
    EXPECT_TRUE(warm.converged);
    const auto capped = inference::conjugate_gradient(
        dense_operator(a), b, {.damping = delta, .tolerance = 1e-14, .max_iterations = 2});
    EXPECT_EQ(capped.iterations, 2);
    EXPECT_FALSE(capped.converged);
    // b = 0: x = 0 at once.
    const auto zero = inference::conjugate_gradient(
        dense_operator(a), Tensor::zeros({d}, DType::f64), {.damping = delta});
    EXPECT_TRUE(zero.converged);
    EXPECT_EQ(zero.iterations, 0);
    EXPECT_EQ(max(abs(zero.x)).item(), 0.0);
}

TEST(ConjugateGradient, GgnOperatorOfAModelMatchesDenseGgnSolve) {
    // Linear(3, 6) → Tanh → Linear(6, 5) → ReLU → Linear(5, 4): D = 78, categorical likelihood,
    // N = 6 inputs, so the GGN has rank ≤ 18 and δ = 0.1 makes the system definite (κ ~ 1e2).
    auto net = test::curvature_mlp(3, 4, 11);
    const Tensor x = test::random_tensor({6, 3}, DType::f64, 1);
    const std::int64_t d = net->num_parameters();
    nn::DenseCurvature dense(*net);
    dense.accumulate(x);
    const double delta = 0.1;
    const Tensor b = test::random_tensor({d}, DType::f64, 12);
    const Tensor expected = dense_solve(add(dense.matrix(), mul(eye(d, DType::f64), delta)), b);
    const auto result = inference::conjugate_gradient(
        inference::ggn_operator(*net, x, nn::Likelihood::categorical()), b,
        {.damping = delta, .tolerance = 1e-13});
    EXPECT_TRUE(result.converged);
    EXPECT_LT(result.iterations, d);
    EXPECT_TRUE(test::all_close(result.x, expected, 1e-9, 1e-11));
}

TEST(ConjugateGradient, EmpiricalFisherOperatorMatchesDenseFisherProduct) {
    // The wrapper forwards to nn::empirical_fisher_vector_product: its products equal the dense
    // empirical Fisher from the other road (DenseCurvature, per-sample gradients) times v, to
    // the rounding of a 78-term dot product (1e-10 relative, as the curvature tests use).
    auto net = test::curvature_mlp(3, 4, 13);
    const Tensor x = test::random_tensor({5, 3}, DType::f64, 2);
    const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 1, 2, 1}, {5});
    const std::int64_t d = net->num_parameters();
    nn::DenseCurvature dense(*net, {.type = nn::CurvatureType::empirical_fisher});
    dense.accumulate(x, labels);
    const auto fisher =
        inference::empirical_fisher_operator(*net, x, labels, nn::Likelihood::categorical());
    const Tensor v = test::random_tensor({d}, DType::f64, 3);
    EXPECT_TRUE(
        test::all_close(fisher(v), matmul(dense.matrix(), v.view({d, 1})).view({d}), 1e-10, 1e-12));
}

TEST(ConjugateGradient, NewtonStepByHessianOperatorGivesTheBayesianLinearRegressionMean) {
    // ℓ(w) = (1/N)[−‖y − Xw‖²/(2s²) − λ‖w‖²/2]: −∇²ℓ = H/N with H = XᵀX/s² + λI, and the
    // posterior mean is m = H⁻¹Xᵀy/s² = (H/N)⁻¹ ∇ℓ(0): one Newton step from 0.
    const std::int64_t n = 30, d = 4;
    const double s = 0.5, lambda = 2.0;
    const Tensor x = test::random_tensor({n, d}, DType::f64, 21);
    const Tensor y = test::random_tensor({n, 1}, DType::f64, 22);
    const inference::LogPosterior lp = [&](const Var& w, const inference::Batch& batch) {
        Var r = sub(Var(batch.targets), matmul(Var(batch.inputs), reshape(w, {d, 1})));
        return mul(add(mul(sum(square(r)), -0.5 / (s * s)), mul(sum(square(w)), -0.5 * lambda)),
                   1.0 / static_cast<double>(n));
    };
    const inference::Batch batch{x, y};
    const Tensor zero = Tensor::zeros({d}, DType::f64);
    const Tensor g = inference::log_posterior_and_grad(lp, zero, batch).grad;
    const auto result = inference::conjugate_gradient(
        inference::negative_hessian_operator(lp, zero, batch), g, {.tolerance = 1e-14});
    const Tensor h = add(mul(matmul(x.t(), x), 1.0 / (s * s)), mul(eye(d, DType::f64), lambda));
    const Tensor mean = dense_solve(h, mul(matmul(x.t(), y).view({d}), 1.0 / (s * s)));
    EXPECT_TRUE(result.converged);
    EXPECT_TRUE(test::all_close(result.x, mean, 1e-10, 1e-12));
    // The product itself: H v / N.
    const Tensor v = test::random_tensor({d}, DType::f64, 23);
    EXPECT_TRUE(test::all_close(inference::negative_hessian_vector_product(lp, zero, batch, v),
                                mul(matmul(h, v.view({d, 1})).view({d}), 1.0 / n), 1e-12, 1e-14));
}

TEST(ConjugateGradient, IndefiniteOperatorAndBadArgumentsThrow) {
    const Tensor a =
        Tensor::from_vector(std::vector<double>{1.0, 0, 0, 0, -1.0, 0, 0, 0, 2.0}, {3, 3});
    const Tensor b = Tensor::ones({3}, DType::f64);
    using inference::conjugate_gradient;
    EXPECT_TRUE(test::throws_error([&] { conjugate_gradient(dense_operator(a), b); },
                                   {"conjugate_gradient", "non-positive curvature", "iteration"}));
    // Damping that makes it definite (δ = 1.5 > 1) makes it solvable.
    EXPECT_TRUE(
        conjugate_gradient(dense_operator(a), b, {.damping = 1.5, .tolerance = 1e-14}).converged);
    EXPECT_TRUE(
        test::throws_error([&] { conjugate_gradient({}, b); }, {"conjugate_gradient", "not set"}));
    EXPECT_TRUE(test::throws_error(
        [&] { conjugate_gradient([](const Tensor& v) { return v.narrow(0, 0, 2); }, b); },
        {"conjugate_gradient", "the operator returned [2]", "[3]"}));
    EXPECT_TRUE(
        test::throws_error([&] { conjugate_gradient(dense_operator(a), b, {.damping = -1.0}); },
                           {"conjugate_gradient", "damping must be >= 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            conjugate_gradient(dense_operator(eye(3, DType::f64)), b,
                               {.preconditioner = [](const Tensor& r) { return neg(r); }});
        },
        {"conjugate_gradient", "preconditioner is not positive definite"}));
    EXPECT_TRUE(test::throws_error(
        [&] { conjugate_gradient([](const Tensor& v) { return mul(v, NAN); }, b); },
        {"conjugate_gradient", "non-finite"}));
    EXPECT_TRUE(test::throws_error(
        [&] { conjugate_gradient(dense_operator(a), Tensor::zeros({0}, DType::f64)); },
        {"conjugate_gradient", "b is empty"}));
}

}  // namespace
}  // namespace postr
