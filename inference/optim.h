// Optimisation as a transform (`posteriors`' optim): SGD, Adam and AdamW minimising a loss of the
// flat parameter vector θ ∈ R^D, in the same build / init / update shape as every posterior
// algorithm, so a MAP fit (T = 0) and a posterior run share one loop. Each step is one gradient
// and one fused in-place pass (sgd_step_ / adam_step_, torch.optim's rules: the same numbers as
// nn::Sgd and nn::Adam step for step).
//
// The loss has LogPosterior's signature and is MINIMISED; to find the MAP of a log-posterior ℓ,
// pass negated(ℓ).
#pragma once

#include <cstdint>
#include <functional>

#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/kernels/ops.h"

namespace postr::inference::optim {

// (θ [D], batch) → a one-element Var to minimise.
using Loss = LogPosterior;

// −ℓ: turns a log-posterior into a loss.
Loss negated(LogPosterior log_posterior);

enum class Method { sgd, adam, adamw };

struct Config {
    Method method = Method::adam;
    SgdOptions sgd;    // lr, momentum, dampening, weight_decay, nesterov (method sgd)
    AdamOptions adam;  // lr, betas, eps, weight_decay (adam, adamw; adamw sets the decoupled
                       // weight decay whatever adam.decoupled_weight_decay says)
    // Optional: the learning rate of step t (t = 1 for the first update), overriding the
    // options' lr. Must return a finite value ≥ 0.
    std::function<double(std::int64_t step)> lr_schedule;
};

struct State {
    // θ [D]: the tensor given to init, updated in place (pass model.parameters().theta() and the
    // model trains).
    Tensor params;
    Tensor momentum_buffer;      // sgd with momentum: [D], allocated at init
    Tensor exp_avg, exp_avg_sq;  // adam/adamw: [D]
    Tensor loss;                 // the loss at the last update's θ (before the step): [1]
    std::int64_t step = 0;
};

class Transform {
  public:
    // Throws postr::Error on invalid options (negative lr, betas outside [0, 1), ...).
    Transform(Loss loss, Config config);
    // State over theta ([D], f32/f64, any device; shared, not copied) with zeroed moments.
    State init(const Tensor& theta) const;
    // One step: the loss and its gradient at params, then the fused update in place. Throws on a
    // loss of more than one element, an invalid scheduled lr, or non-finite params (naming the
    // step).
    void update(State& state, const Batch& batch) const;
    const Config& config() const { return config_; }

  private:
    Loss loss_;
    Config config_;
};

Transform build(Loss loss, Config config);

}  // namespace postr::inference::optim
