// The SG-MCMC samplers (sgld, sghmc, sgnht, baoa) and the trace collector.
//
// Known answers. On a Gaussian target every sampler but SGNHT is a linear Gaussian chain, so the
// exact stationary covariance of the *discretised* chain is computable (a discrete Lyapunov
// equation, solved on the host): the sample moments must match it within Monte Carlo error, and
// it must sit within the stated step-size bias of the target. SGNHT (nonlinear through its
// thermostat) is compared to the target with the same Monte Carlo error plus a stated bias.
//
// Monte Carlo error. K independent chains run as one batched state; each chain's estimate
// (mean, covariance over its kept draws) is one batch of "batch means", so the standard error of
// the pooled estimate is sd_k(estimate_k)/√K, with no assumption about the autocorrelation time.
// The effective sample size this implies is printed. Tolerances are 5 standard errors (a false
// failure rate of ~6e-7 per comparison for a normal estimate; with K = 48 the SE itself is
// estimated to ±10%, which 5 rather than 4 covers), plus the bias where stated.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/inference/baoa.h"
#include "postr/inference/sghmc.h"
#include "postr/inference/sgld.h"
#include "postr/inference/sgnht.h"
#include "postr/inference/trace.h"
#include "postr/io/safetensors.h"
#include "postr/kernels/ops.h"

#include "tests/inference/sgmcmc_targets.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using namespace sgmcmc_testing;

// ---- moments on the Gaussian target --------------------------------------------------------

TEST(Sgld, GaussianMomentsMatchDiscreteChainAndTarget) {
    // ε = 0.05. On each eigenvector of P (eigenvalue λ) the discretised chain's variance is
    // 1/(λ(1 − ελ/2)), so the step-size bias of the covariance is V diag((ε/2)/(1 − ελ_i/2)) Vᵀ
    // ≈ (ε/2) I: 0.025 to 0.027 here (λ ∈ {0.66, 3.4}), asserted below.
    const double lr = 0.05;
    auto transform = inference::sgld::build(batched_gaussian_log_posterior(DType::f64), {.lr = lr});
    auto state = transform.init(spread_start(kChains, DType::f64, 11), 100);
    const Tensor samples = run_and_trace(transform, state, 500, 12000);
    const Moments got = chain_moments(samples);

    const double s = std::sqrt(2.0 * lr);
    const Matrix exact = stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const auto pz = apply_precision(z[0], z[1]);
            return std::vector<double>{z[0] - lr * pz[0] + s * xi[0],
                                       z[1] - lr * pz[1] + s * xi[1]};
        },
        2);
    expect_moments(got, kMu, exact, 0.0, "sgld vs discrete chain");
    const double bias = max_abs_difference(exact, kSigma);
    EXPECT_NEAR(bias, 0.026, 0.0015);
    expect_moments(got, kMu, kSigma, bias, "sgld vs target");
    expect_kl_falls(samples, "sgld");
}

TEST(Sghmc, GaussianMomentsMatchDiscreteChainAndTarget) {
    const double lr = 0.1, alpha = 1.0, sigma = 1.0;
    auto transform = inference::sghmc::build(batched_gaussian_log_posterior(DType::f64),
                                             {.lr = lr, .alpha = alpha, .sigma = sigma});
    auto state = transform.init(spread_start(kChains, DType::f64, 12), 200);
    const Tensor samples = run_and_trace(transform, state, 500, 12000);
    const Moments got = chain_moments(samples);

    const double s = std::sqrt(lr * 2.0 * alpha), pr = 1.0 / (sigma * sigma);
    const Matrix exact = theta_block(stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const auto pz = apply_precision(z[0], z[1]);
            const double m0 = (1 - lr * pr * alpha) * z[2] - lr * pz[0] + s * xi[0];
            const double m1 = (1 - lr * pr * alpha) * z[3] - lr * pz[1] + s * xi[1];
            return std::vector<double>{z[0] + lr * pr * m0, z[1] + lr * pr * m1, m0, m1};
        },
        4));
    expect_moments(got, kMu, exact, 0.0, "sghmc vs discrete chain");
    const double bias = max_abs_difference(exact, kSigma);
    EXPECT_LT(bias, 0.005);  // O(ε²) with the momenta-first order: 0.0027 at ε = 0.1
    expect_moments(got, kMu, kSigma, bias, "sghmc vs target");
    expect_kl_falls(samples, "sghmc");
}

