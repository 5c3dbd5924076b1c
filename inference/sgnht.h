// Stochastic gradient Nosé–Hoover thermostat (Ding et al. 2014) as the `posteriors` library
// specifies it. The conventions shared by every SG-MCMC sampler (temperature, schedules, K
// chains as [K, D], per-chain random streams, the non-finite check) are in sgld.h.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::sgnht {

// One step, every right-hand side at the old values (θ_t, m_t, ξ_t):
//   θ_{t+1} = θ_t + ε σ⁻² m_t
//   m_{t+1} = m_t + ε ∇ℓ(θ_t; batch) − ε σ⁻² ξ_t m_t + N(0, ε T (2α − ε T β) I)
//   ξ_{t+1} = ξ_t + ε (σ⁻² mean_d(m_t²) − T)
// targeting p_T(θ, m, ξ) ∝ exp((ℓ(θ) − mᵀm/(2σ²) − (D/2)(ξ − α)²) / T). Each chain has its own
// thermostat ξ (the mean runs over that chain's D momenta), so chains stay independent.
struct Config {
    Schedule lr{};        // ε > 0, required
    double alpha = 0.01;  // friction α ≥ 0 (also ξ's stationary mean)
    double beta = 0.0;    // estimated gradient-noise variance β ≥ 0; ε T β ≤ 2α required
    double sigma = 1.0;   // σ > 0: standard deviation of the momenta's target (at T = 1)
    Schedule temperature = 1.0;  // T ≥ 0
    // Initial momenta when init is given none: this constant when set, else N(0, 1) draws.
    std::optional<double> momenta = std::nullopt;
    // Initial thermostat ξ_0 for every chain; unset means α. (posteriors writes `xi or alpha`,
    // which turns an explicit ξ_0 = 0 into α; here 0 stays 0.)
    std::optional<double> xi = std::nullopt;
};

struct State {
    Tensor theta;          // [K, D]
    Tensor momenta;        // [K, D]
    Tensor xi;             // [K]: the thermostats
    Tensor log_posterior;  // [K]: ℓ at θ before the last update (NaN before the first)
    std::int64_t step = 0;
    std::vector<Generator> generators;  // one per chain
    Tensor grad;                        // [K, D] workspace
    Tensor noise;                       // [K, D] workspace
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, alpha < 0, beta < 0, sigma ≤ 0,
    // a non-finite xi or a constant temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D]; momenta undefined (then from the config), [D] or [K, D].
    State init(const Tensor& theta, std::uint64_t seed = 0, const Tensor& momenta = {}) const;
    // One step on every chain, in place. Throws postr::Error for a schedule value out of range,
    // ε T β > 2α, or non-finite parameters, momenta or thermostats after the step.
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::sgnht
