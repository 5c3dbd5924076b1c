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

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;
using inference::BatchedLogPosterior;
using inference::LogPosterior;
using inference::Trace;
using inference::TraceConfig;

using Matrix = std::vector<std::vector<double>>;

Matrix zeros(std::size_t n) { return Matrix(n, std::vector<double>(n, 0.0)); }

Matrix multiply(const Matrix& a, const Matrix& b) {
    Matrix c = zeros(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t k = 0; k < a.size(); ++k)
            for (std::size_t j = 0; j < a.size(); ++j) c[i][j] += a[i][k] * b[k][j];
    return c;
}

Matrix transpose(const Matrix& a) {
    Matrix t = zeros(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < a.size(); ++j) t[i][j] = a[j][i];
    return t;
}

Matrix inverse2(const Matrix& a) {
    const double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    return {{a[1][1] / det, -a[0][1] / det}, {-a[1][0] / det, a[0][0] / det}};
}

// A linear Gaussian step z' = A z + G ξ over an n-dim state (θ − μ and, for the momentum
// samplers, m), given as a function; A and G are read off by applying it to unit vectors.
using LinearStep = std::function<std::vector<double>(const std::vector<double>& z,
                                                     const std::vector<double>& noise)>;

// Stationary covariance S = A S Aᵀ + G Gᵀ by fixed-point iteration (A is a contraction for the
// step sizes used; 200,000 iterations of a 4×4 product take ~50 ms and converge to rounding).
Matrix stationary_covariance(const LinearStep& step, std::size_t n) {
    Matrix a = zeros(n), g = zeros(n);
    std::vector<double> zero(n, 0.0);
    for (std::size_t j = 0; j < n; ++j) {
        std::vector<double> e(n, 0.0);
        e[j] = 1.0;
        const std::vector<double> col_a = step(e, zero), col_g = step(zero, e);
        for (std::size_t i = 0; i < n; ++i) {
            a[i][j] = col_a[i];
            g[i][j] = col_g[i];
        }
    }
    const Matrix q = multiply(g, transpose(g));
    const Matrix at = transpose(a);
    Matrix s = q;
    for (int it = 0; it < 200000; ++it) {
        Matrix next = multiply(multiply(a, s), at);
        double change = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                next[i][j] += q[i][j];
                change = std::max(change, std::abs(next[i][j] - s[i][j]));
            }
        s = next;
        if (change < 1e-15) break;
    }
    return s;
}

// ---- the 2-D correlated Gaussian target ----------------------------------------------------
// ℓ(θ) = −½ (θ − μ)ᵀ P (θ − μ), the batch ignored; at T = 1 the target is N(μ, Σ = P⁻¹).
const std::vector<double> kMu = {1.0, -2.0};
const Matrix kSigma = {{1.0, 0.6}, {0.6, 0.8}};
const Matrix kPrecision = inverse2(kSigma);

Tensor precision_tensor(DType dtype) {
    return Tensor::from_vector(std::vector<double>{kPrecision[0][0], kPrecision[0][1],
                                                   kPrecision[1][0], kPrecision[1][1]},
                               {2, 2})
        .to(dtype);
}

LogPosterior gaussian_log_posterior(DType dtype) {
    Tensor p = precision_tensor(dtype);
    Tensor mu = Tensor::from_vector(kMu, {2}).to(dtype);
    return [p, mu](const Var& theta, const Batch&) {
        Var d = sub(theta, Var(mu));
        return mul(sum(mul(d, matmul(Var(p), d))), -0.5);
    };
}

BatchedLogPosterior batched_gaussian_log_posterior(DType dtype) {
    Tensor p = precision_tensor(dtype);
    Tensor mu = Tensor::from_vector(kMu, {1, 2}).to(dtype);
    return {[p, mu](const Var& theta, const Batch&) {
        Var d = sub(theta, Var(mu));                            // [K, 2]
        return mul(sum(mul(d, matmul(d, Var(p))), {1}), -0.5);  // [K]; P is symmetric
    }};
}

// Initial θ [K, 2] spread around the target, so the burn-in is tested too.
Tensor spread_start(std::int64_t chains, DType dtype, std::uint64_t seed) {
    Generator gen(seed);
    return add(normal({chains, 2}, gen, 0.0, 2.0, dtype),
               Tensor::from_vector(kMu, {1, 2}).to(dtype));
}

