// Stein variational gradient descent (Liu & Wang 2016, "Stein Variational Gradient Descent: A
// General Purpose Bayesian Inference Algorithm", NeurIPS): the algorithm of posteriors'
// posteriors/gradient_descent/svgd.py (normal-computing/posteriors, commit
// adfaae9ac3e9004d57051ec880ea50120043fbd8), whose hyperparameter is the learning rate
// (`learning_rate` there, `lr` here as in every other transform; no default) and a user kernel.
//
// K particles θ_1..θ_K (the state's [K, D]) move along the kernelised Stein direction
//   θ_i ← θ_i + ε φ(θ_i),   φ(x) = (1/K) Σ_j [ k(θ_j, x) ∇ℓ(θ_j) + T ∇_{θ_j} k(θ_j, x) ],
// the steepest descent direction of KL(q ‖ p_T), p_T ∝ exp(ℓ/T), in the kernel's RKHS (scaled by
// T, so that ε has the units of the samplers' learning rate and T = 0 is a kernel-smoothed
// gradient ascent of the particles). ℓ is postr's per-datum averaged log posterior, so T = 1/N
// is the Bayesian posterior for N data (sgld.h); T = 1 is exp(ℓ) itself.
//
// The kernel is Liu & Wang's RBF k(x, y) = exp(−‖x − y‖² / h), with the bandwidth fixed or, by
// default, a variant of their median heuristic recomputed every step: h = med² / log(K + 1),
// med² the median of the K(K − 1)/2 squared distances between distinct particles (their code
// takes the median over the full K×K matrix, its K zeros and both copies of each pair
// included, which gives a smaller h for small K); h = 1 when all particles coincide. Its repulsive
// term is (2T/h) Σ_j k_ij (θ_i − θ_j), so one step is two K×K×D products: φ = (1/K) [k (G − (2T/h)
// Θ) + (2T/h) diag(k 1) Θ] with G the [K, D] gradients.
//
// Departures from posteriors' svgd.py, whose docstrings are still "TBD": there the gradient of
// log p is taken at the particle being moved and the kernel is differentiated in that same
// argument (k(θ_i, θ_j) ∇ℓ(θ_i) + ∇_{θ_i} k(θ_i, θ_j)), which for the RBF kernel attracts the
// particles to each other instead of repelling them, so they collapse to a mode; Liu & Wang's
// φ above is used instead. The kernel here is the RBF kernel only (posteriors takes any), and
// the temperature is added so that SVGD follows postr's tempered convention.
//
// The median heuristic reads the K×K squared distances back to the host every step (a
// synchronisation point on CUDA, like the non-finite check).
#pragma once

#include <cstdint>
#include <optional>

#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/inference/sgld.h"

namespace postr::inference::svgd {

struct Config {
    Schedule lr{};               // ε > 0, required
    Schedule temperature = 1.0;  // T ≥ 0
    // RBF bandwidth h > 0 in k(x, y) = exp(−‖x − y‖²/h); unset: the median heuristic per step.
    std::optional<double> bandwidth = std::nullopt;
};

struct State {
    Tensor theta;          // [K, D]: the particles
    Tensor log_posterior;  // [K]: ℓ at each particle before the last update (NaN before the first)
    std::int64_t step = 0;
    double bandwidth = 0.0;  // h used by the last update (0 before the first)
    Tensor grad;             // [K, D] workspace
    Tensor work;             // [K, D] workspace
    std::int64_t num_particles() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, a constant temperature < 0 or a
    // bandwidth that is not finite and > 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [K, D] (f32/f64, CPU/CUDA): K ≥ 1 particles (θ [D] is one particle, which SVGD moves by
    // plain gradient ascent). Throws postr::Error on a bad θ (see sgmcmc::as_chains).
    State init(const Tensor& theta) const;
    // One SVGD step of every particle, in place. Throws postr::Error for a schedule value out of
    // range at this step or non-finite particles after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace postr::inference::svgd