TEST(Sghmc, GaussianMomentsInFloat32) {
    // The same chain in f32: rounding (~6e-8 relative per step) is far below the Monte Carlo
    // error, so the f64 answer (discrete-chain bias 0.0027 at ε = 0.1) still holds.
    auto transform = inference::sghmc::build(batched_gaussian_log_posterior(DType::f32),
                                             {.lr = 0.1, .alpha = 1.0});
    auto state = transform.init(spread_start(kChains, DType::f32, 15), 600);
    const Tensor samples = run_and_trace(transform, state, 500, 4000);
    EXPECT_EQ(samples.dtype(), DType::f32);
    expect_moments(chain_moments(samples), kMu, kSigma, 0.003, "sghmc f32 vs target");
}

TEST(Baoa, GaussianMomentsMatchDiscreteChainAndTarget) {
    const double lr = 0.1, alpha = 1.0, sigma = 1.0;
    auto transform = inference::baoa::build(batched_gaussian_log_posterior(DType::f64),
                                            {.lr = lr, .alpha = alpha, .sigma = sigma});
    auto state = transform.init(spread_start(kChains, DType::f64, 13), 300);
    const Tensor samples = run_and_trace(transform, state, 500, 12000);
    const Moments got = chain_moments(samples);

    const double pr = 1.0 / (sigma * sigma), gamma = alpha * pr, c = std::exp(-gamma * lr);
    const double zeta_sigma = std::sqrt(1.0 - std::exp(-2.0 * gamma * lr)) * sigma;
    const Matrix exact = theta_block(stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const auto pz = apply_precision(z[0], z[1]);
            double m0 = z[2] - lr * pz[0], m1 = z[3] - lr * pz[1];
            double t0 = z[0] + 0.5 * lr * pr * m0, t1 = z[1] + 0.5 * lr * pr * m1;
            m0 = c * m0 + zeta_sigma * xi[0];
            m1 = c * m1 + zeta_sigma * xi[1];
            return std::vector<double>{t0 + 0.5 * lr * pr * m0, t1 + 0.5 * lr * pr * m1, m0, m1};
        },
        4));
    expect_moments(got, kMu, exact, 0.0, "baoa vs discrete chain");
    const double bias = max_abs_difference(exact, kSigma);
    // BAOA(B) samples a Gaussian target's θ marginal exactly at any stable ε (Leimkuhler &
    // Matthews 2013): the discrete chain's θ covariance is Σ itself.
    EXPECT_LT(bias, 1e-10);
    expect_moments(got, kMu, kSigma, bias, "baoa vs target");
    expect_kl_falls(samples, "baoa");
}

TEST(Sgnht, GaussianMomentsMatchTarget) {
    // No closed form for the discretised thermostat chain. Its bias is stated as that of the
    // linear chain SGNHT becomes with ξ frozen at α (its stationary mean): SGHMC's update in
    // SGNHT's explicit order (θ moved by the old m), computed exactly like the others, and
    // doubled to cover ξ's fluctuations around α. At ε = 0.05 that proxy is ≈ 0.06 and the
    // observed deviation ≈ 0.065 (at ε = 0.1: 0.14 and 0.12), so the bias is the discretisation's.
    const double lr = 0.05, alpha = 1.0;
    auto transform = inference::sgnht::build(batched_gaussian_log_posterior(DType::f64),
                                             {.lr = lr, .alpha = alpha});
    auto state = transform.init(spread_start(kChains, DType::f64, 14), 400);
    const Tensor samples = run_and_trace(transform, state, 1000, 12000);
    const Moments got = chain_moments(samples);

    const double s = std::sqrt(lr * 2.0 * alpha);
    const Matrix sghmc_exact = theta_block(stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const auto pz = apply_precision(z[0], z[1]);
            const double t0 = z[0] + lr * z[2], t1 = z[1] + lr * z[3];
            const double m0 = (1 - lr * alpha) * z[2] - lr * pz[0] + s * xi[0];
            const double m1 = (1 - lr * alpha) * z[3] - lr * pz[1] + s * xi[1];
            return std::vector<double>{t0, t1, m0, m1};
        },
        4));
    const double bias = 2.0 * max_abs_difference(sghmc_exact, kSigma);
    EXPECT_LT(bias, 0.15);
    expect_moments(got, kMu, kSigma, bias, "sgnht vs target");
    expect_kl_falls(samples, "sgnht");
    // The thermostats settle near α: ξ's stationary mean under the target is α.
    const std::vector<double> xi = state.xi.to_vector<double>();
    double xi_mean = 0.0;
    for (double x : xi) xi_mean += x / static_cast<double>(xi.size());
    EXPECT_NEAR(xi_mean, alpha, 0.5);  // ξ ~ N(α, T/D) per chain: SE 0.1 over 48
}

// ---- conjugate Bayesian linear regression -----------------------------------------------------

