// Subnetwork Laplace hyperparameters and persistence: per-weight priors in the evidence, the
// evidence maximisers against conjugate Bayesian linear regression (where the evidence is known
// in closed form), validation-grid tuning, the jitter retry, and save/load round trips.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/inference/jittered_cholesky.h"
#include "postr/inference/metrics.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/io/checkpoint.h"
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

const double kLog2Pi = std::log(2 * std::numbers::pi);

// Bayesian linear regression y = X w + ε, w ~ N(0, I/λ), ε ~ N(0, σ²): the exact evidence
// log N(y | 0, σ² I + X Xᵀ / λ) and the exact MAP.
struct Conjugate {
    Tensor x, y;
    std::int64_t n, d;

    double evidence(double lambda, double sigma) const {
        const Tensor k =
            add(mul(eye(n, DType::f64), sigma * sigma), mul(matmul(x, x.t()), 1.0 / lambda));
        const Tensor l = cholesky(k);
        const Tensor white = triangular_solve(l, y);
        return -0.5 * sum(square(white)).item() - 0.5 * cholesky_logdet(l).item() -
               0.5 * static_cast<double>(n) * kLog2Pi;
    }
    Tensor map(double lambda, double sigma) const {
        const Tensor precision =
            add(mul(matmul(x.t(), x), 1.0 / (sigma * sigma)), mul(eye(d, DType::f64), lambda));
        return cholesky_solve(mul(matmul(x.t(), y), 1.0 / (sigma * sigma)), cholesky(precision))
            .view({d});
    }
    double sse(const Tensor& w) const {
        return sum(square(sub(y, matmul(x, w.view({d, 1}))))).item();
    }
};

Conjugate make_conjugate(std::int64_t n, std::int64_t d, std::uint64_t seed) {
    Conjugate c{test::random_tensor({n, d}, DType::f64, seed), Tensor(), n, d};
    const Tensor w = mul(test::random_tensor({d, 1}, DType::f64, seed + 1), 0.8);
    c.y = add(matmul(c.x, w), mul(test::random_tensor({n, 1}, DType::f64, seed + 2), 0.4));
    return c;
}

std::unique_ptr<nn::Sequential> linear_model(std::int64_t d) {
    auto model = std::make_unique<nn::Sequential>(
        std::vector<std::shared_ptr<nn::Module>>{std::make_shared<nn::Linear>(d, 1, false)});
    model->finalize(0, DType::f64);
    model->eval();
    return model;
}

// Golden-section maximiser of f on log-scale [a, b].
template <class F>
double argmax_log(F f, double a, double b) {
    const double ratio = (std::sqrt(5.0) - 1) / 2;
    a = std::log(a);
    b = std::log(b);
    while (b - a > 1e-10) {
        const double c = b - ratio * (b - a), d = a + ratio * (b - a);
        if (f(std::exp(c)) > f(std::exp(d)))
            b = d;
        else
            a = c;
    }
    return std::exp(0.5 * (a + b));
}

TEST(SubnetworkLaplaceHyper, PerWeightPriorEntersTheEvidenceExactly) {
    // With the weights at the exact MAP of a per-weight prior N(0, diag(1/λ_i)), the Laplace
    // evidence is exact: log N(y | 0, σ²I + X Λ⁻¹ Xᵀ).
    const Conjugate c = make_conjugate(25, 3, 11);
    const double sigma = 0.5;
    const std::vector<double> lambda{0.5, 2.0, 8.0};
    const Tensor lam = Tensor::from_vector(lambda, {3});
    const Tensor precision = add(mul(matmul(c.x.t(), c.x), 1.0 / (sigma * sigma)),
                                 mul(eye(3, DType::f64), lam.view({3, 1})));
    const Tensor w =
        cholesky_solve(mul(matmul(c.x.t(), c.y), 1.0 / (sigma * sigma)), cholesky(precision));
    auto model = linear_model(3);
    model->load_flat(w.view({3}));
    SubnetworkLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    SubnetworkLaplace la(*model, arange(0, 3, 1, DType::i64), options);
    la.accumulate(c.x);
    la.set_prior_precision(lam);
    la.fit();
    const Tensor marginal =
        add(mul(eye(c.n, DType::f64), sigma * sigma), matmul(mul(c.x, reciprocal(lam)), c.x.t()));
    const Tensor lm = cholesky(marginal);
    const double exact = -0.5 * sum(square(triangular_solve(lm, c.y))).item() -
                         0.5 * cholesky_logdet(lm).item() -
                         0.5 * static_cast<double>(c.n) * kLog2Pi;
    const double log_lik = -0.5 * c.sse(w) / (sigma * sigma) -
                           0.5 * static_cast<double>(c.n) * (kLog2Pi + 2 * std::log(sigma));
    // Both sides sum a few dozen f64 terms of size ≈ 30: 1e-10 relative.
    EXPECT_NEAR(la.log_marginal_likelihood(log_lik), exact, 1e-10 * std::abs(exact));
    EXPECT_TRUE(test::throws_error([&] { (void)la.prior_precision(); }, {"prior_precisions()"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.set_prior_precision(Tensor::from_vector(std::vector<double>{1, 0, 1}, {3}));
        },
        {"positive and finite"}));
}

