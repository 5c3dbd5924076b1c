// Diagonal linearized Laplace against known answers: with an orthogonal design (X̃ᵀX̃ diagonal)
// the GGN of a linear-Gaussian model is diagonal, so the diagonal Laplace IS the exact
// conjugate posterior (predictive variance, log det and evidence in closed form); on a small
// MLP the predictive covariance must equal J diag(σ²) Jᵀ built densely from the full per-sample
// Jacobian, and σ² must equal 1/(s·diag G + λ) with G the dense GGN. f64 throughout: the
// closed forms and postr's answers differ only in summation order (1e-10 relative).
#include "postr/inference/diagonal_linearized_laplace.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/inference/metrics.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::DiagonalLinearizedLaplace;
using inference::DiagonalLinearizedLaplaceOptions;

// n × d inputs whose columns are columns 1..d of the Sylvester-Hadamard matrix of order n (a
// power of two), scaled by `scales`: together with the bias column of ones (column 0) the
// design X̃ = [x, 1] has X̃ᵀX̃ = n·diag(scales², 1).
Tensor orthogonal_inputs(std::int64_t n, const std::vector<double>& scales) {
    const auto d = static_cast<std::int64_t>(scales.size());
    std::vector<double> values;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < d; ++j) {
            const int parity = std::popcount(static_cast<std::uint64_t>(i & (j + 1))) % 2;
            values.push_back((parity ? -1.0 : 1.0) * scales[static_cast<std::size_t>(j)]);
        }
    return Tensor::from_vector(values, {n, d});
}

// The diagonal of a contiguous square matrix a [n, n] → [n].
Tensor diagonal_of(const Tensor& a) {
    const std::int64_t n = a.size(0);
    return a.contiguous().as_strided({n}, {n + 1}, 0).contiguous();
}

Tensor design(const Tensor& inputs) {
    return cat({inputs, Tensor::ones({inputs.size(0), 1}, DType::f64)}, 1);
}

