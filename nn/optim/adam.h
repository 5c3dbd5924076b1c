// Adam and AdamW over one flat parameter vector (DESIGN decision 1), by torch.optim.Adam's and
// torch.optim.AdamW's rules, one fused pass per step (Kingma & Ba 2015; Loshchilov & Hutter 2019
// for the decoupled weight decay).
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"
#include "postr/nn/optim/optimizer_state.h"

namespace postr::nn {

// Updates `params` ([D], f32/f64, any device; shares storage with the caller's tensor) in place.
// The moment estimates exp_avg and exp_avg_sq ([D]) start at zero. Throws postr::Error on invalid
// options (lr < 0, betas outside [0, 1), eps < 0, ...) and, in step, on a gradient that does not
// match params.
class Adam {
  public:
    Adam(Tensor params, AdamOptions options = {});
    // AdamW: options with decoupled_weight_decay set (PyTorch's AdamW default decay is 1e-2;
    // here the caller's weight_decay is kept as given).
    static Adam adamw(Tensor params, AdamOptions options = {});

    // One update with bias-corrected moments at step t = step_count() + 1.
    void step(const Tensor& grad);

    double lr() const { return options_.lr; }
    void set_lr(double lr);  // throws if lr < 0
    const AdamOptions& options() const { return options_; }
    const Tensor& params() const { return params_; }
    std::int64_t step_count() const { return step_count_; }

    // Copies of the state for checkpoints: {"step": i64 scalar, "exp_avg": [D],
    // "exp_avg_sq": [D]}. load_state restores all three (copied onto params' device and dtype).
    // Throws on a missing or unknown name or a wrong shape.
    OptimizerState state() const;
    void load_state(const OptimizerState& state);

  private:
    Tensor params_;
    AdamOptions options_;
    Tensor exp_avg_;     // [D]
    Tensor exp_avg_sq_;  // [D]
    std::int64_t step_count_ = 0;
};

}  // namespace postr::nn
