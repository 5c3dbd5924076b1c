// Subnetwork linearized Laplace against known answers: on a linear-Gaussian model the Laplace
// posterior is the exact conjugate posterior, so the predictive variance must equal
// x̃ᵀ (X̃ᵀX̃/σ² + λI)⁻¹ x̃ (x̃ = [x, 1]); nested subnetworks give non-decreasing predictive
// variance; the probit and Monte Carlo predictives agree. f64 throughout: the exact answer and
// postr's differ only in summation order (1e-10 relative).
#include "postr/inference/subnetwork_laplace.h"

#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::SubnetworkLaplace;
using inference::SubnetworkLaplaceOptions;

TEST(SubnetworkLaplace, LinearGaussianModelGivesTheExactConjugatePosterior) {
    const std::int64_t n = 40, d = 3;
    const double sigma = 0.7, lambda = 2.0;
    nn::Sequential model({std::make_shared<nn::Linear>(d, 1)});
    model.finalize(0, DType::f64);
    model.eval();
    const Tensor x = test::random_tensor({n, d}, DType::f64, 1);
    SubnetworkLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    options.prior_precision = lambda;
    // All D = d + 1 weights, in a scrambled order: the answer must not depend on it.
    SubnetworkLaplace la(model, Tensor::from_vector(std::vector<std::int64_t>{2, 3, 0, 1}, {4}),
                         options);
    la.accumulate(x.narrow(0, 0, 25));
    la.accumulate(x.narrow(0, 25, 15));
    la.fit();

    // θ = [w, b]: the design row of x is [x, 1].
    auto design = [&](const Tensor& inputs) {
        return cat({inputs, Tensor::ones({inputs.size(0), 1}, DType::f64)}, 1);
    };
    const Tensor xt = design(x);
    const Tensor precision =
        add(mul(matmul(xt.t(), xt), 1.0 / (sigma * sigma)), mul(eye(d + 1, DType::f64), lambda));
    const Tensor covariance = cholesky_inverse(cholesky(precision));
    const Tensor x_test = test::random_tensor({6, d}, DType::f64, 2);
    const Tensor zt = design(x_test);
    const Tensor expected = sum(mul(matmul(zt, covariance), zt), {1});

    const auto f = la.predict(x_test);
    EXPECT_EQ(f.covariance.shape(), (Shape{6, 1, 1}));
    EXPECT_TRUE(test::all_close(f.covariance.view({6}), expected, 1e-10, 1e-12));
    NoGradGuard no_graph;
    EXPECT_TRUE(test::all_close(f.mean, model(Var(x_test)).value(), 0, 0));
    // log det Σ = −log det(precision).
    EXPECT_NEAR(la.posterior_log_determinant(), -cholesky_logdet(cholesky(precision)).item(),
                1e-10);
}

TEST(SubnetworkLaplace, NestedSubnetworksNeverShrinkThePredictiveVariance) {
    // v ᵀ P⁻¹ v ≥ v₁ᵀ P₁₁⁻¹ v₁ for a sub-block (a Schur-complement argument): adding weights
    // to the subnetwork can only add predictive variance, for every test point and output.
    auto net = test::curvature_cnn(1, 3);
    const Tensor x = test::random_tensor({12, 1, 5, 5}, DType::f64, 4);
    const Tensor x_test = test::random_tensor({4, 1, 5, 5}, DType::f64, 5);
    // A random nested sequence: prefixes of one random permutation of θ.
    const Tensor permutation =
        topk(test::random_tensor({net->num_parameters()}, DType::f64, 7), net->num_parameters())
            .indices;
    Tensor previous;
    for (std::int64_t s :
         {std::int64_t{5}, std::int64_t{40}, std::int64_t{150}, net->num_parameters()}) {
        SubnetworkLaplace la(*net, permutation.narrow(0, 0, s));
        la.accumulate(x);
        la.fit();
        const Tensor cov = la.predict(x_test).covariance;
        const Tensor variances = cov.as_strided({4, 3}, {9, 4}, 0).contiguous();
        if (previous.defined()) {
            EXPECT_TRUE(all_finite(variances) &&
                        postr::min(sub(variances, previous)).item() >= -1e-12)
                << "S = " << s;
        }
        previous = variances;
    }
}

