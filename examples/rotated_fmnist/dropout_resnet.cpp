#include "examples/rotated_fmnist/dropout_resnet.h"

#include <string>
#include <vector>

#include "postr/autodiff/ops.h"
#include "postr/nn/layers/basic_block.h"

namespace postr::examples::rotated {

DropoutResNet::DropoutResNet(std::int64_t num_classes, std::int64_t in_channels,
                             std::int64_t base_width, double p, std::uint64_t seed) {
    const std::int64_t b = base_width;
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(
                                          in_channels, b, 3, nn::Conv2dConfig{1, 1, false, true}));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(b));
    const std::int64_t widths[4] = {b, 2 * b, 4 * b, 8 * b};
    std::int64_t in = b;
    for (int i = 0; i < 4; ++i) {
        const std::int64_t stride = i == 0 ? 1 : 2;
        layers_[i] = register_module(
            "layer" + std::to_string(i + 1),
            std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                std::make_shared<nn::BasicBlock>(in, widths[i], stride),
                std::make_shared<nn::BasicBlock>(widths[i], widths[i], 1)}));
        in = widths[i];
    }
    dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(p, seed));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(8 * b, num_classes));
}

Var DropoutResNet::forward(const Var& x) {
    Var h = relu((*bn1_)((*conv1_)(x)));
    for (auto& layer : layers_) h = (*layer)(h);
    h = adaptive_avg_pool2d(h, 1, 1);
    return (*fc_)((*dropout_)(reshape(h, {h.size(0), h.size(1)})));
}

std::shared_ptr<DropoutResNet> dropout_resnet18(std::int64_t num_classes, std::int64_t in_channels,
                                                std::int64_t base_width, double p,
                                                std::uint64_t seed, Device device) {
    auto model = std::make_shared<DropoutResNet>(num_classes, in_channels, base_width, p, seed);
    model->finalize(seed, DType::f32, device);
    return model;
}

}  // namespace postr::examples::rotated
