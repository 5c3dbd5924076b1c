// BAOA with a Nosé–Hoover–Langevin thermostat (Leimkuhler & Matthews 2015, "Molecular
// Dynamics", pp. 345–350): the `posteriors` algorithm posteriors/sgmcmc/baoa_nht.py
// (normal-computing/posteriors, commit 4474a1d0e710573bb9436b97dcd3fea3ee2f3520), with its
// hyperparameters (lr, alpha = 0.01, gamma = 0.01, sigma = 1, temperature = 1, momenta, xi
// defaulting to gamma). The conventions shared by every SG-MCMC sampler (temperature, schedules,
// K chains as [K, D], per-chain random streams, the non-finite check) are in sgld.h.
//
// Unlike SGNHT (Ding et al. 2014: the thermostat is the friction and the noise goes into the
// momenta), the noise here drives the thermostat ξ, an Ornstein–Uhlenbeck variable with friction
// γ, and the thermostat scales the momenta. One step, with D the number of parameters, K(m) =
// σ⁻² mean_d(m²) the kinetic temperature of a chain and N(0, 1) draws:
//   B: m ← m + ε ∇ℓ(θ_t; batch)                   (one gradient per step, as in baoa)
//   A: θ ← θ + (ε/2) σ⁻² m
//   D: ξ ← ξ + (ε/2) (K(m) − T);  m ← e^{−(ε/2) ξ} m
//   O: ξ ← e^{−γε} ξ + √(T (1 − e^{−2γε}) / D) N(0, 1)
//      m ← e^{−α' ε} m + √(T (1 − e^{−2α' ε})) σ N(0, I),   α' = α σ⁻²
//   D: m ← e^{−(ε/2) ξ} m;  ξ ← ξ + (ε/2) (K(m) − T)
//   A: θ ← θ + (ε/2) σ⁻² m
// targeting p_T(θ, m, ξ) ∝ exp((ℓ(θ) − mᵀm/(2σ²) − (D/2) ξ²) / T) (so ξ's stationary mean is 0).
// Every sub-step preserves that law exactly or (the D–A–B parts) as a symmetric splitting.
// Each chain has its own thermostat (K(m) averages over that chain's D momenta).
//
// Two departures from posteriors, both so that the chain targets the stated law:
//   - posteriors' code applies only the first thermostat half step (its docstring has both):
//     ξ then moves ε/2 per step instead of ε, and the flow no longer preserves p_T (the
//     m-scaling and the ξ-drift balance only with equal weight). Both halves are applied here.
//   - posteriors accepts `alpha` ("friction for momenta") but ignores it (a TODO). Here it is
//     that friction, an exact O step on m as in baoa; alpha = 0 gives posteriors' dynamics
//     apart from the first departure. Keep alpha > 0 (the default): with alpha = 0 no noise
//     reaches θ and m except through the scalar thermostat, so with a full-batch gradient on a
//     rotationally symmetric target every sub-step moves θ − μ and m within the plane they
//     start in, and the chain is not ergodic.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::baoa_nht {

struct Config {
    Schedule lr{};               // ε > 0, required (posteriors has no default)
    double alpha = 0.01;         // α ≥ 0: Langevin friction on the momenta (see above)
    double gamma = 0.01;         // γ ≥ 0: friction of the thermostat's OU process
    double sigma = 1.0;          // σ > 0: standard deviation of the momenta's target (at T = 1)
    Schedule temperature = 1.0;  // T ≥ 0
    // Initial momenta when init is given none: this constant when set, else N(0, 1) draws.
    std::optional<double> momenta = std::nullopt;
    // Initial thermostat ξ_0 for every chain; unset means gamma (posteriors' `xi or gamma`,
    // except that an explicit 0 stays 0 here).
    std::optional<double> xi = std::nullopt;
};

struct State {
    Tensor theta;          // [K, D]
    Tensor momenta;        // [K, D]
    Tensor xi;             // [K]: the thermostats
    Tensor log_posterior;  // [K]: ℓ at θ before the last update (NaN before the first)
    std::int64_t step = 0;
    // One per chain; per step chain k draws its thermostat's normal (when γ T > 0), then its D
    // momenta normals (when α T > 0).
    std::vector<Generator> generators;
    Tensor grad;      // [K, D] workspace
    Tensor noise;     // [K, D] workspace
    Tensor xi_noise;  // [K, 1] workspace
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, alpha < 0, gamma < 0,
    // sigma ≤ 0, a non-finite xi or a constant temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D]; momenta undefined (then from the config), [D] or [K, D].
    State init(const Tensor& theta, std::uint64_t seed = 0, const Tensor& momenta = {}) const;
    // One step on every chain, in place. Throws postr::Error for a schedule value out of range,
    // or non-finite parameters, momenta or thermostats after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::baoa_nht
