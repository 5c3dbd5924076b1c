#include "postr/nn/layers/basic_block.h"

#include "postr/autodiff/ops.h"

namespace postr::nn {

BasicBlock::BasicBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride,
                       bool kaiming_normal_fan_out) {
    Conv2dConfig c3{stride, 1, false, kaiming_normal_fan_out};
    conv1_ = register_module("conv1", std::make_shared<Conv2d>(in_channels, out_channels, 3, c3));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out_channels));
    c3.stride = 1;
    conv2_ = register_module("conv2", std::make_shared<Conv2d>(out_channels, out_channels, 3, c3));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out_channels));
    if (stride != 1 || in_channels != out_channels) {
        Conv2dConfig c1{stride, 0, false, kaiming_normal_fan_out};
        downsample_ = register_module(
            "downsample", std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
                              std::make_shared<Conv2d>(in_channels, out_channels, 1, c1),
                              std::make_shared<BatchNorm2d>(out_channels)}));
    }
}

Var BasicBlock::forward(const Var& x) {
    Var out = relu((*bn1_)((*conv1_)(x)));
    out = (*bn2_)((*conv2_)(out));
    Var shortcut = downsample_ ? (*downsample_)(x) : x;
    return relu(add(out, shortcut));
}

}  // namespace postr::nn
