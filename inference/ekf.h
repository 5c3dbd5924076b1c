// Extended Kalman filters over the flat parameter vector θ ∈ R^D (Ollivier 2019, "The extended
// Kalman filter is a natural gradient descent in trajectory space"), as `posteriors`'
// ekf.diag_fisher and ekf.dense_fisher: a Gaussian belief N(μ, Σ) updated online, one batch at a
// time, from a log-LIKELIHOOD (the prior is the initial belief, not part of the function).
//
// Each update, with ε = lr (the likelihood's inverse temperature) and the batch's per-sample
// gradients g_b = ∇_θ log p(y_b | x_b, θ) at μ (b = 1..B):
//   predict   Σ⁻ = Σ + Q                          (transition noise)
//   curvature ḡ = (1/B) Σ_b g_b,  F = (1/B) Σ_b g_b g_bᵀ   (the empirical Fisher)
//   correct   Σ⁺⁻¹ = (Σ⁻)⁻¹ + ε F                 (the precision GROWS by the Fisher; `posteriors`'
//                                                   dense filter subtracts it, a sign bug)
//   mean      μ⁺ = μ + ε Σ⁺ ḡ
// The diagonal filter keeps only diag Σ (as standard deviations, posteriors' sd_diag) and uses
// diag F = (1/B) Σ_b g_b²; Q = transition_sd² I. The dense filter keeps Σ [D, D]; Q =
// transition_cov·I.
//
// The dense filter can replace F by the observed information −∇²_θ (1/B) Σ_b log p(y_b | ·)
// (Curvature::hessian, by autodiff, D ≤ 5000): for a linear-Gaussian model that is the exact
// Kalman filter, the conjugate posterior after every batch when lr = B and Q = 0.
//
// The log-likelihood function has LogPosterior's signature. With per_sample = false (posteriors'
// default) it returns one element for a batch and is called once per sample on one-row slices
// of the batch (B backward passes); with per_sample = true it returns the B per-sample
// log-likelihoods [B] and the per-sample gradients come from one batched backward pass.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"

namespace postr::inference::ekf {

// (θ [D], batch) → per-sample log-likelihoods [B] (per_sample) or their mean (one element).
using LogLikelihood = LogPosterior;

namespace diag_fisher {

struct Config {
    double lr = 1.0;             // ε: inverse temperature of each update; > 0
    double transition_sd = 0.0;  // √Q per coordinate; ≥ 0
    bool per_sample = false;
    double init_sd = 1.0;  // the initial belief's standard deviation per coordinate; > 0
};

struct State {
    Tensor params;          // μ [D]
    Tensor sd_diag;         // √diag Σ [D]
    Tensor log_likelihood;  // mean per-sample log-likelihood of the last batch, at the old μ
    std::int64_t step = 0;
};

class Transform {
  public:
    // Throws postr::Error for lr ≤ 0, transition_sd < 0 or init_sd ≤ 0.
    Transform(LogLikelihood log_likelihood, Config config);
    // μ = theta (copied), sd = init_sd everywhere. theta: [D], f32/f64, any device.
    State init(const Tensor& theta) const;
    // One filter step, in place. Throws on an empty batch, a log-likelihood of the wrong shape,
    // or a non-finite state (naming the step).
    void update(State& state, const Batch& batch) const;
    // n draws μ + sd ⊙ ε: [n, D]. Advances gen.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;
    const Config& config() const { return config_; }

  private:
    LogLikelihood log_likelihood_;
    Config config_;
};

Transform build(LogLikelihood log_likelihood, Config config);

}  // namespace diag_fisher

namespace dense_fisher {

enum class Curvature {
    empirical_fisher,  // F = (1/B) Σ_b g_b g_bᵀ, as `posteriors`
    hessian,           // F = −∇²_θ of the batch-mean log-likelihood (exact Kalman filter for
                       // linear-Gaussian models); D ≤ 5000
};

struct Config {
    double lr = 1.0;              // ε; > 0
    double transition_cov = 0.0;  // Q = transition_cov · I; ≥ 0
    bool per_sample = false;
    double init_cov = 1.0;  // Σ₀ = init_cov · I; > 0
    Curvature curvature = Curvature::empirical_fisher;
};

struct State {
    Tensor params;          // μ [D]
    Tensor cov;             // Σ [D, D]
    Tensor log_likelihood;  // mean per-sample log-likelihood of the last batch, at the old μ
    std::int64_t step = 0;
};

class Transform {
  public:
    // Throws postr::Error for lr ≤ 0, transition_cov < 0 or init_cov ≤ 0.
    Transform(LogLikelihood log_likelihood, Config config);
    // μ = theta (copied), Σ = init_cov · I on theta's device and dtype.
    State init(const Tensor& theta) const;
    // One filter step (two Cholesky factorizations of D×D matrices). Throws as diag_fisher's,
    // NotPositiveDefinite if Σ⁻ loses definiteness, and for Curvature::hessian with D > 5000.
    void update(State& state, const Batch& batch) const;
    // n draws μ + L ε with Σ = L Lᵀ: [n, D]. Advances gen.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;
    const Config& config() const { return config_; }

  private:
    LogLikelihood log_likelihood_;
    Config config_;
};

Transform build(LogLikelihood log_likelihood, Config config);

}  // namespace dense_fisher

}  // namespace postr::inference::ekf
