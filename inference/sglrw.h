// Stochastic gradient lattice random walk (Mensch et al. 2026, arXiv:2602.15925, adapted from
// Duffield et al. 2025, arXiv:2508.20883): the `posteriors` algorithm posteriors/sgmcmc/sglrw.py
// (normal-computing/posteriors, commit bc5eac383fd2e8a68eaf53bf667a96c826f18ac6), with its
// hyperparameters (lr and temperature, both schedules; temperature defaults to 1). The
// conventions shared by every SG-MCMC sampler (temperature, schedules, K chains as [K, D],
// per-chain random streams, the non-finite check) are in sgld.h.
//
// Overdamped Langevin dθ = ∇ℓ dt + √(2T) dW discretised on a lattice: every coordinate moves
// by exactly ±δx, δx = √(2εT), with
//   P(+δx) = p₊ = ½ (1 + clamp(ε g / δx, −1, 1)),   g = ∂ℓ/∂θ_i (θ_t; batch),
// so that, unless clamped, each coordinate's increment has SGLD's mean ε g and variance
// 2εT − ε²g² (the ternary walk of the paper with its "stay" probability zero, as posteriors
// does). Targets p_T(θ) ∝ exp(ℓ(θ)/T). One uniform per coordinate per step: with u ~ U[−1, 1),
// θ_i moves up iff u < ε g / δx (the clamp is then implicit). T must be > 0 (δx = 0 at T = 0,
// where posteriors divides by zero); for T = 0 use an optimiser.
#pragma once

#include <cstdint>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::sglrw {

struct Config {
    Schedule lr{};               // ε > 0, required (posteriors has no default)
    Schedule temperature = 1.0;  // T > 0
};

struct State {
    Tensor theta;          // [K, D]
    Tensor log_posterior;  // [K]: ℓ at θ before the last update (NaN before the first)
    std::int64_t step = 0;
    std::vector<Generator> generators;  // one per chain: D uniforms per step
    Tensor grad;                        // [K, D] workspace: ∇ℓ of the last update
    Tensor noise;                       // [K, D] workspace
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0 or a constant temperature ≤ 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D] (f32/f64, CPU/CUDA) → a state of K chains whose chain k draws from
    // Generator(seed + k). Throws postr::Error on a bad θ (see sgmcmc::as_chains).
    State init(const Tensor& theta, std::uint64_t seed = 0) const;
    // One step on every chain, in place. Throws postr::Error for a schedule value out of range
    // (lr ≤ 0 or T ≤ 0) at this step, or a non-finite gradient or θ (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::sglrw