TEST(Sgld, BayesianLinearRegressionMatchesExactPosterior) {
    // y = X w + N(0, s²), prior w ~ N(0, I/λ), N data. ℓ is per datum and averaged; T = 1/N
    // targets the exact posterior N(m, H⁻¹), H = XᵀX/s² + λI, m = H⁻¹ Xᵀy/s². The gradient is
    // the full batch, so the only bias is the step size's: with ∇ℓ = −H(w − m)/N, SGLD at ε and
    // T = 1/N is SGLD at h = ε/N on the target, whose stationary covariance is
    // V diag(1/(λ_i (1 − h λ_i/2))) Vᵀ: relative bias h λ_i/2 ≤ 1.5% here, asserted below.
    const std::int64_t n = 40;
    const double noise_sd = 0.5, prior_precision = 2.0;
    Generator gen(77);
    const Tensor x = normal({n, 2}, gen, 0.0, 1.0, DType::f64);
    const Tensor w_true = Tensor::from_vector(std::vector<double>{0.7, -1.3}, {2, 1});
    const Tensor y = add(matmul(x, w_true), normal({n, 1}, gen, 0.0, noise_sd, DType::f64));

    // Exact posterior, on the host.
    const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    Matrix h = zeros(2);
    std::vector<double> xty(2, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 2; ++a) {
            xty[a] += xv[i * 2 + a] * yv[i] / (noise_sd * noise_sd);
            for (int b = 0; b < 2; ++b)
                h[a][b] += xv[i * 2 + a] * xv[i * 2 + b] / (noise_sd * noise_sd);
        }
    h[0][0] += prior_precision;
    h[1][1] += prior_precision;
    const Matrix cov = inverse2(h);
    const std::vector<double> post_mean = {cov[0][0] * xty[0] + cov[0][1] * xty[1],
                                           cov[1][0] * xty[0] + cov[1][1] * xty[1]};

    // ℓ_k(w) = (1/N) [Σ_i log N(y_i | x_i w_k, s²) + log N(w_k | 0, I/λ)] up to constants.
    BatchedLogPosterior lp{[&](const Var& w, const Batch& batch) {
        Var r = sub(Var(batch.targets.t()), matmul(w, Var(batch.inputs.t())));  // [K, N]
        Var log_lik = mul(sum(square(r), {1}), -0.5 / (noise_sd * noise_sd));
        Var log_prior = mul(sum(square(w), {1}), -0.5 * prior_precision);
        return mul(add(log_lik, log_prior), 1.0 / static_cast<double>(n));
    }};
    const double lambda_max =
        0.5 * (h[0][0] + h[1][1]) +
        std::sqrt(0.25 * (h[0][0] - h[1][1]) * (h[0][0] - h[1][1]) + h[0][1] * h[0][1]);
    const double lr = 0.03 * n / lambda_max;  // h λ_max = 0.03
    auto transform =
        inference::sgld::build(lp, {.lr = lr, .temperature = 1.0 / static_cast<double>(n)});
    Tensor start = Tensor::zeros({kChains, 2}, DType::f64);
    auto state = transform.init(start, 500);
    const Batch batch{x, y};
    Trace trace(TraceConfig{.burn_in = 800, .chunk = 4096});
    for (int i = 0; i < 800 + 3000; ++i) {
        transform.update(state, batch);
        trace.record(state.theta);
    }
    const Moments got = chain_moments(trace.samples());

    const double hstep = lr / static_cast<double>(n);
    const Matrix exact = stationary_covariance(
        [&](const std::vector<double>& z, const std::vector<double>& xi) {
            const double s = std::sqrt(2.0 * hstep);
            return std::vector<double>{
                z[0] - hstep * (h[0][0] * z[0] + h[0][1] * z[1]) + s * xi[0],
                z[1] - hstep * (h[1][0] * z[0] + h[1][1] * z[1]) + s * xi[1]};
        },
        2);
    expect_moments(got, post_mean, exact, 0.0, "blr sgld vs discrete chain");
    const double bias = max_abs_difference(exact, cov);
    EXPECT_LT(bias, 0.016 * cov[0][0] + 0.016 * cov[1][1]);
    expect_moments(got, post_mean, cov, bias, "blr sgld vs exact posterior");
}

// ---- parallel chains ------------------------------------------------------------------------

