// Stochastic gradient Langevin dynamics (Welling & Teh 2011) as the `posteriors` library specifies
// it, and the machinery that every SG-MCMC sampler (sgld, sghmc, sgnht, baoa, baoab, baoa_nht,
// sglrw) and svgd share.
//
// Conventions of every SG-MCMC sampler here (posteriors' conventions):
//   - ℓ(θ; batch) is the per-datum averaged log posterior of inference/log_posterior.h, and the
//     sampler targets p_T(θ) ∝ exp(ℓ(θ) / T): T = 1/N is the Bayesian posterior for N data,
//     T = 0 turns the sampler into an optimiser, T = 1 samples exp(ℓ) itself (a log-density
//     that is not averaged over data, as in the Gaussian tests).
//   - The learning rate ε and the temperature T are Schedules of the 0-based step t (the
//     number of updates already applied): update t uses ε(t) and T(t).
//   - K chains run as one batched state: θ is [K, D]. init accepts θ [D] (one chain: the state
//     holds it as [1, D]) or θ [K, D]. Every update is a few fused in-place passes over all K·D
//     elements at once, never a loop over chains, except for two per-chain parts: the gradient
//     (the LogPosterior is called once per chain on the view θ[k]; a BatchedLogPosterior
//     instead gives all K gradients in one call) and the noise draw (below).
//   - Randomness: chain k draws from its own Philox Generator seeded seed + k, D normals per
//     draw. The draws of chain k therefore do not depend on K, and a K-chain run with seed s
//     equals, bit for bit, K single-chain runs with seeds s, s+1, ..., s+K−1 given the same
//     batches, with a per-chain LogPosterior (a BatchedLogPosterior agrees to rounding only:
//     a [K, D] product may sum in another order than K [D] ones).
//   - After every update the state is checked for non-finite values; the error names the
//     step (DESIGN decision 6). Steps in messages are 1-based: "step s" is the s-th update.
//     On CUDA the check reads one flag back per update, a synchronisation point.
//   - All of θ's dtypes (f32, f64) and devices (CPU, CUDA) work; state tensors live on θ's.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "postr/autodiff/var.h"
#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/schedule.h"

namespace postr::inference {

// ℓ for K chains at once: θ [K, D] (a Var) and a batch → values [K], where value k must depend
// only on row θ[k] (the chains are independent), so that ∇ of Σ_k value_k gives every chain's
// gradient in one backward pass. A distinct type (not a bare std::function) so that the
// samplers can tell it from a per-chain LogPosterior, which has the same call signature.
struct BatchedLogPosterior {
    std::function<Var(const Var& theta, const Batch& batch)> fn;
};

namespace sgmcmc {

// The objective of a sampler, per chain or batched; converts from either.
class ChainLogPosterior {
  public:
    ChainLogPosterior(LogPosterior log_posterior);         // NOLINT(google-explicit-constructor)
    ChainLogPosterior(BatchedLogPosterior log_posterior);  // NOLINT(google-explicit-constructor)

    // theta [K, D] → writes ℓ per chain into values [K] and ∇ℓ per chain into grad [K, D]
    // (both preallocated, θ's dtype and device). Throws postr::Error naming `op` when the
    // log-posterior is unset or returns a value of the wrong size.
    void value_and_grad(const char* op, const Tensor& theta, const Batch& batch, Tensor& values,
                        Tensor& grad) const;