TEST(DiagonalLinearizedLaplace, OrthogonalLinearGaussianModelGivesTheExactPosterior) {
    const std::int64_t n = 16, d = 3;
    const double sigma = 0.6, lambda = 2.5;
    nn::Sequential model({std::make_shared<nn::Linear>(d, 1)});
    model.finalize(0, DType::f64);
    model.eval();
    const Tensor x = orthogonal_inputs(n, {0.5, 1.3, 2.0});
    const Tensor xt = design(x);
    const Tensor gram = matmul(xt.t(), xt);
    ASSERT_TRUE(test::all_close(gram, mul(gram, eye(d + 1, DType::f64)), 0, 1e-12))
        << "the test's design is not orthogonal";
    // The MAP of the conjugate model, so that the evidence is exact too: θ = [w, b].
    const Tensor y = test::random_tensor({n, 1}, DType::f64, 3);
    const Tensor precision =
        add(mul(gram, 1.0 / (sigma * sigma)), mul(eye(d + 1, DType::f64), lambda));
    const Tensor lp = cholesky(precision);
    const Tensor map = cholesky_solve(mul(matmul(xt.t(), y), 1.0 / (sigma * sigma)), lp);
    model.load_flat(map.view({d + 1}));

    DiagonalLinearizedLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    options.prior_precision = lambda;
    DiagonalLinearizedLaplace la(model, options);
    la.accumulate(x.narrow(0, 0, 10), y.narrow(0, 0, 10));
    la.accumulate(x.narrow(0, 10, 6), y.narrow(0, 10, 6));
    la.fit();

    const Tensor covariance = cholesky_inverse(lp);
    const Tensor exact_variances = diagonal_of(covariance);
    EXPECT_TRUE(test::all_close(la.posterior_variances(), exact_variances, 1e-10, 0));

    const Tensor x_test = test::random_tensor({7, d}, DType::f64, 4, -3, 3);
    const Tensor zt = design(x_test);
    const Tensor expected = sum(mul(matmul(zt, covariance), zt), {1});  // z̃ᵀ Σ z̃
    const auto f = la.predict(x_test);
    ASSERT_EQ(f.covariance.shape(), (Shape{7, 1, 1}));
    EXPECT_TRUE(test::all_close(f.covariance.view({7}), expected, 1e-10, 1e-14));
    {
        NoGradGuard no_graph;
        EXPECT_TRUE(test::all_close(f.mean, model(Var(x_test)).value(), 0, 0));
    }
    const auto p = la.predict_regression(x_test);
    EXPECT_TRUE(test::all_close(p.variance.view({7}), add(expected, sigma * sigma), 1e-10, 1e-14));
    const auto p_function = la.predict_regression(x_test, false);
    EXPECT_TRUE(test::all_close(p_function.variance.view({7}), expected, 1e-10, 1e-14));

    EXPECT_NEAR(la.posterior_log_determinant(), -cholesky_logdet(lp).item(), 1e-10);
    // At the exact MAP of a linear-Gaussian model the Laplace evidence is exact:
    // log N(y | 0, σ²I + X̃X̃ᵀ/λ).
    const double log_2pi = std::log(2 * std::numbers::pi);
    const Tensor residual = sub(y, matmul(xt, map));
    const double log_lik = -0.5 * sum(square(residual)).item() / (sigma * sigma) -
                           0.5 * static_cast<double>(n) * (log_2pi + 2 * std::log(sigma));
    const Tensor marginal =
        add(mul(eye(n, DType::f64), sigma * sigma), mul(matmul(xt, xt.t()), 1.0 / lambda));
    const Tensor lm = cholesky(marginal);
    const double exact = -0.5 * sum(square(triangular_solve(lm, y))).item() -
                         0.5 * cholesky_logdet(lm).item() - 0.5 * static_cast<double>(n) * log_2pi;
    EXPECT_NEAR(la.log_marginal_likelihood(log_lik), exact, 1e-9 * std::abs(exact));

    // The optimiser lands on a maximum of the (θ*-fixed) evidence.
    const double best = la.optimize_prior_precision();
    EXPECT_DOUBLE_EQ(la.prior_precision(), best);
    const double at_best = la.log_marginal_likelihood();
    for (double factor : {0.98, 1.02}) {
        la.set_prior_precision(best * factor);
        la.fit();
        EXPECT_LT(la.log_marginal_likelihood(), at_best) << "factor " << factor;
    }
}

TEST(DiagonalLinearizedLaplace, MlpPredictiveIsJacobianTimesDiagonalTimesJacobianTranspose) {
    auto net = test::curvature_mlp(3, 2, 5);  // C = 2 outputs: the covariance is 2×2 per input
    const Tensor x = test::random_tensor({23, 3}, DType::f64, 6);
    const Tensor x_test = test::random_tensor({9, 3}, DType::f64, 7);
    const double sigma = 0.4, lambda = 0.7, scale = 1.5;
    DiagonalLinearizedLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    options.prior_precision = lambda;
    options.ggn_scale = scale;
    options.chunk_size = 4;  // several chunks, a ragged last one, for the GGN and the predictive
    DiagonalLinearizedLaplace la(*net, options);
    la.accumulate(x);
    la.fit();

    // σ² = 1/(s·diag G + λ) with G the dense GGN over all D weights.
    nn::CurvatureOptions dense_options;
    dense_options.likelihood = options.likelihood;
    nn::DenseCurvature dense(*net, dense_options);
    dense.accumulate(x);
    const Tensor ggn_diag = diagonal_of(dense.matrix());
    const Tensor variances = reciprocal(add(mul(ggn_diag, scale), lambda));
    EXPECT_TRUE(test::all_close(la.posterior_variances(), variances, 1e-10, 0));
    EXPECT_TRUE(test::all_close(la.ggn_diagonal(), ggn_diag, 1e-10, 1e-14));

    // Σ_* = J diag(σ²) Jᵀ per test input, from the dense [N, C, D] Jacobian.
    const Tensor j = nn::per_sample_jacobian(*net, x_test);  // [9, 2, D]
    const Tensor expected = matmul(mul(j, variances), j.transpose(1, 2).contiguous());
    const auto f = la.predict(x_test);
    ASSERT_EQ(f.covariance.shape(), (Shape{9, 2, 2}));
    EXPECT_TRUE(test::all_close(f.covariance, expected, 1e-10, 1e-14));
    // The outputs share weights, so the 2×2 covariances are not diagonal.
    EXPECT_GT(postr::max(abs(f.covariance.select(2, 0).select(1, 1))).item(), 1e-3);
    NoGradGuard no_graph;
    EXPECT_TRUE(test::all_close(f.mean, (*net)(Var(x_test)).value(), 0, 0));
}