TEST(SgmcmcChains, ParallelRunEqualsSingleRunsBitForBit) {
    for (DType dtype : {DType::f64, DType::f32}) {
        const LogPosterior lp = gaussian_log_posterior(dtype);
        expect_parallel_equals_single(
            [&](const Tensor& t0, std::uint64_t seed, int steps) {
                auto tr = inference::sgld::build(lp, {.lr = 0.05});
                auto s = tr.init(t0, seed);
                for (int i = 0; i < steps; ++i) tr.update(s);
                return Final{s.theta, {}};
            },
            dtype, "sgld");
        expect_parallel_equals_single(
            [&](const Tensor& t0, std::uint64_t seed, int steps) {
                auto tr = inference::sghmc::build(lp, {.lr = 0.1, .alpha = 0.5});
                auto s = tr.init(t0, seed);
                for (int i = 0; i < steps; ++i) tr.update(s);
                return Final{s.theta, s.momenta};
            },
            dtype, "sghmc");
        expect_parallel_equals_single(
            [&](const Tensor& t0, std::uint64_t seed, int steps) {
                auto tr = inference::sgnht::build(lp, {.lr = 0.1, .alpha = 0.5});
                auto s = tr.init(t0, seed);
                for (int i = 0; i < steps; ++i) tr.update(s);
                return Final{s.theta, s.momenta};
            },
            dtype, "sgnht");
        expect_parallel_equals_single(
            [&](const Tensor& t0, std::uint64_t seed, int steps) {
                auto tr = inference::baoa::build(lp, {.lr = 0.1, .alpha = 0.5});
                auto s = tr.init(t0, seed);
                for (int i = 0; i < steps; ++i) tr.update(s);
                return Final{s.theta, s.momenta};
            },
            dtype, "baoa");
    }
}

TEST(SgmcmcChains, DifferentSeedsGiveDifferentChains) {
    // The equality above cannot pass vacuously: chains of one run differ from each other.
    auto tr = inference::sgld::build(gaussian_log_posterior(DType::f64), {.lr = 0.05});
    auto s = tr.init(Tensor::zeros({2, 2}, DType::f64), 9);
    for (int i = 0; i < 5; ++i) tr.update(s);
    EXPECT_FALSE(test::all_close(s.theta[0], s.theta[1], 1e-3, 1e-3));
}

TEST(SgmcmcChains, BatchedLogPosteriorEqualsPerChainCalls) {
    const Tensor start = spread_start(4, DType::f64, 6);
    auto per_chain = inference::sghmc::build(gaussian_log_posterior(DType::f64), {.lr = 0.1});
    auto batched = inference::sghmc::build(batched_gaussian_log_posterior(DType::f64), {.lr = 0.1});
    auto a = per_chain.init(start, 3);
    auto b = batched.init(start, 3);
    for (int i = 0; i < 30; ++i) {
        per_chain.update(a);
        batched.update(b);
    }
    // Equal up to the summation order of the [K, 2]·[2, 2] versus [2, 2]·[2] products.
    EXPECT_TRUE(test::all_close(b.theta, a.theta, 1e-12, 1e-12));
    EXPECT_TRUE(test::all_close(b.log_posterior, a.log_posterior, 1e-12, 1e-12));
}

TEST(SgmcmcChains, OneChainAsVectorIsOneRow) {
    auto tr = inference::sgld::build(gaussian_log_posterior(DType::f32), {.lr = 0.01});
    auto s = tr.init(Tensor::zeros({2}, DType::f32));
    EXPECT_EQ(s.theta.shape(), (Shape{1, 2}));
    EXPECT_EQ(s.num_chains(), 1);
    tr.update(s);
    EXPECT_EQ(s.step, 1);
    EXPECT_EQ(s.log_posterior.shape(), (Shape{1}));
    EXPECT_EQ(s.theta.dtype(), DType::f32);
}

// ---- SGHMC at T = 0 is heavy-ball SGD ----------------------------------------------------------

TEST(Sghmc, ZeroTemperatureEqualsPytorchMomentumSgdStepForStep) {
    // posteriors' SGD parameterisation: ε = 1, σ⁻² = lr, α = (1 − μ)/lr, momenta 0, T = 0.
    const double sgd_lr = 0.05, mu = 0.9;
    auto tr = inference::sghmc::build(gaussian_log_posterior(DType::f64),
                                      {.lr = 1.0,
                                       .alpha = (1.0 - mu) / sgd_lr,
                                       .sigma = 1.0 / std::sqrt(sgd_lr),
                                       .temperature = 0.0,
                                       .momenta = 0.0});
    const Tensor start = Tensor::from_vector(std::vector<double>{3.0, 2.0}, {2});
    auto s = tr.init(start);
    Tensor param = start.clone(), buffer = Tensor::zeros({2}, DType::f64);
    const LogPosterior lp = gaussian_log_posterior(DType::f64);
    for (int t = 0; t < 60; ++t) {
        Tensor loss_grad = neg(inference::log_posterior_and_grad(lp, param, {}).grad);
        sgd_step_(param, loss_grad, buffer, {.lr = sgd_lr, .momentum = mu}, t == 0);
        tr.update(s);
        // Not bit for bit: (1 − ε σ⁻² α) is μ only up to rounding.
        ASSERT_TRUE(test::all_close(s.theta[0], param, 1e-12, 1e-13)) << "step " << t + 1;
    }
    // It moved: a comparison of two stationary sequences would prove nothing.
    EXPECT_FALSE(test::all_close(param, start, 1e-3, 1e-3));
}

