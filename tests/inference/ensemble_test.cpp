// Ensembles: at T = 0 every member is an independent heavy-ball SGD run, step for step; at
// T = 1/N on conjugate Bayesian linear regression the members sample the exact posterior.
//
// Monte Carlo error of the tempered test: K = 64 independent members; each member's time
// average (mean, and second moment about the exact mean) over its kept steps is one "batch
// mean", so the standard error of the pooled estimate is sd_k(estimate_k)/√K, with no model of
// the autocorrelation. Tolerances are 5 standard errors (false-failure rate ~6e-7 per
// comparison for a normal estimate; with K = 64 the SE itself is estimated to ±9%, which 5 rather
// than 4 covers), plus, against the exact posterior, the step-size bias of the discretised
// chain, computed exactly (a discrete Lyapunov equation) and asserted to be small.
#include "postr/inference/ensemble.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;
using inference::BatchedLogPosterior;
using inference::LogPosterior;
using Matrix = std::vector<std::vector<double>>;

// ℓ(θ) = −½ θᵀPθ + cᵀθ − Σ softplus(θ): smooth, not quadratic, so the step-for-step comparison
// exercises a nonlinear gradient.
LogPosterior nonlinear_log_posterior() {
    const Tensor p = Tensor::from_vector(std::vector<double>{2.0, 0.3, 0.3, 1.0}, {2, 2});
    const Tensor c = Tensor::from_vector(std::vector<double>{1.0, -0.5}, {2});
    return [p, c](const Var& theta, const Batch&) {
        Var quad = mul(sum(mul(theta, matmul(Var(p), theta))), -0.5);
        return sub(add(quad, sum(mul(Var(c), theta))), sum(softplus(theta)));
    };
}

TEST(Ensemble, DeepMembersEqualIndependentHeavyBallSgdStepForStep) {
    // SGD(lr 0.25, momentum 0.5) is SGHMC with ε = 1, σ⁻² = 0.25 (σ = 2), α = (1 − μ)/lr = 2,
    // T = 0 and zero initial momenta. These values make 1 − εασ⁻² = 0.5 and εσ⁻² = 0.25 exact
    // powers of two, so both updates round identically: equality is exact, not approximate.
    const double sgd_lr = 0.25, mu = 0.5;
    const LogPosterior lp = nonlinear_log_posterior();
    auto ensemble = inference::ensemble::build(lp, {.lr = 1.0, .alpha = 2.0, .sigma = 2.0});
    EXPECT_TRUE(ensemble.is_deep());
    Generator init_gen(42);
    auto state = ensemble.init(Tensor::zeros({2}, DType::f64), 4, 2.0, init_gen);
    const Tensor start = inference::ensemble::members(state).clone();
    ASSERT_EQ(start.shape(), (Shape{4, 2}));

    std::vector<Tensor> params, buffers;
    for (std::int64_t k = 0; k < 4; ++k) {
        params.push_back(start[k].clone());
        buffers.push_back(Tensor::zeros({2}, DType::f64));
    }
    for (int t = 0; t < 50; ++t) {
        ensemble.update(state);
        for (std::size_t k = 0; k < 4; ++k) {
            Tensor loss_grad = neg(inference::log_posterior_and_grad(lp, params[k], {}).grad);
            sgd_step_(params[k], loss_grad, buffers[k], {.lr = sgd_lr, .momentum = mu}, t == 0);
            ASSERT_TRUE(
                test::all_close(inference::ensemble::members(state)[static_cast<std::int64_t>(k)],
                                params[k], 0.0, 0.0))
                << "member " << k << " step " << t + 1;
        }
    }
    // The comparison is not vacuous: the members started apart and moved; ℓ is strictly
    // concave, so after 50 steps they have all reached its one maximiser.
    EXPECT_FALSE(test::all_close(start[0], start[1], 1e-3, 1e-3));
    EXPECT_FALSE(test::all_close(inference::ensemble::members(state), start, 1e-3, 1e-3));
    EXPECT_TRUE(test::all_close(state.theta[0], state.theta[3], 1e-6, 1e-6));
}

