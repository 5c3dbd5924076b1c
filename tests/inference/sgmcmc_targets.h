// What the SG-MCMC tests share (sgmcmc_test.cpp, sgmcmc_extra_test.cpp): small dense-matrix
// helpers on the host, the exact stationary covariance of a linear Gaussian step, the 2-D
// correlated Gaussian target of posteriors' tests, per-chain moments with batch-means standard
// errors, and the KL check. Monte Carlo tolerances are 5 standard errors (kSigmas).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/trace.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr::sgmcmc_testing {

using inference::Batch;
using inference::BatchedLogPosterior;
using inference::LogPosterior;
using inference::Trace;
using inference::TraceConfig;

using Matrix = std::vector<std::vector<double>>;

inline Matrix zeros(std::size_t n) { return Matrix(n, std::vector<double>(n, 0.0)); }

inline Matrix multiply(const Matrix& a, const Matrix& b) {
    Matrix c = zeros(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t k = 0; k < a.size(); ++k)
            for (std::size_t j = 0; j < a.size(); ++j) c[i][j] += a[i][k] * b[k][j];
    return c;
}

inline Matrix transpose(const Matrix& a) {
    Matrix t = zeros(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < a.size(); ++j) t[i][j] = a[j][i];
    return t;
}

inline Matrix inverse2(const Matrix& a) {
    const double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    return {{a[1][1] / det, -a[0][1] / det}, {-a[1][0] / det, a[0][0] / det}};
}

inline double max_abs_difference(const Matrix& a, const Matrix& b) {
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < a.size(); ++j) m = std::max(m, std::abs(a[i][j] - b[i][j]));
    return m;
}

inline double max_eigenvalue2(const Matrix& h) {
    return 0.5 * (h[0][0] + h[1][1]) +
           std::sqrt(0.25 * (h[0][0] - h[1][1]) * (h[0][0] - h[1][1]) + h[0][1] * h[0][1]);
}

// A linear Gaussian step z' = A z + G ξ, read off by applying it to unit vectors; its
// stationary covariance S = A S Aᵀ + G Gᵀ (+ extra(S), a linear term for SGLRW's state-dependent
// noise) by fixed-point iteration (the maps here are contractions; converges to rounding).
using LinearStep = std::function<std::vector<double>(const std::vector<double>& z,
                                                     const std::vector<double>& noise)>;

inline Matrix stationary_covariance(const LinearStep& step, std::size_t n,
                                    const std::function<Matrix(const Matrix&)>& extra = {}) {
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
        const Matrix e = extra ? extra(s) : zeros(n);
        double change = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                next[i][j] += q[i][j] + e[i][j];
                change = std::max(change, std::abs(next[i][j] - s[i][j]));
            }
        s = next;
        if (change < 1e-15) break;
    }
    return s;
}

// θ block of a (θ, m) covariance.
inline Matrix theta_block(const Matrix& s) { return {{s[0][0], s[0][1]}, {s[1][0], s[1][1]}}; }

// ---- the 2-D correlated Gaussian target ----------------------------------------------------
// ℓ(θ) = −½ (θ − μ)ᵀ P (θ − μ), the batch ignored; at T = 1 the target is N(μ, Σ = P⁻¹).
inline const std::vector<double> kMu = {1.0, -2.0};
inline const Matrix kSigma = {{1.0, 0.6}, {0.6, 0.8}};
inline const Matrix kPrecision = inverse2(kSigma);

inline Tensor precision_tensor(DType dtype) {
    return Tensor::from_vector(std::vector<double>{kPrecision[0][0], kPrecision[0][1],
                                                   kPrecision[1][0], kPrecision[1][1]},
                               {2, 2})
        .to(dtype);
}

inline LogPosterior gaussian_log_posterior(DType dtype) {
    Tensor p = precision_tensor(dtype);
    Tensor mu = Tensor::from_vector(kMu, {2}).to(dtype);
    return [p, mu](const Var& theta, const Batch&) {
        Var d = sub(theta, Var(mu));
        return mul(sum(mul(d, matmul(Var(p), d))), -0.5);
    };
}

inline BatchedLogPosterior batched_gaussian_log_posterior(DType dtype) {
    Tensor p = precision_tensor(dtype);
    Tensor mu = Tensor::from_vector(kMu, {1, 2}).to(dtype);
    return {[p, mu](const Var& theta, const Batch&) {
        Var d = sub(theta, Var(mu));                            // [K, 2]
        return mul(sum(mul(d, matmul(d, Var(p))), {1}), -0.5);  // [K]; P is symmetric
    }};
}

// P z for the 2-D precision.
inline std::vector<double> apply_precision(double z0, double z1) {
    return {kPrecision[0][0] * z0 + kPrecision[0][1] * z1,
            kPrecision[1][0] * z0 + kPrecision[1][1] * z1};
}

// Initial θ [K, 2] spread around the target, so the burn-in is tested too.
inline Tensor spread_start(std::int64_t chains, DType dtype, std::uint64_t seed) {
    Generator gen(seed);
    return add(normal({chains, 2}, gen, 0.0, 2.0, dtype),
               Tensor::from_vector(kMu, {1, 2}).to(dtype));
}

