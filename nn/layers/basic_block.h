// BasicBlock: the residual block of ResNet-18/34 (He et al. 2016), torchvision's layout:
//   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// conv1 3×3 with `stride`, conv2 3×3, both without bias; the shortcut is the identity, or
// "downsample" = Sequential(conv 1×1 with `stride`, no bias; BatchNorm2d) when the stride is
// not 1 or the channel count changes. Children: conv1, bn1, conv2, bn2[, downsample].
#pragma once

#include <memory>

#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/module.h"

namespace postr::nn {

class BasicBlock : public Module {
  public:
    // x: [N, in_channels, H, W] → [N, out_channels, ⌈H/stride⌉, ⌈W/stride⌉].
    // kaiming_normal_fan_out selects torchvision's conv init (used by resnet18).
    BasicBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride = 1,
               bool kaiming_normal_fan_out = true);
    Var forward(const Var& x) override;

  private:
    std::shared_ptr<Conv2d> conv1_, conv2_;
    std::shared_ptr<BatchNorm2d> bn1_, bn2_;
    std::shared_ptr<Sequential> downsample_;  // null for the identity shortcut
};

}  // namespace postr::nn
