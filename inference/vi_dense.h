// Variational inference with a full-covariance Gaussian q(θ) = N(μ, L Lᵀ) over the flat parameter
// vector θ [D], L lower triangular with a positive diagonal, as `posteriors.vi.dense` (Blei et
// al. 2017; stick-the-landing: Roeder et al. 2017, arXiv:1703.09194). Meant for small D (a
// subnetwork, a last layer): the state is O(D²).
//
// Objective, in posteriors' convention (ℓ per datum and averaged, see log_posterior.h):
//
//   NELBO(μ, L) = −E_q[ ℓ(θ; batch) − T · log q(θ) ],
//
// estimated with S = n_samples draws θ_s = μ + L ε_s, ε_s ~ N(0, I). The minimiser is
// q* ∝ exp(ℓ/T); with the full-batch ℓ = (1/N) log p(θ | D) + const that is p(θ | D)^{1/(N·T)}:
// T = 1/N gives the Bayesian posterior, and a Gaussian posterior's covariance Σ becomes N·T·Σ
// (posteriors' default T = 1 gives N·Σ).
//
// Parameterisation (posteriors' `log_chol`, stored as a square matrix rather than a packed
// triangle so that every step is a plain dense op on either device): R [D, D] with
//   L_ij = R_ij (i > j),  L_ii = exp(R_ii),  L_ij = 0 (i < j; R's upper triangle is unused and
//   stays zero: its gradient is zero).
// The variational vector [μ; vec R] (D + D² numbers) is updated by Adam.
//
// Gradients are analytic from ∇_θ ℓ at each draw. With u_s the total derivative of a draw's
// NELBO term with respect to θ_s and M = (1/S) Σ_s u_s ε_sᵀ:
//   ∂/∂μ = mean_s u_s,  ∂/∂R_ij = M_ij (i > j),  ∂/∂R_ii = M_ii · L_ii.
//   stl = true:  log q evaluated at detached μ and L (both: posteriors forgets the mean), so
//                u_s = −∇ℓ(θ_s) − T·L⁻ᵀ ε_s; at an exact Gaussian optimum u_s ≡ 0 for every
//                draw (zero-variance gradient).
//   stl = false: u_s = −∇ℓ(θ_s), and the entropy adds −T to each ∂/∂R_ii.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"
#include "postr/kernels/ops.h"

namespace postr::inference::vi_dense {

struct Config {
    // Adam on the variational vector, minimising the NELBO. posteriors takes any torchopt
    // optimiser and has no default; Adam with lr 1e-2 is its documented example. The learning
    // rate and T are Schedules of the 0-based step t (updates already applied).
    Schedule lr = 1e-2;  // > 0
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    Schedule temperature = 1.0;  // T ≥ 0, posteriors' default (1/N is Bayesian, see above)
    std::int64_t n_samples = 1;  // S ≥ 1
    bool stl = true;             // stick-the-landing
    // The initial covariance: init_cov_matrix ([D, D], symmetric positive definite) when
    // defined, else init_cov · I (posteriors' default 1).
    double init_cov = 1.0;
    Tensor init_cov_matrix = {};
    std::uint64_t seed = 0;  // of the generator held in the state, which draws ε
};

struct State {
    Tensor params;       // [D + D²]: the variational vector [μ; vec R]
    Tensor mean;         // [D]: μ, a view into params
    Tensor log_chol;     // [D, D]: R, a view into params (see the parameterisation above)
    Tensor grad;         // [D + D²]: ∂NELBO/∂params at the last step (reused buffer)
    Tensor exp_avg;      // [D + D²]: Adam's first moment
    Tensor exp_avg_sq;   // [D + D²]: Adam's second moment
    double nelbo = 0.0;  // the estimate at the last update (before its step)
    std::int64_t step = 0;
    Generator rng;
};

// L from R: [D, D] lower triangular with a positive diagonal.
Tensor scale_tril(const State& state);
// Σ = L Lᵀ: [D, D].
Tensor covariance(const State& state);

class Transform {
  public:
    // Throws postr::Error unless a constant lr is > 0, a constant T ≥ 0 (both finite; schedules
    // are checked at each step), S ≥ 1 and init_cov > 0.
    Transform(LogPosterior log_posterior, Config config);

    // μ = θ (copied), L = chol(init covariance); θ: [D], f32/f64, CPU or CUDA. Throws
    // postr::Error on a wrongly shaped init_cov_matrix and NotPositiveDefinite on an indefinite
    // one.
    State init(const Tensor& theta) const;
    // One Adam step on the NELBO from n_samples fresh draws. Throws postr::Error when the
    // variational parameters become non-finite, naming the step.
    void update(State& state, const Batch& batch) const;
    // The NELBO estimate (T = temperature(state.step)) at given standard-normal draws eps
    // [S, D] (any S ≥ 1), with its
    // gradient with respect to state.params written into `grad` ([D + D²], allocated when
    // undefined).
    double nelbo_and_grad(const State& state, const Batch& batch, const Tensor& eps,
                          Tensor& grad) const;
    // n draws θ = μ + L ε: [n, D] (rows: μᵀ + εᵀ Lᵀ), on the state's device and dtype.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;

    const Config& config() const { return config_; }

  private:
    LogPosterior log_posterior_;
    Config config_;
};

// The posteriors-style entry point.
Transform build(LogPosterior log_posterior, Config config = {});

}  // namespace postr::inference::vi_dense
