// BAOA Langevin integrator (Leimkuhler & Matthews 2015, p. 271) as the `posteriors` library
// specifies it: conjugate to BAOAB with one gradient per step. The conventions shared by every
// SG-MCMC sampler (temperature, schedules, K chains as [K, D], per-chain random streams, the
// non-finite check) are in sgld.h.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::baoa {

// One step with γ = α σ⁻² and ζ² = T (1 − e^{−2γε}):
//   B: m ← m + ε ∇ℓ(θ_t; batch)          (the two half kicks of BAOAB merged)
//   A: θ ← θ + (ε/2) σ⁻² m
//   O: m ← e^{−γε} m + ζ σ N(0, I)
//   A: θ ← θ + (ε/2) σ⁻² m
// targeting p_T(θ, m) ∝ exp((ℓ(θ) − mᵀm/(2σ²)) / T). The O step is exact for any ε, so the
// momenta keep variance σ²T whatever the friction.
struct Config {
    Schedule lr{};               // ε > 0, required
    double alpha = 0.01;         // friction α ≥ 0
    double sigma = 1.0;          // σ > 0: standard deviation of the momenta's target (at T = 1)
    Schedule temperature = 1.0;  // T ≥ 0
    // Initial momenta when init is given none: this constant when set, else N(0, 1) draws.
    std::optional<double> momenta = std::nullopt;
};

struct State {
    Tensor theta;          // [K, D]
    Tensor momenta;        // [K, D]
    Tensor log_posterior;  // [K]: ℓ at θ before the last update (NaN before the first)
    std::int64_t step = 0;
    std::vector<Generator> generators;  // one per chain
    Tensor grad;                        // [K, D] workspace
    Tensor noise;                       // [K, D] workspace
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, alpha < 0, sigma ≤ 0 or a
    // constant temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D]; momenta undefined (then from the config), [D] or [K, D].
    State init(const Tensor& theta, std::uint64_t seed = 0, const Tensor& momenta = {}) const;
    // One step on every chain, in place. Throws postr::Error for a schedule value out of range
    // or non-finite parameters or momenta after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::baoa