// Per-chain mean and covariance of samples [S, K, D], pooled over chains with standard errors.
struct Moments {
    std::vector<double> mean, mean_se;
    Matrix cov, cov_se;
};

inline Moments chain_moments(const Tensor& samples) {
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

inline constexpr double kSigmas = 5.0;

// Sample moments against the expected mean and covariance (tolerance 5 SE + bias), printing the
// effective sample size that the standard errors imply.
inline void expect_moments(const Moments& got, const std::vector<double>& mean, const Matrix& cov,
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

// KL(N(m, S) ‖ N(μ, Σ)) for 2-D Gaussians.
inline double kl_to_target(const std::vector<double>& m, const Matrix& s) {
    const Matrix& p = kPrecision;
    const double d0 = kMu[0] - m[0], d1 = kMu[1] - m[1];
    const double trace =
        p[0][0] * s[0][0] + p[0][1] * s[1][0] + p[1][0] * s[0][1] + p[1][1] * s[1][1];
    const double quad = d0 * (p[0][0] * d0 + p[0][1] * d1) + d1 * (p[1][0] * d0 + p[1][1] * d1);
    const double det_s = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    const double det_sigma = kSigma[0][0] * kSigma[1][1] - kSigma[0][1] * kSigma[1][0];
    return 0.5 * (trace + quad - 2.0 + std::log(det_sigma / det_s));
}

// Mean and covariance of the rows of x [M, 2] (M points pooled).
inline std::pair<std::vector<double>, Matrix> point_moments(const std::vector<double>& v,
                                                            std::int64_t count) {
    std::vector<double> m(2, 0.0);
    Matrix c = zeros(2);
    const auto n = static_cast<double>(count);
    for (std::int64_t i = 0; i < count; ++i)
        for (int a = 0; a < 2; ++a) m[a] += v[i * 2 + a] / n;
    for (std::int64_t i = 0; i < count; ++i)
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                c[a][b] += (v[i * 2 + a] - m[a]) * (v[i * 2 + b] - m[b]) / (n - 1);
    return {m, c};
}

// posteriors' check on the same target: the KL from the Gaussian fitted to the first n kept
// draws (pooled over chains) to the target falls as n grows, and ends below 1% of the KL from
// the starting distribution N(μ, 4I) (≈ 5.4). It falls towards a floor, the KL of the
// discretised chain's stationary law (SGLD's ≈ 0.002 at ε = 0.05), so it is checked from S/64
// (Monte Carlo term ~5/(4 ESS) ≈ 0.004 there) to S/8 and S, not between S/8 and S where both
// already sit near the floor.
inline void expect_kl_falls(const Tensor& samples, const char* what) {
    SCOPED_TRACE(what);
    const std::int64_t k = samples.size(1);
    const std::vector<double> v =
        samples.to(DType::f64).to(Device::cpu()).contiguous().to_vector<double>();
    auto kl_first = [&](std::int64_t n) {
        const auto [m, c] = point_moments(v, n * k);
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

// Runs burn_in + kept updates of a K-chain state, recording θ after each into a trace that
// drops the burn-in: [kept, K, 2].
template <class TransformT, class StateT>
Tensor run_and_trace(const TransformT& transform, StateT& state, std::int64_t burn_in,
                     std::int64_t kept, const Batch& batch = {}) {
    Trace trace(TraceConfig{.burn_in = burn_in, .thin = 1, .chunk = 4096});
    for (std::int64_t i = 0; i < burn_in + kept; ++i) {
        transform.update(state, batch);
        trace.record(state.theta);
    }
    EXPECT_EQ(trace.num_samples(), kept);
    return trace.samples();  // [S, K, 2]
}

inline constexpr std::int64_t kChains = 48;

// The state after `steps` updates from θ0 [K, 2] with one seed: θ and the momenta (undefined for
// the samplers without), [K, 2] each.
struct Final {
    Tensor theta, momenta;
};

// A K-chain run equals K single-chain runs bit for bit, chain k seeded seed + k: `build(θ0, seed,
// steps)` runs a sampler and returns its Final.
template <class Builder>
void expect_parallel_equals_single(Builder build, DType dtype, const char* what) {
    SCOPED_TRACE(what);
    const std::int64_t chains = 3, steps = 40;
    const std::uint64_t seed = 1234;
    const Tensor start = spread_start(chains, dtype, 5);
    const Final parallel = build(start, seed, steps);
    EXPECT_FALSE(test::all_close(parallel.theta[0], parallel.theta[1], 1e-3, 1e-3));
    for (std::int64_t k = 0; k < chains; ++k) {
        const Final single = build(start[k], seed + static_cast<std::uint64_t>(k), steps);
        EXPECT_TRUE(test::all_close(single.theta[0], parallel.theta[k], 0.0, 0.0)) << "chain " << k;
        if (parallel.momenta.defined()) {
            EXPECT_TRUE(test::all_close(single.momenta[0], parallel.momenta[k], 0.0, 0.0))
                << "chain " << k;
        }
    }
}

}  // namespace postr::sgmcmc_testing