Matrix stationary_covariance(const std::function<std::vector<double>(
                                 const std::vector<double>&, const std::vector<double>&)>& step,
                             std::size_t n) {
    // z' = A z + G ξ: read A and G off unit vectors, then iterate S ← A S Aᵀ + G Gᵀ (A is a
    // contraction; 20,000 iterations of a 4×4 product converge to rounding).
    Matrix a(n, std::vector<double>(n)), g(n, std::vector<double>(n));
    const std::vector<double> zero(n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        std::vector<double> e(n, 0.0);
        e[j] = 1.0;
        const auto az = step(e, zero), gz = step(zero, e);
        for (std::size_t i = 0; i < n; ++i) {
            a[i][j] = az[i];
            g[i][j] = gz[i];
        }
    }
    Matrix ggt(n, std::vector<double>(n, 0.0)), s(n, std::vector<double>(n, 0.0));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t k = 0; k < n; ++k) ggt[i][j] += g[i][k] * g[j][k];
    for (int it = 0; it < 20000; ++it) {
        Matrix as(n, std::vector<double>(n, 0.0)), next = ggt;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t k = 0; k < n; ++k) as[i][j] += a[i][k] * s[k][j];
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t k = 0; k < n; ++k) next[i][j] += as[i][k] * a[j][k];
        s = next;
    }
    return s;
}