TEST(SubnetworkLaplace, ProbitAndMonteCarloPredictivesAgree) {
    auto net = test::curvature_cnn(1, 8);
    const Tensor x = test::random_tensor({10, 1, 5, 5}, DType::f64, 9);
    const Tensor x_test = test::random_tensor({5, 1, 5, 5}, DType::f64, 10);
    SubnetworkLaplace la(*net, nn::select_random(net->num_parameters(), 60, 11));
    la.accumulate(x);
    la.fit();
    const Tensor probit = la.predict_probabilities(x_test);
    EXPECT_TRUE(test::all_close(sum(probit, {1}), Tensor::ones({5}, DType::f64), 1e-12, 1e-12));
    Generator gen(12);
    const Tensor mc = la.predict_probabilities_mc(x_test, 20000, gen);
    // Probit is an approximation of the same integral: at the variances here (≈ 0.1-1) it is
    // within a few hundredths of the MC answer, whose own error is ≈ 0.3% at 20,000 draws.
    EXPECT_LT(postr::max(abs(sub(mc, probit))).item(), 0.03);

    // A very strong prior leaves no variance: both collapse onto softmax(f(x; θ_MAP)).
    la.set_prior_precision(1e10);
    la.fit();
    NoGradGuard no_graph;
    const Tensor map = softmax((*net)(Var(x_test)).value(), 1);
    EXPECT_TRUE(test::all_close(la.predict_probabilities(x_test), map, 1e-6, 1e-8));
    EXPECT_TRUE(test::all_close(la.predict_probabilities_mc(x_test, 10, gen), map, 1e-4, 1e-6));
}

TEST(SubnetworkLaplace, EvidenceIsExactForLinearGaussianAndTheOptimumIsAMaximum) {
    // At the exact MAP of a linear-Gaussian model the Laplace evidence is exact:
    // log N(y | 0, σ²I + X Xᵀ/λ).
    const std::int64_t n = 30, d = 4;
    const double sigma = 0.6, lambda = 3.0;
    nn::Sequential model({std::make_shared<nn::Linear>(d, 1, false)});
    model.finalize(0, DType::f64);
    model.eval();
    const Tensor x = test::random_tensor({n, d}, DType::f64, 21);
    const Tensor y = test::random_tensor({n, 1}, DType::f64, 22);
    const Tensor precision =
        add(mul(matmul(x.t(), x), 1.0 / (sigma * sigma)), mul(eye(d, DType::f64), lambda));
    const Tensor map =
        cholesky_solve(mul(matmul(x.t(), y), 1.0 / (sigma * sigma)), cholesky(precision));
    model.load_flat(map.view({d}));
    SubnetworkLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    options.prior_precision = lambda;
    SubnetworkLaplace la(model, arange(0, d, 1, DType::i64), options);
    la.accumulate(x);
    la.fit();
    const double log_2pi = std::log(2 * std::numbers::pi);
    const Tensor residual = sub(y, matmul(x, map));
    const double log_lik = -0.5 * sum(square(residual)).item() / (sigma * sigma) -
                           0.5 * static_cast<double>(n) * (log_2pi + 2 * std::log(sigma));
    const Tensor marginal =
        add(mul(eye(n, DType::f64), sigma * sigma), mul(matmul(x, x.t()), 1.0 / lambda));
    const Tensor lm = cholesky(marginal);
    const Tensor white = triangular_solve(lm, y);
    const double exact = -0.5 * sum(square(white)).item() - 0.5 * cholesky_logdet(lm).item() -
                         0.5 * static_cast<double>(n) * log_2pi;
    EXPECT_NEAR(la.log_marginal_likelihood(log_lik), exact, 1e-9 * std::abs(exact));

    // The optimiser lands on a maximum of the (θ*-fixed) evidence.
    const double best = la.optimize_prior_precision();
    const double at_best = la.log_marginal_likelihood();
    for (double factor : {0.98, 1.02}) {
        la.set_prior_precision(best * factor);
        la.fit();
        EXPECT_LT(la.log_marginal_likelihood(), at_best) << "factor " << factor;
    }
    EXPECT_TRUE(
        test::throws_error([&] { la.optimize_prior_precision(1.0, 0.5); }, {"0 < low < high"}));
}