TEST(Sghmc, ZeroTemperatureIsPolyakHeavyBall) {
    // Any ε, σ, α: θ_{t+1} = θ_t + η ∇ℓ(θ_t) + μ (θ_t − θ_{t−1}), η = ε²σ⁻², μ = 1 − εασ⁻²,
    // from θ_{−1} = θ_0 − ε σ⁻² m_0. Written out on the host.
    const double lr = 0.3, alpha = 0.7, sigma = 1.5, pr = 1.0 / (sigma * sigma);
    auto tr =
        inference::sghmc::build(gaussian_log_posterior(DType::f64),
                                {.lr = lr, .alpha = alpha, .sigma = sigma, .temperature = 0.0});
    auto s = tr.init(Tensor::from_vector(std::vector<double>{2.0, 1.0}, {2}), 0,
                     Tensor::from_vector(std::vector<double>{0.5, -0.25}, {2}));
    std::vector<double> cur = {2.0, 1.0}, prev = {2.0 - lr * pr * 0.5, 1.0 + lr * pr * 0.25};
    const double eta = lr * lr * pr, mu = 1.0 - lr * alpha * pr;
    for (int t = 0; t < 50; ++t) {
        const auto g = apply_precision(cur[0] - kMu[0], cur[1] - kMu[1]);  // −∇ℓ
        const std::vector<double> next = {cur[0] - eta * g[0] + mu * (cur[0] - prev[0]),
                                          cur[1] - eta * g[1] + mu * (cur[1] - prev[1])};
        prev = cur;
        cur = next;
        tr.update(s);
        const std::vector<double> got = s.theta.to_vector<double>();
        ASSERT_NEAR(got[0], cur[0], 1e-12) << "step " << t + 1;
        ASSERT_NEAR(got[1], cur[1], 1e-12) << "step " << t + 1;
    }
}

// ---- schedules ----------------------------------------------------------------------------------

TEST(Sgld, LearningRateScheduleIsReadAtTheStepIndex) {
    // T = 0: θ_{t+1} = θ_t + ε(t) ∇ℓ(θ_t), with ε(t) = 0.1/(1 + t).
    auto tr = inference::sgld::build(
        gaussian_log_posterior(DType::f64),
        {.lr = [](std::int64_t t) { return 0.1 / (1.0 + static_cast<double>(t)); },
         .temperature = 0.0});
    auto s = tr.init(Tensor::zeros({2}, DType::f64));
    std::vector<double> cur = {0.0, 0.0};
    for (int t = 0; t < 20; ++t) {
        const auto g = apply_precision(cur[0] - kMu[0], cur[1] - kMu[1]);
        const double lr = 0.1 / (1.0 + t);
        cur = {cur[0] - lr * g[0], cur[1] - lr * g[1]};
        tr.update(s);
    }
    const std::vector<double> got = s.theta.to_vector<double>();
    EXPECT_NEAR(got[0], cur[0], 1e-13);
    EXPECT_NEAR(got[1], cur[1], 1e-13);
}

TEST(Sgld, TemperatureScheduleScalesTheNoise) {
    // With a flat log-posterior θ is a random walk of variance Σ_t ε T(t) (2 − 0): check the
    // per-step increments are exactly √(2 ε T(t)) × the chain's N(0, 1) draws.
    LogPosterior flat = [](const Var& theta, const Batch&) { return mul(sum(theta), 0.0); };
    const double lr = 0.01;
    auto tr = inference::sgld::build(
        flat, {.lr = lr, .temperature = [](std::int64_t t) { return t < 2 ? 1.0 : 4.0; }});
    auto s = tr.init(Tensor::zeros({3}, DType::f64), 21);
    Generator gen(21);
    for (int t = 0; t < 3; ++t) {
        Tensor before = s.theta.clone();
        tr.update(s);
        const Tensor z = normal({3}, gen, 0.0, 1.0, DType::f64);
        const double scale = std::sqrt(2.0 * lr * (t < 2 ? 1.0 : 4.0));
        EXPECT_TRUE(test::all_close(sub(s.theta[0], before[0]), mul(z, scale), 1e-14, 1e-15))
            << "step " << t + 1;
    }
}

// ---- errors ----------------------------------------------------------------------------------