TEST(DiagonalLinearizedLaplace, SampledWeightsHaveThePosteriorMoments) {
    auto net = test::curvature_mlp(3, 1, 8);
    const std::int64_t d = net->num_parameters();
    DiagonalLinearizedLaplace la(
        *net, {.likelihood = nn::Likelihood::gaussian(0.5), .prior_precision = 2.0});
    la.accumulate(test::random_tensor({30, 3}, DType::f64, 9));
    la.fit();
    Generator gen(10);
    const std::int64_t n = 20000;
    const Tensor draws = la.sample(n, gen);  // [n, D]
    ASSERT_EQ(draws.shape(), (Shape{n, d}));
    const Tensor theta = net->parameters().theta();
    const Tensor sd = sqrt(la.posterior_variances());
    // Standardized by the posterior: z = (θ − θ*)/σ must have mean 0 (standard error 1/√n ≈
    // 0.007), variance 1 (s.e. √(2/n) = 0.01) and no correlation (s.e. 1/√n). Five standard
    // errors for the maximum over D = 62 coordinates (or D² pairs: 0.04 is still 5.6 s.e.).
    const Tensor z = div(sub(draws, theta), sd);
    EXPECT_LT(postr::max(abs(mean(z, {0}))).item(), 0.035);
    const Tensor centred = sub(z, mean(z, {0}, true));
    const Tensor cov = mul(matmul(centred.t(), centred), 1.0 / (n - 1));
    EXPECT_LT(postr::max(abs(sub(cov, eye(d, DType::f64)))).item(), 0.05);
    EXPECT_EQ(la.sample(0, gen).shape(), (Shape{0, d}));
}

TEST(DiagonalLinearizedLaplace, ProbitProbabilitiesCollapseToTheMapUnderAStrongPrior) {
    auto net = test::curvature_mlp(3, 4, 11);
    DiagonalLinearizedLaplace la(*net);
    la.accumulate(test::random_tensor({12, 3}, DType::f64, 12));
    la.fit();
    const Tensor x_test = test::random_tensor({5, 3}, DType::f64, 13);
    const Tensor probs = la.predict_probabilities(x_test);
    EXPECT_TRUE(test::all_close(sum(probs, {1}), Tensor::ones({5}, DType::f64), 1e-12, 1e-12));
    EXPECT_TRUE(test::all_close(probs, inference::probit_probabilities(la.predict(x_test)), 0, 0));
    la.set_prior_precision(1e10);
    la.fit();
    NoGradGuard no_graph;
    const Tensor map = softmax((*net)(Var(x_test)).value(), 1);
    EXPECT_TRUE(test::all_close(la.predict_probabilities(x_test), map, 1e-6, 1e-8));
}