TEST(SubnetworkLaplaceHyper, AlternatingMapAndEvidenceUpdatesReachTheExactTypeTwoOptimum) {
    // MacKay's scheme: refit the MAP for the current λ (and σ), then maximise the θ*-fixed
    // Laplace evidence. Its fixed point is the maximiser of the exact evidence of conjugate
    // Bayesian linear regression; the brute-force maximiser below is the closed form's.
    const Conjugate c = make_conjugate(40, 4, 21);
    auto model = linear_model(4);
    double lambda = 1.0, sigma = 1.0;
    for (int round = 0; round < 200; ++round) {
        const Tensor w = c.map(lambda, sigma);
        model->load_flat(w);
        SubnetworkLaplaceOptions options;
        options.likelihood = nn::Likelihood::gaussian(sigma);
        options.prior_precision = lambda;
        SubnetworkLaplace la(*model, arange(0, 4, 1, DType::i64), options);
        la.accumulate(c.x);
        inference::HyperparameterOptions h;
        h.learn_noise = true;
        h.sum_squared_error = c.sse(w);
        h.num_observations = c.n;
        h.max_iterations = 1;
        const inference::HyperparameterFit fit = la.optimize_hyperparameters(h);
        lambda = fit.prior_precisions.to_vector<double>()[0];
        sigma = fit.sigma;
    }
    // The exact evidence is stationary there: central differences in log λ and log σ vanish
    // (step 1e-4: truncation ≈ 1e-8 × curvature, rounding ≈ 1e-16 × 30 / 1e-4).
    const double h = 1e-4;
    const double d_lambda =
        (c.evidence(lambda * std::exp(h), sigma) - c.evidence(lambda * std::exp(-h), sigma)) /
        (2 * h);
    const double d_sigma =
        (c.evidence(lambda, sigma * std::exp(h)) - c.evidence(lambda, sigma * std::exp(-h))) /
        (2 * h);
    EXPECT_NEAR(d_lambda, 0.0, 1e-5);
    EXPECT_NEAR(d_sigma, 0.0, 1e-5);
    // And with σ held at that value, λ is the one-dimensional maximiser of the exact evidence.
    const double best = argmax_log([&](double l) { return c.evidence(l, sigma); }, 1e-3, 1e3);
    EXPECT_NEAR(lambda, best, 1e-5 * best);
}

TEST(SubnetworkLaplaceHyper, PerLayerPriorsReachAStationaryEvidence) {
    // Per-layer λ on an MLP subnetwork (θ* fixed): at the returned precisions the θ*-fixed
    // evidence is stationary in each log λ_g (central differences, step 1e-4).
    auto net = test::curvature_mlp(3, 2, 41);
    const Tensor x = test::random_tensor({30, 3}, DType::f64, 42);
    const Tensor index = arange(0, net->num_parameters(), 1, DType::i64);
    SubnetworkLaplace la(*net, index);
    la.accumulate(x);
    const nn::SubnetworkGroups groups = nn::group_by_layer(*net, index);
    inference::HyperparameterOptions h;
    h.groups = groups.group;
    const inference::HyperparameterFit fit = la.optimize_hyperparameters(h);
    EXPECT_TRUE(fit.converged);
    const std::vector<double> lambda = fit.prior_precisions.to_vector<double>();
    ASSERT_EQ(lambda.size(), groups.names.size());
    const std::vector<std::int64_t> group = groups.group.to_vector<std::int64_t>();
    auto evidence_with = [&](std::size_t k, double factor) {
        std::vector<double> per_weight;
        for (std::int64_t g : group)
            per_weight.push_back(lambda[static_cast<std::size_t>(g)] *
                                 (static_cast<std::size_t>(g) == k ? factor : 1.0));
        la.set_prior_precision(
            Tensor::from_vector(per_weight, {static_cast<std::int64_t>(per_weight.size())}));
        la.fit();
        return la.log_marginal_likelihood();
    };
    for (std::size_t k = 0; k < lambda.size(); ++k) {
        const double h_step = 1e-4;
        const double derivative =
            (evidence_with(k, std::exp(h_step)) - evidence_with(k, std::exp(-h_step))) /
            (2 * h_step);
        EXPECT_NEAR(derivative, 0.0, 1e-5) << "group " << groups.names[k];
    }
}

