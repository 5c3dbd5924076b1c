// Conv2d: 2-D cross-correlation, weight [C_out, C_in, kH, kW] and optional bias [C_out].
// Default init is PyTorch's (U(−1/√fan_in, 1/√fan_in), fan_in = C_in·kH·kW); the ResNet
// builder asks for torchvision's kaiming_normal_(mode='fan_out') instead.
#pragma once

#include "postr/kernels/ops.h"
#include "postr/nn/module.h"

namespace postr::nn {

struct Conv2dConfig {
    std::int64_t stride = 1;
    std::int64_t padding = 0;
    bool bias = true;
    bool kaiming_normal_fan_out = false;  // torchvision ResNet weight init
};

class Conv2d : public Module {
  public:
    // Square kernel. Throws when a size is not positive or padding is negative.
    Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
           const Conv2dConfig& config = {});
    // x: [N, C_in, H, W] → [N, C_out, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1].
    Var forward(const Var& x) override;
    const Var& weight() const { return param(weight_); }
    Var bias() const { return config_.bias ? param(bias_) : Var(); }
    Conv2dOptions options() const;

  private:
    std::int64_t in_, out_, k_;
    Conv2dConfig config_;
    std::size_t weight_ = 0, bias_ = 0;
};

}  // namespace postr::nn
