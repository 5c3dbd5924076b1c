// Ensembles as K parallel SGHMC chains over one batched state θ [K, D] (inference/sghmc.h): one
// parameter, the temperature T, switches between
//   - a deep ensemble (T = 0, the default): K members trained independently from K different
//     initial θ, each step heavy-ball SGD on −ℓ (sghmc.h gives the exact correspondence), and
//   - the tempered "Bayesian ensemble" of the posteriors paper (T = 1/N for N data): the same
//     chains with SGHMC's noise, so each member is, asymptotically in the number of steps and
//     as ε → 0, an exact sample from the posterior p(θ | data) ∝ exp(N ℓ).
// ℓ is the per-datum averaged log-posterior of log_posterior.h (posteriors' convention); all the
// chain conventions (per-member Generator(seed + k), BatchedLogPosterior, schedules, the
// non-finite check naming the step, CPU/CUDA and f32/f64) are sgld.h's. The members' θ are the
// rows of the state: members(state) → [K, D]; `predictive` averages their predictions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sghmc.h"
#include "postr/inference/sgld.h"

namespace postr::inference::ensemble {

struct Config {
    // ε > 0, required: SGHMC's step size (with T = 0, the heavy-ball learning rate is ε²/σ² and
    // the momentum 1 − εα/σ², see sghmc.h).
    Schedule lr{};
    double alpha = 0.01;  // friction α ≥ 0
    double beta = 0.0;    // gradient-noise variance estimate β ≥ 0 (tempered only)
    double sigma = 1.0;   // σ > 0, the momenta's scale
    // T ≥ 0: 0 gives a deep ensemble, 1/N the Bayesian (posterior-sampling) ensemble; any
    // Schedule works (e.g. annealing from 0 to 1/N).
    Schedule temperature = 0.0;
    // Initial momenta: this constant (default 0, so a deep ensemble starts as SGD from rest);
    // nullopt draws N(0, 1) per member from its generator (SGHMC's default).
    std::optional<double> momenta = 0.0;
};

using State = sghmc::State;  // theta [K, D]: row k is member k

class Transform {
  public:
    // Throws postr::Error for the configurations sghmc::Transform rejects.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // K members from initial parameters thetas [K, D] (K ≥ 1, f32/f64, CPU/CUDA, finite; copied).
    // Member k draws from Generator(seed + k). Throws postr::Error for another rank, K = 0 or
    // D = 0, a non-floating dtype or non-finite values.
    State init(const Tensor& thetas, std::uint64_t seed = 0) const;
    // K members from θ₀ [D] spread by N(0, spread²) per element, drawn from gen (K·D normals,
    // member by member): θ_k = θ₀ + spread · ε_k. Throws postr::Error for K < 1, a negative or
    // non-finite spread, or θ₀ not [D].
    State init(const Tensor& theta0, std::int64_t num_members, double spread, Generator& gen,
               std::uint64_t seed = 0) const;
    // One step of every member, in place (see sghmc::Transform::update).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }
    // True when the temperature is the constant 0 (a deep ensemble).
    bool is_deep() const;

  private:
    sghmc::Transform chains_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

// The members' parameters [K, D] (a view of the state's θ; clone to keep a snapshot).
Tensor members(const State& state);

// θ [D] ↦ a prediction (e.g. class probabilities [N, C]) for one member.
using MemberPrediction = std::function<Tensor(const Tensor& theta)>;

// The ensemble's predictive (1/K) Σ_k predict(θ_k) over the rows of members [K, D]: for
// probabilities, the Bayesian model average (tempered) or the deep-ensemble average. Every
// member's prediction must have the first one's shape, dtype and device and be finite. Throws
// postr::Error otherwise, or for members not [K ≥ 1, D] or an unset predict.
Tensor predictive(const Tensor& members, const MemberPrediction& predict);

}  // namespace postr::inference::ensemble
