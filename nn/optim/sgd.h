// Stochastic gradient descent over one flat parameter vector (DESIGN decision 1): momentum,
// dampening, L2 weight decay and Nesterov, by torch.optim.SGD's rules, one fused pass per step.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"
#include "postr/nn/optim/optimizer_state.h"

namespace postr::nn {

// Updates `params` ([D], f32/f64, any device; the handle shares storage with the caller's
// tensor, so the model sees each step) in place from a gradient of the same shape, dtype and
// device. The momentum buffer is allocated on the first step that needs it, as in PyTorch.
// Throws postr::Error on invalid options (lr < 0, Nesterov without momentum, ...) and, in step,
// on a gradient that does not match params.
class Sgd {
  public:
    Sgd(Tensor params, SgdOptions options = {});

    // One update: params ← params − lr·(direction from grad and the momentum buffer).
    void step(const Tensor& grad);

    double lr() const { return options_.lr; }
    void set_lr(double lr);  // e.g. from a schedule in lr_schedule.h; throws if lr < 0
    const SgdOptions& options() const { return options_; }
    const Tensor& params() const { return params_; }
    std::int64_t step_count() const { return step_count_; }

    // Copies of the state for checkpoints: {"step": i64 scalar} and, once allocated,
    // {"momentum_buffer": [D]}. load_state restores it (copying into fresh buffers on params'
    // device and dtype), so the following steps equal those of the optimizer that was saved.
    // Throws on an unknown name, a missing "step", or a buffer of the wrong shape.
    OptimizerState state() const;
    void load_state(const OptimizerState& state);

  private:
    Tensor params_;
    SgdOptions options_;
    Tensor momentum_buffer_;  // [D]; undefined until the first step with momentum
    std::int64_t step_count_ = 0;
};

}  // namespace postr::nn