// Per-chain mean and covariance of samples [S, K, D], pooled over chains with standard errors.
struct Moments {
    std::vector<double> mean, mean_se;  // [D]
    Matrix cov, cov_se;                 // [D][D]
};

Moments chain_moments(const Tensor& samples) {
    const std::int64_t s = samples.size(0), k = samples.size(1), d = samples.size(2);
    const std::vector<double> v =
        samples.to(DType::f64).to(Device::cpu()).contiguous().to_vector<double>();
    auto at = [&](std::int64_t i, std::int64_t c, std::int64_t j) {
        return v[(i * k + c) * d + j];
    };
    std::vector<std::vector<double>> means(k, std::vector<double>(d, 0.0));
    std::vector<Matrix> covs(k, zeros(d));
    for (std::int64_t c = 0; c < k; ++c) {
        for (std::int64_t i = 0; i < s; ++i)
            for (std::int64_t j = 0; j < d; ++j) means[c][j] += at(i, c, j) / s;
        for (std::int64_t i = 0; i < s; ++i)
            for (std::int64_t a = 0; a < d; ++a)
                for (std::int64_t b = 0; b < d; ++b)
                    covs[c][a][b] +=
                        (at(i, c, a) - means[c][a]) * (at(i, c, b) - means[c][b]) / (s - 1);
    }
    auto pool = [&](auto get) {
        double m = 0.0, m2 = 0.0;
        for (std::int64_t c = 0; c < k; ++c) m += get(c) / k;
        for (std::int64_t c = 0; c < k; ++c) m2 += (get(c) - m) * (get(c) - m) / (k - 1);
        return std::pair<double, double>{m, std::sqrt(m2 / k)};
    };
    Moments out{std::vector<double>(d), std::vector<double>(d), zeros(d), zeros(d)};
    for (std::int64_t a = 0; a < d; ++a) {
        std::tie(out.mean[a], out.mean_se[a]) = pool([&](std::int64_t c) { return means[c][a]; });
        for (std::int64_t b = 0; b < d; ++b)
            std::tie(out.cov[a][b], out.cov_se[a][b]) =
                pool([&](std::int64_t c) { return covs[c][a][b]; });
    }
    return out;
}

constexpr double kSigmas = 5.0;

// Sample moments against the expected mean and covariance (tolerance 5 SE + bias), printing the
// effective sample size that the standard errors imply.
void expect_moments(const Moments& got, const std::vector<double>& mean, const Matrix& cov,
                    double bias, const char* what) {
    SCOPED_TRACE(what);
    for (std::size_t a = 0; a < mean.size(); ++a) {
        EXPECT_NEAR(got.mean[a], mean[a], kSigmas * got.mean_se[a] + bias) << "mean " << a;
        for (std::size_t b = 0; b < mean.size(); ++b)
            EXPECT_NEAR(got.cov[a][b], cov[a][b], kSigmas * got.cov_se[a][b] + bias)
                << "cov " << a << b;
    }
    const double ess = cov[0][0] / (got.mean_se[0] * got.mean_se[0]);
    std::printf(
        "[ %s ] mean (%.4f, %.4f) ± (%.4f, %.4f), cov [%.4f %.4f; %.4f %.4f] ± %.4f, "
        "ESS of mean[0] ≈ %.0f\n",
        what, got.mean[0], got.mean[1], got.mean_se[0], got.mean_se[1], got.cov[0][0],
        got.cov[0][1], got.cov[1][0], got.cov[1][1], got.cov_se[0][0], ess);
}

double max_abs_difference(const Matrix& a, const Matrix& b) {
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < a.size(); ++j) m = std::max(m, std::abs(a[i][j] - b[i][j]));
    return m;
}

// θ block of a (θ, m) covariance.
Matrix theta_block(const Matrix& s) { return {{s[0][0], s[0][1]}, {s[1][0], s[1][1]}}; }

// P z for the 2-D precision.
std::vector<double> apply_precision(double z0, double z1) {
    return {kPrecision[0][0] * z0 + kPrecision[0][1] * z1,
            kPrecision[1][0] * z0 + kPrecision[1][1] * z1};
}

