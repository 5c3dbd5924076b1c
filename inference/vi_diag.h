// Variational inference with a diagonal (mean-field) Gaussian q(θ) = N(μ, diag(σ²)) over the flat
// parameter vector θ [D], as `posteriors.vi.diag` (Blei et al. 2017; the stick-the-landing
// estimator of Roeder et al. 2017, arXiv:1703.09194).
//
// Objective, in posteriors' convention (the log-posterior ℓ is per datum and averaged, see
// log_posterior.h; the temperature T divides it):
//
//   NELBO(μ, σ) = −E_q[ ℓ(θ; batch) − T · log q(θ) ],
//
// estimated with S = n_samples reparameterised draws θ_s = μ + σ ⊙ ε_s, ε_s ~ N(0, I). Its
// minimiser is q* ∝ exp(ℓ/T) projected on the family. With the full-batch ℓ = (1/N) log p(θ | D)
// + const, exp(ℓ/T) = p(θ | D)^{1/(N·T)}: T = 1/N targets the Bayesian posterior, a Gaussian
// posterior's covariance is multiplied by N·T in general (so posteriors' default T = 1 gives N
// times the posterior covariance), and T → 0 collapses q onto the MAP.
//
// Parameterisation: the state holds μ and ρ = log σ (posteriors' `log_sd_diag`), one flat
// variational vector [μ; ρ] of 2D numbers updated by Adam (posteriors takes any optax/torchopt
// optimiser; Adam is its documented example). log σ rather than softplus⁻¹(σ) because Adam's
// steps are then relative changes of σ, which suits posterior scales spread over many orders of
// magnitude (σ ~ 1/√N for large N), and it keeps posteriors' state and `init_log_sd` meaning.
//
// Gradients are formed analytically from ∇_θ ℓ at each draw (one reverse pass per draw, no graph
// through the variational parameters). With u_s the total derivative of the per-draw NELBO term
// with respect to θ_s, ∂/∂μ = mean_s u_s and ∂/∂ρ = mean_s (u_s ⊙ ε_s) ⊙ σ.
//   stl = true:  log q is evaluated at detached (μ, σ) — both of them — so
//                u_s = −∇ℓ(θ_s) − T·ε_s/σ, and at an exact Gaussian optimum u_s ≡ 0 for every
//                draw: the estimator has zero variance there.
//   stl = false: the full reparameterised gradient: u_s = −∇ℓ(θ_s), plus ∂/∂ρ of the entropy
//                term, −T per coordinate.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/kernels/ops.h"

namespace postr::inference::vi_diag {

struct Config {
    // Adam on the variational vector, minimising the NELBO. posteriors takes any torchopt
    // optimiser and has no default; Adam with lr 1e-2 is its documented example. The learning
    // rate and T are Schedules of the 0-based step t (updates already applied).
    Schedule lr = 1e-2;  // > 0
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    Schedule temperature = 1.0;  // T ≥ 0, posteriors' default (1/N is Bayesian, see above)
    std::int64_t n_samples = 1;  // S ≥ 1 draws per NELBO estimate
    bool stl = true;             // stick-the-landing
    double init_log_sd = 0.0;    // ρ at init (σ = 1), posteriors' default
    std::uint64_t seed = 0;      // of the generator held in the state, which draws ε
};

struct State {
    Tensor params;       // [2D]: the variational vector [μ; ρ] the optimiser updates
    Tensor mean;         // [D]: μ, a view into params
    Tensor log_sd;       // [D]: ρ = log σ, a view into params
    Tensor grad;         // [2D]: ∂NELBO/∂params at the last step (reused buffer)
    Tensor exp_avg;      // [2D]: Adam's first moment
    Tensor exp_avg_sq;   // [2D]: Adam's second moment
    double nelbo = 0.0;  // the estimate at the last update (before its step)
    std::int64_t step = 0;
    Generator rng;
};

class Transform {
  public:
    // Throws postr::Error unless a constant lr is > 0, a constant T ≥ 0 (both finite; schedules
    // are checked at each step), S ≥ 1 and init_log_sd is finite.
    Transform(LogPosterior log_posterior, Config config);

    // μ = θ (copied), ρ = init_log_sd; θ: [D], f32/f64, CPU or CUDA.
    State init(const Tensor& theta) const;
    // One Adam step on the NELBO estimated from n_samples fresh draws. Throws postr::Error when
    // the variational parameters become non-finite, naming the step.
    void update(State& state, const Batch& batch) const;
    // The NELBO estimate (T = temperature(state.step)) at given standard-normal draws eps
    // [S, D] (any S ≥ 1), with its
    // gradient with respect to state.params written into `grad` ([2D], allocated when
    // undefined). update() calls it with fresh draws; exposed so the estimator can be inspected.
    double nelbo_and_grad(const State& state, const Batch& batch, const Tensor& eps,
                          Tensor& grad) const;
    // n draws θ = μ + σ ⊙ ε: [n, D], on the state's device and dtype.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;

    const Config& config() const { return config_; }

  private:
    LogPosterior log_posterior_;
    Config config_;
};

// The posteriors-style entry point.
Transform build(LogPosterior log_posterior, Config config = {});

}  // namespace postr::inference::vi_diag
