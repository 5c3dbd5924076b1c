// BAOAB Langevin integrator (Leimkuhler & Matthews 2015, "Molecular Dynamics", p. 271): the
// `posteriors` algorithm posteriors/sgmcmc/baoab.py (normal-computing/posteriors, commit
// 4d7e6f5721ac73b5a9e7888f8eb2afdb1f12cc7a), with its hyperparameters (lr, alpha = 0.01,
// sigma = 1, temperature = 1, momenta) and their defaults. The conventions shared by every SG-MCMC
// sampler (temperature, schedules, K chains as [K, D], per-chain random streams, the non-finite
// check) are in sgld.h.
//
// posteriors' baoab.py writes BAOAB as "BBAOA": both half kicks of a step merged into one kick
// with ∇ℓ(θ_t) at the start of the next, which is exactly its baoa.py (our inference::baoa).
// Here BAOAB is the splitting itself, with the gradient cached between steps ("first same as
// last") so a step still costs one gradient:
//   B: m ← m + (ε/2) g                    g = ∇ℓ(θ_t), cached from the previous step's end
//   A: θ ← θ + (ε/2) σ⁻² m
//   O: m ← e^{−γε} m + ζ σ N(0, I)         γ = α σ⁻², ζ² = T (1 − e^{−2γε})
//   A: θ ← θ + (ε/2) σ⁻² m
//   g ← ∇ℓ(θ_{t+1}; batch)                 (the step's one gradient, on this step's batch)
//   B: m ← m + (ε/2) g
// targeting p_T(θ, m) ∝ exp((ℓ(θ) − mᵀm/(2σ²)) / T). With a full-batch gradient, a constant ε
// and baoa started from the half-kicked momenta m₀ + (ε/2) ∇ℓ(θ₀), the θ sequence is the same
// as baoa's (BBAOA's) for the same noise (under an ε schedule BAOAB kicks by (ε_{t−1} + ε_t)/2
// where baoa kicks by ε_t): what differs is the state's momenta, which here are synchronised
// with θ (the last half kick applied), and log_posterior, which here is ℓ at the returned θ. The
// first update evaluates the gradient twice (at θ_0, then at θ_1); so does the update after
// grad_current is cleared.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::baoab {

struct Config {
    Schedule lr{};               // ε > 0, required (posteriors has no default)
    double alpha = 0.01;         // friction α ≥ 0
    double sigma = 1.0;          // σ > 0: standard deviation of the momenta's target (at T = 1)
    Schedule temperature = 1.0;  // T ≥ 0
    // Initial momenta when init is given none: this constant when set, else N(0, 1) draws.
    std::optional<double> momenta = std::nullopt;
};

struct State {
    Tensor theta;          // [K, D]
    Tensor momenta;        // [K, D], synchronised with θ
    Tensor log_posterior;  // [K]: ℓ at the current θ on the last update's batch (NaN at init)
    std::int64_t step = 0;
    std::vector<Generator> generators;  // one per chain
    Tensor grad;                        // [K, D]: ∇ℓ at the current θ (valid if grad_current)
    Tensor noise;                       // [K, D] workspace
    // False until the first update, and to be set false by a caller that changes θ (or the
    // log-posterior's data) between updates: the next update then re-evaluates ∇ℓ at θ first.
    bool grad_current = false;
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, alpha < 0, sigma ≤ 0 or a
    // constant temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D]; momenta undefined (then from the config), [D] or [K, D].
    State init(const Tensor& theta, std::uint64_t seed = 0, const Tensor& momenta = {}) const;
    // One BAOAB step on every chain, in place. Throws postr::Error for a schedule value out of
    // range or non-finite parameters or momenta after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::baoab
