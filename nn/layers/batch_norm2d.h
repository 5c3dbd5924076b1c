// BatchNorm2d: per-channel normalization of [N, C, H, W]. Parameters "weight" (init 1) and
// "bias" (init 0); buffers "running_mean" (0), "running_var" (1) and "num_batches_tracked"
// (i64 scalar), as PyTorch. Training mode normalizes with the batch statistics and updates
// running ← (1 − momentum)·running + momentum·batch (unbiased batch variance); evaluation mode
// normalizes with the running statistics.
#pragma once

#include "postr/nn/module.h"

namespace postr::nn {

class BatchNorm2d : public Module {
  public:
    // Throws when num_features is not positive, eps negative or momentum outside [0, 1].
    explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1);
    // x: [N, C, H, W] → same shape.
    Var forward(const Var& x) override;
    const Var& weight() const { return param(weight_); }
    const Var& bias() const { return param(bias_); }
    Tensor& running_mean() { return buffer(mean_); }
    Tensor& running_var() { return buffer(var_); }
    std::int64_t num_batches_tracked() { return buffer(count_).item<std::int64_t>(); }
    double momentum() const { return momentum_; }
    // Throws unless momentum is in [0, 1]. nn::update_batch_norm_statistics sets 1/k for the
    // k-th batch, which makes the running statistics a plain average.
    void set_momentum(double momentum);
    // Running mean 0, variance 1, num_batches_tracked 0: the state before any training.
    void reset_running_statistics();

  private:
    std::int64_t c_;
    double eps_, momentum_;
    std::size_t weight_ = 0, bias_ = 0, mean_ = 0, var_ = 0, count_ = 0;
};

}  // namespace postr::nn
