// The predictives shared by every linearized Laplace approximation, against closed forms:
// the probit and Laplace-bridge formulas computed by hand on small cases, Monte Carlo against
// one-dimensional quadrature (for C = 2, p₁ = E[σ(f₁ − f₂)] with f₁ − f₂ Gaussian), and the
// regression moments.
#include "postr/inference/linearized_predictive.h"

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::FunctionalPosterior;

// One test point with C = 3, a full covariance (only its diagonal matters below).
FunctionalPosterior three_class_example() {
    FunctionalPosterior f;
    f.mean = Tensor::from_vector(std::vector<double>{1.0, -0.5, 0.2}, {1, 3});
    f.covariance = Tensor::from_vector(
        std::vector<double>{2.0, 0.3, -0.1, 0.3, 0.5, 0.2, -0.1, 0.2, 1.0}, {1, 3, 3});
    return f;
}

std::vector<double> normalised(std::vector<double> v) {
    double total = 0;
    for (double x : v) total += x;
    for (double& x : v) x /= total;
    return v;
}

TEST(LinearizedPredictive, ProbitScalesEachLogitByItsVariance) {
    const FunctionalPosterior f = three_class_example();
    const double k = std::numbers::pi / 8;
    const std::vector<double> mu{1.0, -0.5, 0.2}, var{2.0, 0.5, 1.0};
    std::vector<double> expected;
    for (int c = 0; c < 3; ++c) expected.push_back(std::exp(mu[c] / std::sqrt(1 + k * var[c])));
    const Tensor p = inference::probit_probabilities(f);
    // Both sides are a handful of double operations: 1e-14.
    EXPECT_TRUE(
        test::all_close(p, Tensor::from_vector(normalised(expected), {1, 3}), 1e-14, 1e-15));
}

TEST(LinearizedPredictive, LaplaceBridgeFollowsThePaperFormula) {
    const FunctionalPosterior f = three_class_example();
    // By hand: centre μ, s = Σ var / √(C/2), μ' = μ/√s, v' = v/s,
    // α_c = (1 − 2/C + e^{μ'_c} Σ_k e^{−μ'_k} / C²) / v'_c.
    const double c = 3;
    std::vector<double> mu{1.0, -0.5, 0.2}, var{2.0, 0.5, 1.0};
    const double centre = (1.0 - 0.5 + 0.2) / 3;
    const double s = (2.0 + 0.5 + 1.0) / std::sqrt(c / 2);
    double sum_exp_neg = 0;
    for (double& m : mu) {
        m = (m - centre) / std::sqrt(s);
        sum_exp_neg += std::exp(-m);
    }
    std::vector<double> alpha;
    for (int k = 0; k < 3; ++k)
        alpha.push_back((1 - 2 / c + std::exp(mu[k]) * sum_exp_neg / (c * c)) / (var[k] / s));
    const Tensor p = inference::laplace_bridge_probabilities(f);
    EXPECT_TRUE(test::all_close(p, Tensor::from_vector(normalised(alpha), {1, 3}), 1e-13, 1e-15));
    // A shared shift of the logits changes nothing (the softmax does not see it).
    FunctionalPosterior shifted = f;
    shifted.mean = add(f.mean, 7.0);
    EXPECT_TRUE(test::all_close(inference::laplace_bridge_probabilities(shifted), p, 1e-12, 1e-14));
}

TEST(LinearizedPredictive, MonteCarloMatchesQuadratureForTwoClasses) {
    // μ = (0.8, −0.3), Σ = [[1.5, 0.4], [0.4, 0.7]]: f₁ − f₂ ~ N(1.1, 1.5 + 0.7 − 0.8 = 1.4).
    FunctionalPosterior f;
    f.mean = Tensor::from_vector(std::vector<double>{0.8, -0.3}, {1, 2});
    f.covariance = Tensor::from_vector(std::vector<double>{1.5, 0.4, 0.4, 0.7}, {1, 2, 2});
    const double m = 1.1, sd = std::sqrt(1.4);
    double exact = 0;  // trapezoid over ±10 sd with 20,001 points: error ≪ 1e-8
    const int points = 20001;
    const double h = 20 * sd / (points - 1);
    for (int i = 0; i < points; ++i) {
        const double z = -10 * sd + i * h;
        const double weight = (i == 0 || i == points - 1) ? 0.5 : 1.0;
        const double density =
            std::exp(-0.5 * z * z / 1.4) / (sd * std::sqrt(2 * std::numbers::pi));
        exact += weight * h * density / (1 + std::exp(-(m + z)));
    }
    Generator gen(3);
    const Tensor p = inference::monte_carlo_probabilities(f, 200000, gen);
    // σ(·) has standard deviation below 0.25, so 200,000 draws give a standard error under
    // 6e-4: 5 standard errors is 3e-3.
    EXPECT_NEAR(p.to_vector<double>()[0], exact, 3e-3);
    EXPECT_NEAR(p.to_vector<double>()[0] + p.to_vector<double>()[1], 1.0, 1e-12);
}

TEST(LinearizedPredictive, MonteCarloAcceptsASingularCovariance) {
    // Rank 1 (C = 3 outputs, one weight): the jitter makes it factorisable and the answer stays
    // the exact integral along the one direction (checked loosely: it must be finite and differ
    // from the mean's softmax).
    FunctionalPosterior f;
    f.mean = Tensor::from_vector(std::vector<double>{0.0, 1.0, -1.0}, {1, 3});
    const Tensor v = Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.5}, {1, 3, 1});
    f.covariance = matmul(v, v.transpose(1, 2));
    Generator gen(4);
    const Tensor p = inference::monte_carlo_probabilities(f, 1000, gen);
    EXPECT_TRUE(all_finite(p));
    EXPECT_GT(postr::max(abs(sub(p, softmax(f.mean, 1)))).item(), 1e-3);
}

TEST(LinearizedPredictive, RegressionAddsTheObservationNoise) {
    const FunctionalPosterior f = three_class_example();
    const auto without = inference::regression_predictive(f);
    const auto with = inference::regression_predictive(f, 0.25);
    const Tensor diag = Tensor::from_vector(std::vector<double>{2.0, 0.5, 1.0}, {1, 3});
    EXPECT_TRUE(test::all_close(without.variance, diag, 0, 0));
    EXPECT_TRUE(test::all_close(with.variance, add(diag, 0.25), 0, 0));
    EXPECT_TRUE(test::all_close(with.mean, f.mean, 0, 0));
}

TEST(LinearizedPredictive, RejectsMismatchedShapesAndBadArguments) {
    FunctionalPosterior f = three_class_example();
    f.covariance = Tensor::zeros({1, 2, 2}, DType::f64);
    EXPECT_TRUE(test::throws_error([&] { inference::probit_probabilities(f); },
                                   {"marginal_variances", "[1, 2, 2]", "[1, 3]"}));
    Generator gen(1);
    EXPECT_TRUE(test::throws_error(
        [&] { inference::monte_carlo_probabilities(three_class_example(), 0, gen); },
        {"samples must be at least 1"}));
    EXPECT_TRUE(
        test::throws_error([&] { inference::regression_predictive(three_class_example(), -1.0); },
                           {"noise_variance"}));
}

}  // namespace
}  // namespace postr