TEST(Ensemble, TemperedMembersSampleTheBayesianLinearRegressionPosterior) {
    // y = X w + N(0, s²), prior N(0, I/λ), N = 40; ℓ per datum, T = 1/N: the target is the exact
    // posterior N(m, H⁻¹), H = XᵀX/s² + λI, m = H⁻¹Xᵀy/s².
    const std::int64_t n = 40, members = 64, burn_in = 300, kept = 1500;
    const double noise_sd = 0.5, prior_precision = 2.0;
    Generator gen(77);
    const Tensor x = normal({n, 2}, gen, 0.0, 1.0, DType::f64);
    const Tensor y = add(matmul(x, Tensor::from_vector(std::vector<double>{0.7, -1.3}, {2, 1})),
                         normal({n, 1}, gen, 0.0, noise_sd, DType::f64));
    const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    Matrix h(2, std::vector<double>(2, 0.0));
    std::vector<double> xty(2, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 2; ++a) {
            xty[a] += xv[i * 2 + a] * yv[i] / (noise_sd * noise_sd);
            for (int b = 0; b < 2; ++b)
                h[a][b] += xv[i * 2 + a] * xv[i * 2 + b] / (noise_sd * noise_sd);
        }
    h[0][0] += prior_precision;
    h[1][1] += prior_precision;
    const double det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    const Matrix cov = {{h[1][1] / det, -h[0][1] / det}, {-h[1][0] / det, h[0][0] / det}};
    const std::vector<double> mu = {cov[0][0] * xty[0] + cov[0][1] * xty[1],
                                    cov[1][0] * xty[0] + cov[1][1] * xty[1]};

    const BatchedLogPosterior lp{[&](const Var& w, const Batch& batch) {
        Var r = sub(Var(batch.targets.t()), matmul(w, Var(batch.inputs.t())));  // [K, N]
        Var log_lik = mul(sum(square(r), {1}), -0.5 / (noise_sd * noise_sd));
        Var log_prior = mul(sum(square(w), {1}), -0.5 * prior_precision);
        return mul(add(log_lik, log_prior), 1.0 / static_cast<double>(n));
    }};
    // Step size: ε²λ_max/N = 0.03 (the oscillator's squared frequency per step), friction
    // εα = 0.2 per step: underdamped, relaxing in ~10 steps.
    const double lambda_max =
        0.5 * (h[0][0] + h[1][1]) +
        std::sqrt(0.25 * (h[0][0] - h[1][1]) * (h[0][0] - h[1][1]) + h[0][1] * h[0][1]);
    const double lr = std::sqrt(0.03 * n / lambda_max), alpha = 0.2 / lr;
    auto ensemble = inference::ensemble::build(
        lp, {.lr = lr, .alpha = alpha, .temperature = 1.0 / static_cast<double>(n)});
    EXPECT_FALSE(ensemble.is_deep());
    Generator init_gen(5);
    auto state = ensemble.init(Tensor::zeros({2}, DType::f64), members, 1.0, init_gen, 900);
    const Batch batch{x, y};

    // Per member: time averages of θ and of (θ − m)(θ − m)ᵀ over the kept steps.
    std::vector<std::vector<double>> m1(members, std::vector<double>(2, 0.0)),
        m2(members, std::vector<double>(4, 0.0));
    for (std::int64_t t = 0; t < burn_in + kept; ++t) {
        ensemble.update(state, batch);
        if (t < burn_in) continue;
        const std::vector<double> th = state.theta.to_vector<double>();
        for (std::int64_t k = 0; k < members; ++k) {
            const double e0 = th[k * 2] - mu[0], e1 = th[k * 2 + 1] - mu[1];
            m1[k][0] += th[k * 2] / kept;
            m1[k][1] += th[k * 2 + 1] / kept;
            m2[k][0] += e0 * e0 / kept;
            m2[k][1] += e0 * e1 / kept;
            m2[k][2] += e1 * e0 / kept;
            m2[k][3] += e1 * e1 / kept;
        }
    }
    auto pooled = [&](const std::vector<std::vector<double>>& est, std::size_t i, double& se) {
        double mean = 0.0, sq = 0.0;
        for (const auto& e : est) mean += e[i] / members;
        for (const auto& e : est) sq += (e[i] - mean) * (e[i] - mean);
        se = std::sqrt(sq / (members - 1.0) / members);
        return mean;
    };

    // The discretised chain's exact stationary covariance of (θ − m, momenta).
    const double t_inv = 1.0 / static_cast<double>(n), noise = std::sqrt(2.0 * alpha * lr * t_inv);
    const Matrix chain = stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const double p0 = (1.0 - lr * alpha) * z[2] -
                              lr * t_inv * (h[0][0] * z[0] + h[0][1] * z[1]) + noise * xi[0];
            const double p1 = (1.0 - lr * alpha) * z[3] -
                              lr * t_inv * (h[1][0] * z[0] + h[1][1] * z[1]) + noise * xi[1];
            return std::vector<double>{z[0] + lr * p0, z[1] + lr * p1, p0, p1};
        },
        4);
    double bias = 0.0;
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) bias = std::max(bias, std::abs(chain[a][b] - cov[a][b]));
    std::printf("tempered ensemble: posterior var %.4g %.4g, discretisation bias %.3g\n", cov[0][0],
                cov[1][1], bias);
    // The step-size bias is O(ε²λ/N) = a few % of the covariance here.
    EXPECT_LT(bias, 0.05 * std::max(cov[0][0], cov[1][1]));

    for (std::size_t i = 0; i < 2; ++i) {
        double se = 0.0;
        const double got = pooled(m1, i, se);
        EXPECT_NEAR(got, mu[i], 5.0 * se) << "mean " << i << " (se " << se << ")";
        EXPECT_LT(se, 0.05 * std::sqrt(cov[i][i]));  // the test has power
    }
    for (std::size_t i = 0; i < 4; ++i) {
        double se = 0.0;
        const double got = pooled(m2, i, se);
        const std::size_t a = i / 2, b = i % 2;
        std::printf("cov %zu%zu: sampled %.5g ± %.2g, chain %.5g, posterior %.5g\n", a, b, got, se,
                    chain[a][b], cov[a][b]);
        EXPECT_NEAR(got, chain[a][b], 5.0 * se)
            << "cov " << a << b << " vs chain (se " << se << ")";
        EXPECT_NEAR(got, cov[a][b], 5.0 * se + bias) << "cov " << a << b << " vs posterior";
        EXPECT_LT(se, 0.05 * std::sqrt(cov[a][a] * cov[b][b]));
    }

    // Across members at the final step alone: K independent draws from the chain's stationary
    // law, so the member mean is within 5·√(S_ii/K) of m.
    const Tensor final_mean = mean(inference::ensemble::members(state), {0});
    for (std::int64_t i = 0; i < 2; ++i)
        EXPECT_NEAR(
            final_mean[i].item(), mu[static_cast<std::size_t>(i)],
            5.0 * std::sqrt(chain[static_cast<std::size_t>(i)][static_cast<std::size_t>(i)] /
                            members));
}

TEST(Ensemble, TemperedMembersWithDifferentSeedsDiffer) {
    const LogPosterior lp = nonlinear_log_posterior();
    auto ensemble = inference::ensemble::build(lp, {.lr = 0.1, .alpha = 1.0, .temperature = 0.1});
    const Tensor same = Tensor::zeros({3, 2}, DType::f64);  // identical starts
    auto a = ensemble.init(same, 1), b = ensemble.init(same, 1), c = ensemble.init(same, 2);
    for (int t = 0; t < 10; ++t) {
        ensemble.update(a);
        ensemble.update(b);
        ensemble.update(c);
    }
    // Members of one run differ (each has its own stream), a seed reproduces bit for bit, and
    // another seed gives another run.
    EXPECT_FALSE(test::all_close(a.theta[0], a.theta[1], 1e-3, 1e-3));
    EXPECT_TRUE(test::all_close(a.theta, b.theta, 0.0, 0.0));
    EXPECT_FALSE(test::all_close(a.theta[0], c.theta[0], 1e-3, 1e-3));
    // Seed 1's member 1 is seed 2's member 0 (Generator(seed + k)).
    EXPECT_TRUE(test::all_close(a.theta[1], c.theta[0], 0.0, 0.0));
}