TEST(SubnetworkLaplaceHyper, EvidenceGradientMatchesCentralDifferences) {
    // Away from the optimum (per-layer λ from 0.3 to 3, σ = 0.7, none optimal), the analytic
    // gradient in log λ_g and log σ against central differences of the evidence with its
    // Gaussian data fit, step 1e-4: truncation ≈ 1e-8 × the third derivative, rounding ≈
    // 1e-16 × |evidence| / 1e-4 ≈ 1e-10; bound 1e-6 relative to the largest component.
    auto net = test::curvature_mlp(3, 2, 61);
    const Tensor x = test::random_tensor({30, 3}, DType::f64, 62);
    const Tensor index = nn::select_random(net->num_parameters(), 25, 63);
    const double sse = 4.2, scale = 2.0;
    const std::int64_t n_obs = 60;  // N · C
    SubnetworkLaplace la(*net, index,
                         {.likelihood = nn::Likelihood::gaussian(0.7), .ggn_scale = scale});
    la.accumulate(x);
    const nn::SubnetworkGroups groups = nn::group_by_layer(*net, index);
    const std::vector<std::int64_t> group = groups.group.to_vector<std::int64_t>();
    const auto num_groups = static_cast<std::int64_t>(groups.names.size());
    ASSERT_GE(num_groups, 2);
    std::vector<double> lambda;
    for (std::int64_t g = 0; g < num_groups; ++g)
        lambda.push_back(0.3 * std::pow(10.0, static_cast<double>(g) / (num_groups - 1)));
    inference::HyperparameterOptions h;
    h.groups = groups.group;
    h.learn_noise = true;
    h.sum_squared_error = sse;
    h.num_observations = n_obs;

    auto evidence = [&](const std::vector<double>& lam, double sigma) {
        std::vector<double> per_weight;
        for (std::int64_t g : group) per_weight.push_back(lam[static_cast<std::size_t>(g)]);
        la.set_noise_sigma(sigma);
        la.set_prior_precision(Tensor::from_vector(per_weight, {la.size()}));
        la.fit();
        const double s_obs = scale * static_cast<double>(n_obs), s_sse = scale * sse;
        return la.log_marginal_likelihood(-0.5 * s_obs *
                                              std::log(2 * std::numbers::pi * sigma * sigma) -
                                          s_sse / (2 * sigma * sigma));
    };
    const double sigma = 0.7, step = 1e-4;
    evidence(lambda, sigma);
    const inference::EvidenceGradient grad = la.log_marginal_likelihood_gradient(h);
    const std::vector<double> analytic = grad.log_prior_precisions.to_vector<double>();
    ASSERT_EQ(analytic.size(), lambda.size());
    std::vector<double> numeric;
    for (std::size_t k = 0; k < lambda.size(); ++k) {
        std::vector<double> up = lambda, down = lambda;
        up[k] *= std::exp(step);
        down[k] *= std::exp(-step);
        numeric.push_back((evidence(up, sigma) - evidence(down, sigma)) / (2 * step));
    }
    numeric.push_back(
        (evidence(lambda, sigma * std::exp(step)) - evidence(lambda, sigma * std::exp(-step))) /
        (2 * step));
    std::vector<double> expected = analytic;
    expected.push_back(grad.log_sigma);
    double largest = 0;
    for (double v : numeric) largest = std::max(largest, std::abs(v));
    ASSERT_GT(largest, 0.1) << "the point is too close to the optimum to test anything";
    for (std::size_t k = 0; k < numeric.size(); ++k)
        EXPECT_NEAR(expected[k], numeric[k], 1e-6 * largest) << "component " << k;
    // Without learn_noise the σ component is 0 and the λ components are unchanged.
    evidence(lambda, sigma);
    inference::HyperparameterOptions no_noise;
    no_noise.groups = groups.group;
    const inference::EvidenceGradient g2 = la.log_marginal_likelihood_gradient(no_noise);
    EXPECT_EQ(g2.log_sigma, 0.0);
    EXPECT_TRUE(test::all_close(g2.log_prior_precisions, grad.log_prior_precisions, 0, 0));
}

TEST(SubnetworkLaplaceHyper, ValidationGridPicksTheLowestNll) {
    auto net = test::curvature_mlp(3, 4, 51);
    const Tensor x = test::random_tensor({30, 3}, DType::f64, 52);
    const Tensor x_val = test::random_tensor({20, 3}, DType::f64, 53);
    const Tensor y_val = test::random_ints({20}, 0, 4, 54);
    SubnetworkLaplace la(*net, nn::select_random(net->num_parameters(), 20, 55));
    la.accumulate(x);
    const std::vector<double> grid{0.01, 0.1, 1.0, 10.0, 100.0};
    double best_nll = 1e300, best = 0;
    for (double lambda : grid) {
        la.set_prior_precision(lambda);
        la.fit();
        const double nll =
            inference::negative_log_likelihood(la.predict_probabilities(x_val), y_val);
        if (nll < best_nll) {
            best_nll = nll;
            best = lambda;
        }
    }
    EXPECT_EQ(la.tune_prior_precision_on_validation(grid, x_val, y_val), best);
    EXPECT_EQ(la.prior_precision(), best);
    EXPECT_TRUE(test::throws_error([&] { la.tune_prior_precision_on_validation({}, x_val, y_val); },
                                   {"grid", "empty"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.tune_prior_precision_on_validation({1.0}, x_val.narrow(0, 0, 0),
                                                  y_val.narrow(0, 0, 0));
        },
        {"at least one validation sample"}));
}