// One Jacobian pass serving every λ must choose what refitting and predicting per λ chooses,
// for both likelihoods and across chunks (chunk_size 3 splits the 20 validation inputs).
TEST(DiagonalLinearizedLaplace, ValidationGridPicksTheLowestNll) {
    for (const bool categorical : {true, false}) {
        SCOPED_TRACE(categorical ? "categorical" : "gaussian");
        const std::int64_t outputs = categorical ? 4 : 2;
        auto net = test::curvature_mlp(3, outputs, 21);
        DiagonalLinearizedLaplaceOptions options;
        if (!categorical) options.likelihood = nn::Likelihood::gaussian(0.3);
        options.chunk_size = 3;
        DiagonalLinearizedLaplace la(*net, options);
        la.accumulate(test::random_tensor({30, 3}, DType::f64, 22));
        const Tensor x_val = test::random_tensor({20, 3}, DType::f64, 23);
        const Tensor y_val = categorical ? test::random_ints({20}, 0, outputs, 24)
                                         : test::random_tensor({20, outputs}, DType::f64, 24);
        const std::vector<double> grid{0.01, 0.1, 1.0, 10.0, 100.0};
        std::vector<double> nll;
        for (double lambda : grid) {
            la.set_prior_precision(lambda);
            la.fit();
            if (categorical) {
                nll.push_back(
                    inference::negative_log_likelihood(la.predict_probabilities(x_val), y_val));
            } else {
                const inference::RegressionPredictive p = la.predict_regression(x_val, true);
                nll.push_back(-inference::gaussian_log_likelihood(p.mean, p.variance, y_val));
            }
        }
        const auto best = std::min_element(nll.begin(), nll.end());
        ASSERT_GT(*std::max_element(nll.begin(), nll.end()) - *best, 1e-3)
            << "the grid does not separate the priors; the test would pass by accident";
        const double chosen = grid[static_cast<std::size_t>(best - nll.begin())];
        EXPECT_EQ(la.tune_prior_precision_on_validation(grid, x_val, y_val), chosen);
        EXPECT_EQ(la.prior_precision(), chosen);
        EXPECT_NO_THROW(la.posterior_variances());  // refitted at the chosen λ
    }
}

TEST(DiagonalLinearizedLaplace, RejectsBadArgumentsAndUseBeforeFit) {
    auto net = test::curvature_mlp(3, 1, 14);
    EXPECT_TRUE(test::throws_error([&] { DiagonalLinearizedLaplace(*net, {.prior_precision = 0}); },
                                   {"prior precision must be positive", "got 0"}));
    EXPECT_TRUE(test::throws_error([&] { DiagonalLinearizedLaplace(*net, {.ggn_scale = -1.0}); },
                                   {"ggn_scale", "got -1"}));
    DiagonalLinearizedLaplace la(*net, {.likelihood = nn::Likelihood::gaussian(1.0)});
    EXPECT_TRUE(test::throws_error([&] { la.fit(); }, {"no data accumulated"}));
    la.accumulate(test::random_tensor({4, 3}, DType::f64, 15));
    const Tensor x_test = test::random_tensor({2, 3}, DType::f64, 16);
    EXPECT_TRUE(test::throws_error([&] { la.predict(x_test); }, {"not fitted"}));
    EXPECT_TRUE(test::throws_error([&] { la.posterior_variances(); }, {"not fitted"}));
    la.fit();
    EXPECT_TRUE(test::throws_error([&] { la.set_prior_precision(-2.0); }, {"got -2"}));
    // A rejected λ leaves the fit as it was.
    EXPECT_NO_THROW(la.predict(x_test));
    EXPECT_TRUE(
        test::throws_error([&] { la.predict_probabilities(x_test); }, {"categorical likelihood"}));
    EXPECT_TRUE(
        test::throws_error([&] { la.predict(x_test.narrow(0, 0, 0)); }, {"at least one sample"}));
    Generator gen(17);
    EXPECT_TRUE(test::throws_error([&] { la.sample(-1, gen); }, {"n must be ≥ 0"}));
    EXPECT_TRUE(
        test::throws_error([&] { la.optimize_prior_precision(2.0, 1.0); }, {"0 < low < high"}));
    const Tensor y_test = test::random_tensor({2, 1}, DType::f64, 19);
    EXPECT_TRUE(test::throws_error(
        [&] { la.tune_prior_precision_on_validation({}, x_test, y_test); }, {"grid", "empty"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.tune_prior_precision_on_validation({1.0, -3.0}, x_test, y_test);
        },
        {"positive and finite", "got -3"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.tune_prior_precision_on_validation({1.0}, x_test.narrow(0, 0, 0),
                                                  y_test.narrow(0, 0, 0));
        },
        {"at least one validation sample"}));
    DiagonalLinearizedLaplace categorical(*net);
    categorical.accumulate(test::random_tensor({4, 3}, DType::f64, 18));
    categorical.fit();
    EXPECT_TRUE(test::throws_error([&] { categorical.predict_regression(x_test); },
                                   {"Gaussian likelihood"}));
}

}  // namespace
}  // namespace postr