// A log-posterior whose gradient turns NaN from the `bad`-th call on.
LogPosterior nan_after(int bad) {
    auto calls = std::make_shared<int>(0);
    return [calls, bad](const Var& theta, const Batch&) {
        const double c = ++*calls >= bad ? std::numeric_limits<double>::quiet_NaN() : -0.5;
        return mul(sum(square(theta)), c);
    };
}

TEST(SgmcmcErrors, NonFiniteStateNamesTheStep) {
    const Tensor start = Tensor::ones({2}, DType::f64);
    {
        auto tr = inference::sgld::build(nan_after(3), {.lr = 0.01});
        auto s = tr.init(start);
        tr.update(s);
        tr.update(s);
        EXPECT_TRUE(test::throws_error([&] { tr.update(s); },
                                       {"sgld", "parameters", "non-finite", "step 3"}));
    }
    {
        auto tr = inference::sghmc::build(nan_after(2), {.lr = 0.01});
        auto s = tr.init(start);
        tr.update(s);
        EXPECT_TRUE(test::throws_error([&] { tr.update(s); }, {"sghmc", "non-finite", "step 2"}));
    }
    {
        auto tr = inference::sgnht::build(nan_after(4), {.lr = 0.01});
        auto s = tr.init(start);
        for (int i = 0; i < 3; ++i) tr.update(s);
        EXPECT_TRUE(test::throws_error([&] { tr.update(s); }, {"sgnht", "non-finite", "step 4"}));
    }
    {
        auto tr = inference::baoa::build(nan_after(1), {.lr = 0.01});
        auto s = tr.init(start);
        EXPECT_TRUE(test::throws_error([&] { tr.update(s); }, {"baoa", "non-finite", "step 1"}));
    }
    {
        // Divergence rather than NaN: ε λ > 2 on a stiff quadratic overflows f32.
        LogPosterior stiff = [](const Var& theta, const Batch&) {
            return mul(sum(square(theta)), -50.0);
        };
        auto tr = inference::sgld::build(stiff, {.lr = 1.0, .temperature = 0.0});
        auto s = tr.init(Tensor::ones({2}, DType::f32));
        EXPECT_TRUE(test::throws_error(
            [&] {
                for (int i = 0; i < 100; ++i) tr.update(s);
            },
            {"sgld", "non-finite", "learning rate 1"}));
    }
}