TEST(JitteredCholesky, RetriesOnlyWhenAllowedAndReportsTheJitter) {
    // [[1, 1], [1, 1]] is singular: minor 2 fails; a jitter of ≥ 1e-10 fixes it.
    const Tensor a = Tensor::from_vector(std::vector<double>{1, 1, 1, 1}, {2, 2});
    EXPECT_TRUE(test::throws_error([&] { inference::jittered_cholesky(a, 0.0, "op"); },
                                   {"op", "not positive definite", "minor 2", "max_jitter"}));
    const inference::JitteredCholesky r = inference::jittered_cholesky(a, 1e-3, "op");
    EXPECT_GT(r.jitter, 0.0);
    EXPECT_LE(r.jitter, 1e-3);
    EXPECT_GT(r.attempts, 1);
    const Tensor rebuilt = matmul(r.factor, r.factor.t());
    EXPECT_TRUE(test::all_close(rebuilt, add(a, mul(eye(2, DType::f64), r.jitter)), 1e-12, 1e-14));
    // Negative definite: no jitter in budget helps; the error says what was tried.
    const Tensor neg = Tensor::from_vector(std::vector<double>{-1, 0, 0, -1}, {2, 2});
    EXPECT_TRUE(test::throws_error([&] { inference::jittered_cholesky(neg, 1e-3, "op"); },
                                   {"minor 1", "jitter up to 0.001 failed"}));
    EXPECT_EQ(inference::jittered_cholesky(eye(3, DType::f64), 1.0, "op").jitter, 0.0);
}

TEST(SubnetworkLaplaceHyper, SaveLoadRoundTripsAndRefusesAnotherModel) {
    auto net = test::curvature_cnn(1, 61);
    const Tensor x = test::random_tensor({8, 1, 5, 5}, DType::f64, 62);
    const Tensor x_test = test::random_tensor({3, 1, 5, 5}, DType::f64, 63);
    SubnetworkLaplace la(*net, nn::select_random(net->num_parameters(), 30, 64),
                         {.prior_precision = 2.5});
    la.accumulate(x);
    la.fit();
    const std::string path =
        (std::filesystem::temp_directory_path() / "postr_subnetwork_laplace.safetensors").string();
    la.save(path, {{"note", "test"}});

    auto fresh = test::curvature_cnn(1, 99);  // same architecture, other weights
    SubnetworkLaplace loaded = SubnetworkLaplace::load(*fresh, path);
    EXPECT_TRUE(test::all_close(fresh->parameters().theta(), net->parameters().theta(), 0, 0));
    const auto a = la.predict(x_test);
    const auto b = loaded.predict(x_test);
    EXPECT_TRUE(test::all_close(b.mean, a.mean, 0, 0));
    EXPECT_TRUE(test::all_close(b.covariance, a.covariance, 0, 0));
    EXPECT_EQ(loaded.prior_precision(), 2.5);
    // The stored GGN lets the prior change after loading.
    loaded.set_prior_precision(7.0);
    la.set_prior_precision(7.0);
    loaded.fit();
    la.fit();
    EXPECT_TRUE(test::all_close(loaded.predict(x_test).covariance, la.predict(x_test).covariance,
                                1e-12, 1e-14));

    // A model with another architecture is refused before anything changes.
    auto other = test::curvature_mlp(3, 2, 1);
    const Tensor before = other->parameters().theta().clone();
    // (The MLP's "0.weight" is [6, 3], the file's the CNN's [3, 1, 3, 3].)
    EXPECT_TRUE(test::throws_error([&] { SubnetworkLaplace::load(*other, path); },
                                   {path, "\"0.weight\"", "has shape"}));
    EXPECT_TRUE(test::all_close(other->parameters().theta(), before, 0, 0));
    // A plain model checkpoint is not a posterior.
    io::save_checkpoint(path, *net);
    EXPECT_TRUE(test::throws_error([&] { SubnetworkLaplace::load(*fresh, path); },
                                   {"no \"posterior.*\" entries"}));
    std::remove(path.c_str());
}

}  // namespace
}  // namespace postr
