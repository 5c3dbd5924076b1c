#include "postr/nn/layers/resnet.h"

#include <string>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/nn/layers/basic_block.h"

namespace postr::nn {

ResNet::ResNet(std::int64_t num_classes, std::int64_t in_channels, bool cifar_stem,
               std::int64_t base_width)
    : cifar_stem_(cifar_stem) {
    POSTR_CHECK(num_classes > 0 && in_channels > 0 && base_width > 0,
                "resnet18: sizes must be positive: got num_classes ", num_classes, ", in_channels ",
                in_channels, ", base_width ", base_width, ". Check the data set and the width");
    const std::int64_t b = base_width;
    const Conv2dConfig stem =
        cifar_stem ? Conv2dConfig{1, 1, false, true} : Conv2dConfig{2, 3, false, true};
    conv1_ = register_module("conv1",
                             std::make_shared<Conv2d>(in_channels, b, cifar_stem ? 3 : 7, stem));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(b));
    const std::int64_t widths[4] = {b, 2 * b, 4 * b, 8 * b};
    std::int64_t in = b;
    for (int i = 0; i < 4; ++i) {
        const std::int64_t stride = i == 0 ? 1 : 2;
        layers_[i] =
            register_module("layer" + std::to_string(i + 1),
                            std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
                                std::make_shared<BasicBlock>(in, widths[i], stride),
                                std::make_shared<BasicBlock>(widths[i], widths[i], 1)}));
        in = widths[i];
    }
    fc_ = register_module("fc", std::make_shared<Linear>(8 * b, num_classes));
}

Var ResNet::forward(const Var& x) {
    Var h = relu((*bn1_)((*conv1_)(x)));
    if (!cifar_stem_) {
        Pool2dOptions pool;
        pool.kernel_h = pool.kernel_w = 3;
        pool.stride_h = pool.stride_w = 2;
        pool.pad_h = pool.pad_w = 1;
        h = max_pool2d(h, pool).values;
    }
    for (auto& layer : layers_) h = (*layer)(h);
    h = adaptive_avg_pool2d(h, 1, 1);
    return (*fc_)(reshape(h, {h.size(0), h.size(1)}));
}

std::shared_ptr<ResNet> resnet18(std::int64_t num_classes, std::int64_t in_channels,
                                 bool cifar_stem, std::uint64_t seed, DType dtype, Device device,
                                 std::int64_t base_width) {
    auto model = std::make_shared<ResNet>(num_classes, in_channels, cifar_stem, base_width);
    model->finalize(seed, dtype, device);
    return model;
}

}  // namespace postr::nn
