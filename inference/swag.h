// SWAG, the stochastic-weight-averaging Gaussian (Maddox et al., "A Simple Baseline for Bayesian
// Uncertainty in Deep Learning", NeurIPS 2019): SGD on −ℓ (ℓ the per-datum averaged
// log-posterior of log_posterior.h) while collecting, every `snapshot_frequency` steps, the
// moments of the iterates θ_1..θ_n:
//
//   θ̄ = (1/n) Σ θ_i,   θ²̄ = (1/n) Σ θ_i²,   Σ_diag = diag(θ²̄ − θ̄²)  (clamped at 0),
//   D̂ = the last K deviations θ_i − θ̄_i as rows, θ̄_i the running mean just after adding θ_i
//        (Algorithm 1 of the paper and its reference code).
//
// The approximate posterior is N(θ̄, Σ) with, as the paper's eq. (3) defines it,
//
//   Σ = scale · (Σ_diag + D̂ᵀ D̂ / (k − 1)),   scale = ½,
//
// k the number of deviation rows held (k = K once K snapshots are in; the low-rank term is left
// out while k < 2, and for rank 0, which is diagonal SWAG). sample() draws
//   θ = θ̄ + √scale · (Σ_diag^{1/2} z₁ + D̂ᵀ z₂ / √(k − 1)),   z₁ ~ N(0, I_D), z₂ ~ N(0, I_k).
// `posteriors` has no SWAG; the interface is the one every algorithm here has.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/kernels/ops.h"

namespace postr::inference::swag {

struct Config {
    // The SGD run whose iterates are collected (torch.optim.SGD's rule and defaults; the paper
    // uses momentum 0.9 and a constant or cyclical learning rate after pre-training). lr is a
    // Schedule of the 0-based step t (updates already applied).
    Schedule lr = 1e-2;  // > 0
    double momentum = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
    std::int64_t snapshot_start = 0;      // steps before the first snapshot can be taken (≥ 0)
    std::int64_t snapshot_frequency = 1;  // c ≥ 1: a snapshot after every c-th step past start
    std::int64_t rank = 20;               // K ≥ 0 deviation rows kept (the paper's K = 20)
    double scale = 0.5;                   // the ½ of eq. (3); > 0
};

struct State {
    Tensor params;                   // [D]: the current SGD iterate θ
    Tensor momentum_buffer;          // [D]
    Tensor mean;                     // [D]: θ̄
    Tensor sq_mean;                  // [D]: θ²̄
    Tensor deviations;               // [K, D]: a ring buffer of the last K deviations
    std::int64_t num_snapshots = 0;  // n
    std::int64_t step = 0;
    double log_posterior = 0.0;  // ℓ at the iterate before the last step
};

// Σ_diag = max(θ²̄ − θ̄², 0): [D].
Tensor variance(const State& state);
// The held deviation rows, oldest first: [k, D], k = min(n, K).
Tensor deviation_matrix(const State& state);

class Transform {
  public:
    // Throws postr::Error on a constant lr ≤ 0, negative momentum or weight decay, a negative
    // snapshot_start or rank, snapshot_frequency < 1 or scale ≤ 0.
    Transform(LogPosterior log_posterior, Config config);

    // θ [D] (f32/f64, CPU or CUDA) starts the SGD run; the moments start empty.
    State init(const Tensor& theta) const;
    // One SGD step on −ℓ(θ; batch), then a snapshot of the new iterate when the step count says
    // so. Throws postr::Error when θ becomes non-finite, naming the step.
    void update(State& state, const Batch& batch) const;
    // Adds θ [D] as a snapshot (update() calls it; call it directly to collect the iterates of
    // another optimiser).
    void collect(State& state, const Tensor& theta) const;
    // n draws [n, D]. Throws postr::Error before the first snapshot.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;
    // Σ as a dense [D, D] matrix (small D: for checks and subnetworks).
    Tensor covariance(const State& state) const;

    const Config& config() const { return config_; }

  private:
    LogPosterior log_posterior_;
    Config config_;
};

// The posteriors-style entry point.
Transform build(LogPosterior log_posterior, Config config = {});

}  // namespace postr::inference::swag