TEST(SgmcmcErrors, BadConfigThrows) {
    const LogPosterior lp = gaussian_log_posterior(DType::f64);
    EXPECT_TRUE(
        test::throws_error([&] { inference::sgld::build(lp, {}); }, {"sgld", "lr", "not set"}));
    EXPECT_TRUE(test::throws_error([&] { inference::sgld::build(lp, {.lr = 0.0}); },
                                   {"sgld", "lr", "> 0", "0"}));
    EXPECT_TRUE(test::throws_error([&] { inference::sgld::build(lp, {.lr = -1e-3}); },
                                   {"sgld", "lr", "> 0"}));
    EXPECT_TRUE(test::throws_error([&] { inference::sgld::build(lp, {.lr = 1e-3, .beta = -1.0}); },
                                   {"sgld", "beta"}));
    EXPECT_TRUE(
        test::throws_error([&] { inference::sgld::build(lp, {.lr = 1e-3, .temperature = -1.0}); },
                           {"sgld", "temperature", ">= 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] { inference::sghmc::build(lp, {.lr = 1e-3, .alpha = -0.1}); }, {"sghmc", "alpha"}));
    EXPECT_TRUE(test::throws_error([&] { inference::sghmc::build(lp, {.lr = 1e-3, .sigma = 0.0}); },
                                   {"sghmc", "sigma"}));
    EXPECT_TRUE(
        test::throws_error([&] { inference::sgnht::build(lp, {.lr = -1.0}); }, {"sgnht", "lr"}));
    EXPECT_TRUE(test::throws_error(
        [&] { inference::sgnht::build(lp, {.lr = 1e-3, .xi = std::nan("")}); }, {"sgnht", "xi"}));
    EXPECT_TRUE(test::throws_error([&] { inference::baoa::build(lp, {.lr = 1e-3, .sigma = -1.0}); },
                                   {"baoa", "sigma"}));
    EXPECT_TRUE(test::throws_error([&] { inference::baoa::build(lp, {}); }, {"baoa", "lr"}));

    // A schedule going out of range is caught at the step that reads it.
    auto tr =
        inference::sgld::build(lp, {.lr = [](std::int64_t t) { return t < 2 ? 0.01 : -0.01; }});
    auto s = tr.init(Tensor::zeros({2}, DType::f64));
    tr.update(s);
    tr.update(s);
    EXPECT_TRUE(test::throws_error([&] { tr.update(s); }, {"sgld", "lr", "step index 2"}));

    // Noise variance would be negative: ε T β > 2 (SGLD), ε T β > 2α (SGHMC).
    auto neg_sgld = inference::sgld::build(lp, {.lr = 0.5, .beta = 5.0});
    auto s1 = neg_sgld.init(Tensor::zeros({2}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { neg_sgld.update(s1); }, {"sgld", "negative"}));
    auto neg_sghmc = inference::sghmc::build(lp, {.lr = 0.5, .alpha = 0.01, .beta = 1.0});
    auto s2 = neg_sghmc.init(Tensor::zeros({2}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { neg_sghmc.update(s2); }, {"sghmc", "negative"}));
}

TEST(SgmcmcErrors, BadInputsThrow) {
    const LogPosterior lp = gaussian_log_posterior(DType::f64);
    auto tr = inference::sghmc::build(lp, {.lr = 0.01});
    EXPECT_TRUE(test::throws_error(
        [&] {
            tr.init(Tensor::zeros({2, 2, 2}, DType::f64));
        },
        {"sghmc", "theta", "rank 3", "[2, 2, 2]"}));
    EXPECT_TRUE(
        test::throws_error([&] { tr.init(Tensor::zeros({2}, DType::i64)); }, {"sghmc", "theta"}));
    EXPECT_TRUE(test::throws_error([&] { tr.init(Tensor::full({2}, std::nan(""), DType::f64)); },
                                   {"sghmc", "theta"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            tr.init(Tensor::zeros({3, 2}, DType::f64), 0, Tensor::zeros({2, 2}, DType::f64));
        },
        {"sghmc", "momenta", "[2, 2]", "[3, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] { tr.init(Tensor::zeros({2}, DType::f64), 0, Tensor::zeros({2}, DType::f32)); },
        {"sghmc", "momenta"}));

    BatchedLogPosterior wrong{[](const Var& theta, const Batch&) { return sum(theta); }};
    auto bt = inference::sgld::build(wrong, {.lr = 0.01});
    auto s = bt.init(Tensor::zeros({3, 2}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { bt.update(s); }, {"sgld", "batched", "3 chains"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            auto unset = inference::sgld::build(LogPosterior{}, {.lr = 0.01});
            auto st = unset.init(Tensor::zeros({2}, DType::f64));
            unset.update(st);
        },
        {"sgld", "log_posterior", "not set"}));
}

TEST(SgmcmcInit, MomentaDefaultsFillAndExplicit) {
    const LogPosterior lp = gaussian_log_posterior(DType::f64);
    // Default: N(0, 1) from chain k's generator (seed + k), the first draw of that stream.
    auto s = inference::baoa::build(lp, {.lr = 0.1}).init(Tensor::zeros({2, 2}, DType::f64), 40);
    Generator g1(41);
    EXPECT_TRUE(test::all_close(s.momenta[1], normal({2}, g1, 0.0, 1.0, DType::f64), 0.0, 0.0));
    auto f = inference::sghmc::build(lp, {.lr = 0.1, .momenta = 0.25})
                 .init(Tensor::zeros({2, 2}, DType::f64));
    EXPECT_TRUE(test::all_close(f.momenta, Tensor::full({2, 2}, 0.25, DType::f64), 0.0, 0.0));
    auto e = inference::sgnht::build(lp, {.lr = 0.1, .xi = 0.0})
                 .init(Tensor::zeros({2, 2}, DType::f64), 0,
                       Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}));
    EXPECT_TRUE(test::all_close(e.momenta[1],
                                Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}), 0.0, 0.0));
    // ξ_0 = 0 stays 0 (posteriors' `xi or alpha` would turn it into α).
    EXPECT_TRUE(test::all_close(e.xi, Tensor::zeros({2}, DType::f64), 0.0, 0.0));
    auto d =
        inference::sgnht::build(lp, {.lr = 0.1, .alpha = 0.3}).init(Tensor::zeros({2}, DType::f64));
    EXPECT_TRUE(test::all_close(d.xi, Tensor::full({1}, 0.3, DType::f64), 0.0, 0.0));
    // A non-finite constant is refused at init, not reported later as a diverged step.
    const auto nan = std::numeric_limits<double>::quiet_NaN();
    EXPECT_TRUE(test::throws_error(
        [&] {
            inference::sghmc::build(lp, {.lr = 0.1, .momenta = nan})
                .init(Tensor::zeros({2}, DType::f64));
        },
        {"sghmc", "constant initial momenta must be finite"}));
}

// ---- the trace -------------------------------------------------------------------------------