// KL(N(m, S) ‖ N(μ, Σ)) for 2-D Gaussians.
double kl_to_target(const std::vector<double>& m, const Matrix& s) {
    const Matrix& p = kPrecision;
    const double d0 = kMu[0] - m[0], d1 = kMu[1] - m[1];
    const double trace =
        p[0][0] * s[0][0] + p[0][1] * s[1][0] + p[1][0] * s[0][1] + p[1][1] * s[1][1];
    const double quad = d0 * (p[0][0] * d0 + p[0][1] * d1) + d1 * (p[1][0] * d0 + p[1][1] * d1);
    const double det_s = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    const double det_sigma = kSigma[0][0] * kSigma[1][1] - kSigma[0][1] * kSigma[1][0];
    return 0.5 * (trace + quad - 2.0 + std::log(det_sigma / det_s));
}

// posteriors' check on the same target: the KL from the Gaussian fitted to the first n kept
// draws (pooled over chains) to the target falls as n grows, and ends below 1% of the KL from
// the starting distribution N(μ, 4I) (≈ 5.4). It falls towards a floor, the KL of the
// discretised chain's stationary law (SGLD's ≈ 0.002 at ε = 0.05), so it is checked from S/64
// (Monte Carlo term ~5/(4 ESS) ≈ 0.004 there) to S/8 and S, not between S/8 and S where both
// already sit near the floor.
void expect_kl_falls(const Tensor& samples, const char* what) {
    SCOPED_TRACE(what);
    const std::int64_t k = samples.size(1);
    const std::vector<double> v =
        samples.to(DType::f64).to(Device::cpu()).contiguous().to_vector<double>();
    auto kl_first = [&](std::int64_t n) {
        std::vector<double> m(2, 0.0);
        Matrix c = zeros(2);
        const double count = static_cast<double>(n * k);
        for (std::int64_t i = 0; i < n * k; ++i)
            for (int a = 0; a < 2; ++a) m[a] += v[i * 2 + a] / count;
        for (std::int64_t i = 0; i < n * k; ++i)
            for (int a = 0; a < 2; ++a)
                for (int b = 0; b < 2; ++b)
                    c[a][b] += (v[i * 2 + a] - m[a]) * (v[i * 2 + b] - m[b]) / (count - 1);
        return kl_to_target(m, c);
    };
    const std::int64_t s = samples.size(0);
    const double kl_start = kl_to_target(kMu, {{4.0, 0.0}, {0.0, 4.0}});
    const double kl64 = kl_first(s / 64), kl8 = kl_first(s / 8), kl1 = kl_first(s);
    EXPECT_GT(kl64, kl8);
    EXPECT_GT(kl64, kl1);
    EXPECT_LT(kl1, 0.01 * kl_start);
    std::printf("[ %s ] KL to target after S/64, S/8, S draws: %.5f %.5f %.5f (start %.3f)\n", what,
                kl64, kl8, kl1, kl_start);
}

// Runs `steps` updates of a K-chain state, recording θ after each into a trace with burn-in.
template <class TransformT, class StateT>
Tensor run_and_trace(const TransformT& transform, StateT& state, std::int64_t burn_in,
                     std::int64_t kept) {
    Trace trace(TraceConfig{.burn_in = burn_in, .thin = 1, .chunk = 4096});
    for (std::int64_t i = 0; i < burn_in + kept; ++i) {
        transform.update(state);
        trace.record(state.theta);
    }
    EXPECT_EQ(trace.num_samples(), kept);
    return trace.samples();  // [S, K, 2]
}

constexpr std::int64_t kChains = 48;

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

// Runs `steps` updates from θ0 [K, 2] with seed `seed`; returns the final θ and momenta
// (undefined for SGLD) stacked as [K, 2] each.
struct Final {
    Tensor theta, momenta;
};

template <class Builder>
void expect_parallel_equals_single(Builder build, DType dtype, const char* what) {
    SCOPED_TRACE(what);
    const std::int64_t chains = 3, steps = 40;
    const std::uint64_t seed = 1234;
    const Tensor start = spread_start(chains, dtype, 5);
    const Final parallel = build(start, seed, steps);
    for (std::int64_t k = 0; k < chains; ++k) {
        const Final single = build(start[k], seed + static_cast<std::uint64_t>(k), steps);
        EXPECT_TRUE(test::all_close(single.theta[0], parallel.theta[k], 0.0, 0.0)) << "chain " << k;
        if (parallel.momenta.defined()) {
            EXPECT_TRUE(test::all_close(single.momenta[0], parallel.momenta[k], 0.0, 0.0))
                << "chain " << k;
        }
    }
}

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