  private:
    LogPosterior per_chain_;
    BatchedLogPosterior batched_;
};

// θ [D] → [1, D], θ [K, D] → [K, D]: a fresh contiguous copy the state owns. Throws
// postr::Error naming `op` for an undefined, non-floating, non-finite or empty θ or one of
// rank other than 1 or 2.
Tensor as_chains(const char* op, const Tensor& theta);

// Generators seeded seed, seed + 1, ..., seed + K − 1.
std::vector<Generator> chain_generators(std::uint64_t seed, std::int64_t num_chains);

// noise [K, D] ← N(0, 1), row k from generators[k] (D draws each).
void draw_normal_(Tensor& noise, std::vector<Generator>& generators);
// noise [K, D] ← U[−1, 1), row k from generators[k] (D draws each).
void draw_uniform_(Tensor& noise, std::vector<Generator>& generators);

// Initial momenta [K, D] like θ: `momenta` when defined ([D], broadcast to every chain, or
// [K, D]), else the constant `fill` when set, else N(0, 1) draws from each chain's generator
// (posteriors' default). Throws postr::Error naming `op` on a shape, dtype or device mismatch.
Tensor init_momenta(const char* op, const Tensor& theta, const Tensor& momenta,
                    const std::optional<double>& fill, std::vector<Generator>& generators);

// A state with the fields every sampler's state has, for the K chains of θ [D] or [K, D]: θ (a
// copy the state owns), one generator per chain (seed + k), ℓ = NaN per chain and the [K, D]
// gradient and noise workspaces. Momentum samplers add their momenta (init_momenta) after.
template <class State>
State init_chains(const char* op, const Tensor& theta, std::uint64_t seed) {
    State state;
    state.theta = as_chains(op, theta);
    const std::int64_t chains = state.theta.size(0);
    state.generators = chain_generators(seed, chains);
    state.log_posterior = Tensor::full({chains}, std::numeric_limits<double>::quiet_NaN(),
                                       state.theta.dtype(), state.theta.device());
    state.grad = Tensor::empty(state.theta.shape(), state.theta.dtype(), state.theta.device());
    state.noise = Tensor::empty(state.theta.shape(), state.theta.dtype(), state.theta.device());
    return state;
}

// The exact Ornstein-Uhlenbeck ("O") step of the BAOA-family splittings, for friction α and
// momenta standard deviation σ over a step ε at temperature T:
//   m ← e^{−γε} m + σ √(T (1 − e^{−2γε})) ξ,   γ = α / σ²,   ξ ~ N(0, I) (noise, per chain),
// the noise scale through expm1, accurate when γε is tiny; at T = 0 it only decays.
void ornstein_uhlenbeck_(Tensor& momenta, Tensor& noise, std::vector<Generator>& generators,
                         double lr, double temperature, double alpha, double sigma);

// Throws "<op>: <name> became non-finite at step <step> (learning rate <lr> may be too large, or
// the log-posterior's gradient is not finite there). ..." when t has a NaN or ±inf.
void check_finite_at_step(const char* op, const char* name, const Tensor& t, std::int64_t step,
                          double lr);

// The checks every sampler makes on its configuration when built: lr is set, and constant
// schedules are in range (lr > 0, temperature ≥ 0); schedules are checked again at each step.
void check_schedules(const char* op, const Schedule& lr, const Schedule& temperature);
// Throws "<op>: <name> must be > 0 (positive) or >= 0 and finite, got <value>. <meaning>".
void check_coefficient(const char* op, const char* name, double value, bool positive,
                       const char* meaning);

}  // namespace sgmcmc

namespace sgld {

// θ_{t+1} = θ_t + ε ∇ℓ(θ_t; batch) + N(0, ε T (2 − ε T β) I),
// which targets p_T(θ) ∝ exp(ℓ(θ)/T) as ε → 0 (the step-size bias is O(ε)).
struct Config {
    Schedule lr{};  // ε > 0, required (posteriors has no default)
    // Estimated variance of the gradient noise, β ≥ 0; the injected noise is reduced by it
    // (posteriors' default 0: no correction). ε T β ≤ 2 is required.
    double beta = 0.0;
    Schedule temperature = 1.0;  // T ≥ 0
};

struct State {
    Tensor theta;          // [K, D]
    Tensor log_posterior;  // [K]: ℓ at θ before the last update (NaN before the first)
    std::int64_t step = 0;
    std::vector<Generator> generators;  // one per chain
    Tensor grad;                        // [K, D] workspace: ∇ℓ of the last update
    Tensor noise;                       // [K, D] workspace
    std::int64_t num_chains() const { return theta.size(0); }
};

class Transform {
  public:
    // Throws postr::Error when lr is unset, a constant lr ≤ 0, beta < 0 or a constant
    // temperature < 0.
    Transform(sgmcmc::ChainLogPosterior log_posterior, Config config);

    // θ [D] or [K, D] (f32/f64, CPU/CUDA) → a state of K chains whose chain k draws from
    // Generator(seed + k). Throws postr::Error on a bad θ (see sgmcmc::as_chains).
    State init(const Tensor& theta, std::uint64_t seed = 0) const;
    // One SGLD step on every chain, in place. Throws postr::Error for a schedule value out of
    // range at this step, ε T β > 2, or a non-finite θ after the step (naming the step).
    void update(State& state, const Batch& batch = {}) const;

    const Config& config() const { return config_; }

  private:
    sgmcmc::ChainLogPosterior log_posterior_;
    Config config_;
};

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config);

}  // namespace sgld
}  // namespace postr::inference