TEST(Ensemble, SpreadInitialiserAndPredictiveAverage) {
    auto ensemble = inference::ensemble::build(nonlinear_log_posterior(), {.lr = 0.1});
    const Tensor theta0 = Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2});
    Generator gen(3), same(3);
    auto state = ensemble.init(theta0, 5, 0.5, gen);
    const Tensor expected = add(normal({5, 2}, same, 0.0, 0.5, DType::f64), theta0);
    EXPECT_TRUE(test::all_close(inference::ensemble::members(state), expected, 0.0, 0.0));
    Generator gen0(3);
    auto tight = ensemble.init(theta0, 3, 0.0, gen0);
    EXPECT_TRUE(test::all_close(tight.theta, theta0.unsqueeze(0).expand({3, 2}), 0.0, 0.0));

    // softmax of each member's θ, averaged: by hand.
    const Tensor m =
        Tensor::from_vector(std::vector<double>{0.0, 0.0, 1.0, -1.0, 2.0, 3.0}, {3, 2});
    const Tensor avg =
        inference::ensemble::predictive(m, [](const Tensor& t) { return softmax(t, 0); });
    const double e1 = 1.0 / (1.0 + std::exp(-2.0)), e2 = 1.0 / (1.0 + std::exp(1.0));
    const double p0 = (0.5 + e1 + e2) / 3.0;
    EXPECT_TRUE(test::all_close(avg, Tensor::from_vector(std::vector<double>{p0, 1.0 - p0}, {2}),
                                1e-14, 1e-15));
}

TEST(Ensemble, BadInputsThrow) {
    auto ensemble = inference::ensemble::build(nonlinear_log_posterior(), {.lr = 0.1});
    Generator gen(0);
    const Tensor theta0 = Tensor::zeros({2}, DType::f64);
    EXPECT_TRUE(test::throws_error([&] { ensemble.init(theta0, 0, 1.0, gen); },
                                   {"ensemble", "num_members must be >= 1"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            ensemble.init(Tensor::zeros({0, 2}, DType::f64));
        },
        {"ensemble", "K = 0"}));
    EXPECT_TRUE(test::throws_error([&] { ensemble.init(theta0); }, {"ensemble", "[2]", "[K, D]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            ensemble.init(Tensor::zeros({2, 2, 2}, DType::f64));
        },
        {"ensemble", "[2, 2, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            ensemble.init(Tensor::zeros({2, 2}, DType::f64), 2, 1.0, gen);
        },
        {"ensemble", "theta0"}));
    EXPECT_TRUE(test::throws_error([&] { ensemble.init(theta0, 2, -1.0, gen); },
                                   {"ensemble", "spread must be >= 0"}));
    EXPECT_TRUE(test::throws_error(
        [] { inference::ensemble::build(nonlinear_log_posterior(), {}); }, {"lr is not set"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            inference::ensemble::build(nonlinear_log_posterior(), {.lr = 0.1, .temperature = -1.0});
        },
        {"temperature"}));
    const Tensor m = Tensor::zeros({2, 3}, DType::f64);
    EXPECT_TRUE(test::throws_error(
        [&] { inference::ensemble::predictive(m, [](const Tensor& t) { return mul(t, NAN); }); },
        {"ensemble::predictive", "non-finite"}));
    std::int64_t calls = 0;
    EXPECT_TRUE(test::throws_error(
        [&] {
            inference::ensemble::predictive(m, [&](const Tensor&) {
                return Tensor::zeros({++calls == 1 ? 2 : 3}, DType::f64);
            });
        },
        {"ensemble::predictive", "member 1", "[3]", "[2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            inference::ensemble::predictive(Tensor::zeros({0, 3}, DType::f64),
                                            [](const Tensor& t) { return t; });
        },
        {"ensemble::predictive", "[0, 3]"}));
    EXPECT_TRUE(test::throws_error([&] { inference::ensemble::predictive(m, {}); },
                                   {"ensemble::predictive", "not set"}));
}

}  // namespace
}  // namespace postr
