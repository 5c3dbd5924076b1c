// ResNet-18 as torchvision builds it (BasicBlock, [2, 2, 2, 2]), with an optional CIFAR stem.
// Children, in θ order: conv1, bn1, layer1..layer4 (each a Sequential of two BasicBlocks),
// fc. Standard stem: conv 7×7 stride 2 padding 3, then max-pool 3×3 stride 2 padding 1. CIFAR
// stem: conv 3×3 stride 1 padding 1 and no max-pool. Convolutions have no bias and are
// initialized with kaiming_normal_(mode='fan_out', nonlinearity='relu'); BatchNorm weight 1,
// bias 0; fc keeps nn.Linear's default. D = 11,173,962 for (10 classes, 3 channels, CIFAR).
// base_width scales every stage (torchvision's is 64: stages of 64, 128, 256, 512 channels);
// a narrower net, e.g. 16, trains ~16× faster and is what the CPU example uses by default.
#pragma once

#include <cstdint>
#include <memory>

#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/module.h"

namespace postr::nn {

class ResNet : public Module {
  public:
    // Unfinalized; resnet18() is the usual entry. Throws when a size is not positive.
    ResNet(std::int64_t num_classes, std::int64_t in_channels, bool cifar_stem,
           std::int64_t base_width = 64);
    // x: [N, in_channels, H, W] → logits [N, num_classes].
    Var forward(const Var& x) override;

  private:
    bool cifar_stem_;
    std::shared_ptr<Conv2d> conv1_;
    std::shared_ptr<BatchNorm2d> bn1_;
    std::shared_ptr<Sequential> layers_[4];
    std::shared_ptr<Linear> fc_;
};

// A finalized ResNet-18 (θ allocated and initialized from `seed`, f32 on the CPU unless asked).
std::shared_ptr<ResNet> resnet18(std::int64_t num_classes = 10, std::int64_t in_channels = 3,
                                 bool cifar_stem = true, std::uint64_t seed = 0,
                                 DType dtype = DType::f32, Device device = Device::cpu(),
                                 std::int64_t base_width = 64);

}  // namespace postr::nn