TEST(SubnetworkLaplace, SampledWeightsHaveThePosteriorCovariance) {
    // The Lᵀ check: the sample covariance of θ_S must be Σ_S = (G_S + λI)⁻¹, which a sampler
    // that multiplies by L⁻¹ instead of L⁻ᵀ misses whenever G_S is not diagonal.
    auto net = test::curvature_mlp(3, 2, 1);
    const Tensor x = test::random_tensor({20, 3}, DType::f64, 31);
    const Tensor index = Tensor::from_vector(std::vector<std::int64_t>{0, 4, 1, 7}, {4});
    SubnetworkLaplace la(*net, index, {.prior_precision = 0.5});
    la.accumulate(x);
    la.fit();
    Generator gen(32);
    const std::int64_t n = 40000;
    const Tensor draws = la.sample(n, gen);  // [n, 4]
    ASSERT_EQ(draws.shape(), (Shape{n, 4}));
    const Tensor sigma = cholesky_inverse(la.precision_cholesky());
    const Tensor centred = sub(draws, mean(draws, {0}, true));
    const Tensor sample_cov = mul(matmul(centred.t(), centred), 1.0 / (n - 1));
    // Entry (i, j) of a sample covariance has standard error √((Σ_ii Σ_jj + Σ_ij²)/n) ≤
    // √(2/n)·max Σ_ii ≈ 0.007·max Σ_ii: 5 standard errors.
    const double scale = postr::max(sigma).item();
    EXPECT_LT(postr::max(abs(sub(sample_cov, sigma))).item(), 0.035 * scale);
    const Tensor theta_s = index_select(net->parameters().theta(), 0, index);
    EXPECT_LT(postr::max(abs(sub(mean(draws, {0}), theta_s))).item(), 0.03 * std::sqrt(scale));
}

TEST(SubnetworkLaplace, RegressionPredictiveAddsTheLikelihoodNoise) {
    nn::Sequential model({std::make_shared<nn::Linear>(2, 1)});
    model.finalize(0, DType::f64);
    model.eval();
    SubnetworkLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(0.3);
    SubnetworkLaplace la(model, arange(0, 3, 1, DType::i64), options);
    la.accumulate(test::random_tensor({10, 2}, DType::f64, 41));
    la.fit();
    const Tensor x_test = test::random_tensor({4, 2}, DType::f64, 42);
    const Tensor function_variance = la.predict(x_test).covariance.view({4, 1});
    EXPECT_TRUE(
        test::all_close(la.predict_regression(x_test, false).variance, function_variance, 0, 0));
    EXPECT_TRUE(test::all_close(la.predict_regression(x_test).variance,
                                add(function_variance, 0.09), 1e-15, 1e-15));
    EXPECT_TRUE(test::throws_error([&] { la.predict_probabilities(x_test); },
                                   {"needs a categorical likelihood"}));
}

TEST(SubnetworkLaplace, SaysWhatIsMissing) {
    auto net = test::curvature_mlp(3, 2, 1);
    const Tensor index = Tensor::from_vector(std::vector<std::int64_t>{0, 1}, {2});
    SubnetworkLaplace la(*net, index);
    EXPECT_TRUE(test::throws_error([&] { la.fit(); }, {"no data accumulated"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.predict(test::random_tensor({2, 3}, DType::f64, 1));
        },
        {"not fitted"}));
    SubnetworkLaplaceOptions bad;
    bad.prior_precision = 0;
    EXPECT_TRUE(test::throws_error([&] { SubnetworkLaplace(*net, index, bad); },
                                   {"prior precision must be positive"}));
}

}  // namespace
}  // namespace postr