TEST(Trace, BurnInAndThinningInMemoryAcrossChunks) {
    Trace trace(TraceConfig{.burn_in = 3, .thin = 2, .chunk = 2});
    Tensor draw = Tensor::zeros({2, 3}, DType::f64);
    std::vector<bool> kept;
    for (int i = 0; i < 12; ++i) {
        draw.fill_(static_cast<double>(i));  // updated in place, as a sampler's state is
        kept.push_back(trace.record(draw));
    }
    EXPECT_EQ(kept, (std::vector<bool>{false, false, false, true, false, true, false, true, false,
                                       true, false, true}));
    EXPECT_EQ(trace.num_offered(), 12);
    EXPECT_EQ(trace.num_samples(), 5);
    const Tensor samples = trace.samples();  // draws 3, 5, 7, 9, 11 over three chunks
    ASSERT_EQ(samples.shape(), (Shape{5, 2, 3}));
    const std::vector<double> v = samples.to_vector<double>();
    for (int s = 0; s < 5; ++s)
        for (int j = 0; j < 6; ++j) EXPECT_EQ(v[s * 6 + j], 3.0 + 2.0 * s) << s << " " << j;
}

TEST(Trace, EmptyAndMismatchedDraws) {
    Trace trace(TraceConfig{.burn_in = 5});
    EXPECT_EQ(trace.samples().numel(), 0);
    trace.record(Tensor::zeros({4}, DType::f32));
    EXPECT_EQ(trace.samples().shape(), (Shape{0, 4}));
    EXPECT_TRUE(test::throws_error([&] { trace.record(Tensor::zeros({5}, DType::f32)); },
                                   {"Trace::record", "[5]", "[4]"}));
    EXPECT_TRUE(test::throws_error([&] { trace.record(Tensor::zeros({4}, DType::f64)); },
                                   {"Trace::record", "f64"}));
    EXPECT_TRUE(test::throws_error([] { Trace t(TraceConfig{.thin = 0}); }, {"Trace", "thin"}));
    EXPECT_TRUE(
        test::throws_error([] { Trace t(TraceConfig{.burn_in = -1}); }, {"Trace", "burn_in"}));
    EXPECT_TRUE(test::throws_error([] { Trace t(TraceConfig{.chunk = 0}); }, {"Trace", "chunk"}));
}

TEST(Trace, StreamsToSafetensorsOnDisk) {
    const std::string path =
        (std::filesystem::temp_directory_path() / "postr_sgmcmc_trace_test.safetensors").string();
    std::filesystem::remove(path);
    auto tr = inference::sgld::build(gaussian_log_posterior(DType::f32), {.lr = 0.05});
    auto state = tr.init(Tensor::zeros({3, 2}, DType::f32), 8);
    Trace memory(TraceConfig{.burn_in = 4, .thin = 3, .chunk = 2});
    {
        Trace disk(TraceConfig{.burn_in = 4, .thin = 3, .chunk = 2, .path = path, .name = "theta"});
        for (int i = 0; i < 20; ++i) {
            tr.update(state);
            disk.record(state.theta);
            memory.record(state.theta);
        }
        EXPECT_TRUE(test::throws_error([&] { (void)disk.samples(); }, {"Trace::samples", path}));
        EXPECT_FALSE(std::filesystem::exists(path));  // atomic: nothing at path before finish
        disk.finish();
        disk.finish();  // idempotent
        EXPECT_TRUE(test::throws_error([&] { disk.record(state.theta); }, {"finished"}));
    }
    ASSERT_TRUE(std::filesystem::exists(path));
    const io::SafetensorsFile file = io::load_safetensors(path);
    ASSERT_EQ(file.tensors.size(), 1u);
    EXPECT_EQ(file.tensors[0].first, "theta");
    EXPECT_EQ(file.tensors[0].second.shape(), (Shape{6, 3, 2}));  // draws 4, 7, ..., 19
    EXPECT_TRUE(test::all_close(file.tensors[0].second, memory.samples(), 0.0, 0.0));
    EXPECT_EQ(file.metadata.at("burn_in"), "4");
    EXPECT_EQ(file.metadata.at("thin"), "3");
    EXPECT_EQ(file.metadata.at("num_offered"), "20");
    std::filesystem::remove(path);

    // A trace destroyed without finish() still completes its file.
    {
        Trace disk(TraceConfig{.path = path});
        disk.record(Tensor::ones({2}, DType::f64));
    }
    EXPECT_EQ(io::load_safetensors(path).tensors[0].second.shape(), (Shape{1, 2}));
    std::filesystem::remove(path);

    EXPECT_TRUE(test::throws_error(
        [] {
            Trace bad(TraceConfig{.path = "/nonexistent-dir/x.safetensors"});
            bad.record(Tensor::ones({2}));
        },
        {"Trace", "/nonexistent-dir/x.safetensors.tmp"}));
}

}  // namespace
}  // namespace postr
