// Stochastic gradient Hamiltonian Monte Carlo (Chen, Fox & Guestrin 2014) as the `posteriors`
// library specifies it (with its momentum scale σ). The conventions shared by every SG-MCMC
// sampler (temperature, schedules, K chains as [K, D], per-chain random streams, the
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

namespace postr::inference::sghmc {

// One step, momenta first, then parameters with the new momenta:
//   m_{t+1} = m_t + ε ∇ℓ(θ_t; batch) − ε σ⁻² α m_t + N(0, ε T (2α − ε T β) I)
//   θ_{t+1} = θ_t + ε σ⁻² m_{t+1}
// targeting p_T(θ, m) ∝ exp((ℓ(θ) − mᵀm/(2σ²)) / T).
//
// With T = 0 (no noise) this is heavy-ball SGD on −ℓ: θ_{t+1} = θ_t + η ∇ℓ(θ_t) + μ (θ_t − θ_{t−1})
// with η = ε²σ⁻² and μ = 1 − εασ⁻²; with ε = 1, σ⁻² = lr and α = (1 − μ)/lr it is PyTorch's
// SGD(lr, momentum = μ) step for step from zero momenta (the parameterisation posteriors' own
// SGHMC test uses). posteriors' releases before σ was added moved θ with the old m_t instead
// (explicit Euler), which is not heavy-ball: its gradient lags one step.
struct Config {
    Schedule lr{};        // ε > 0, required
    double alpha = 0.01;  // friction α ≥ 0
    // Estimated gradient-noise variance β ≥ 0 (the injected noise is reduced by it);
    // ε T β ≤ 2α is required.
    double beta = 0.0;
    double sigma = 1.0;          // σ > 0: standard deviation of the momenta's target (at T = 1)
    Schedule temperature = 1.0;  // T ≥ 0
    // Initial momenta when init is given none: this constant when set, else N(0, 1) draws from
    // each chain's generator (posteriors' default).
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
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, alpha < 0, beta < 0, sigma ≤ 0
    // or a constant temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D]; momenta undefined (then from the config), [D] (every chain) or [K, D].
    // Chain k draws from Generator(seed + k), the initial momenta included.
    State init(const Tensor& theta, std::uint64_t seed = 0, const Tensor& momenta = {}) const;
    // One step on every chain, in place. Throws postr::Error for a schedule value out of range,
    // ε T β > 2α, or non-finite parameters or momenta after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::sghmc
