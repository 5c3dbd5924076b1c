// ResNet-18 with dropout before the final layer, for the MC-dropout baseline (Gal & Ghahramani
// 2016): nn::ResNet's CIFAR-stem layout (conv1, bn1, layer1..layer4, global average pool, fc)
// with an nn::Dropout(p) between the pooled features and fc. nn::ResNet has no dropout and keeps
// its layers private, so this module rebuilds the same layers; with p = 0 it computes what
// nn::resnet18(..., cifar_stem = true, ..., base_width) computes, θ in the same order.
#pragma once

#include <cstdint>
#include <memory>

#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/dropout.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/module.h"

namespace postr::examples::rotated {

class DropoutResNet : public nn::Module {
  public:
    // Unfinalized (dropout_resnet18 is the usual entry). The dropout mask draws from `seed`.
    DropoutResNet(std::int64_t num_classes, std::int64_t in_channels, std::int64_t base_width,
                  double p, std::uint64_t seed);
    // x: [N, in_channels, H, W] → logits [N, num_classes].
    Var forward(const Var& x) override;
    // Dropout on in evaluation mode too (MC dropout at prediction time), or off.
    void set_mc_dropout(bool on) { dropout_->set_active(on); }

  private:
    std::shared_ptr<nn::Conv2d> conv1_;
    std::shared_ptr<nn::BatchNorm2d> bn1_;
    std::shared_ptr<nn::Sequential> layers_[4];
    std::shared_ptr<nn::Dropout> dropout_;
    std::shared_ptr<nn::Linear> fc_;
};

// A finalized DropoutResNet (θ initialized from `seed`).
std::shared_ptr<DropoutResNet> dropout_resnet18(std::int64_t num_classes, std::int64_t in_channels,
                                                std::int64_t base_width, double p,
                                                std::uint64_t seed, Device device);

}  // namespace postr::examples::rotated
