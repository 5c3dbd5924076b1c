// The small models the curvature tests share: an MLP and a CNN with batch norm, a residual
// block with a strided 1×1 downsample, max- and average pooling, each with random θ and random
// batch-norm running statistics (so every term of the curvature is exercised), in eval mode.
#pragma once

#include <memory>
#include <vector>

#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/basic_block.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/pooling.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr::test {

inline void randomize_for_curvature(nn::Module& model, std::uint64_t seed) {
    model.load_flat(random_tensor({model.num_parameters()}, DType::f64, seed));
    std::uint64_t s = seed;
    for (auto& [name, buffer] : model.named_buffers()) {
        if (buffer.dtype() == DType::i64) continue;
        Tensor values = random_tensor(buffer.shape(), DType::f64, ++s);
        if (name.ends_with("running_var")) values = add(abs(values), 0.5);
        buffer.copy_(values);
    }
    model.eval();
}

// Linear(in, 6) → Tanh → Linear(6, 5, no bias) → ReLU → Linear(5, outputs).
inline std::unique_ptr<nn::Sequential> curvature_mlp(std::int64_t in, std::int64_t outputs,
                                                     std::uint64_t seed) {
    using ModulePtr = std::shared_ptr<nn::Module>;
    auto net = std::make_unique<nn::Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Linear>(in, 6), std::make_shared<nn::Tanh>(),
        std::make_shared<nn::Linear>(6, 5, false), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(5, outputs)});
    net->finalize(0, DType::f64);
    randomize_for_curvature(*net, seed);
    return net;
}

// Conv 3×3 (bias, padding 1) → BN → ReLU → BasicBlock(3 → 4, stride 2) → max-pool 2 (stride 1)
// → adaptive average pool → flatten → Linear(4, 3). Inputs [N, in_channels, ≥ 4, ≥ 4].
inline std::unique_ptr<nn::Sequential> curvature_cnn(std::int64_t in_channels, std::uint64_t seed,
                                                     DType dtype = DType::f64,
                                                     Device device = Device::cpu()) {
    using ModulePtr = std::shared_ptr<nn::Module>;
    nn::Conv2dConfig padded;
    padded.padding = 1;
    auto net = std::make_unique<nn::Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Conv2d>(in_channels, 3, 3, padded),
        std::make_shared<nn::BatchNorm2d>(3), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::BasicBlock>(3, 4, 2), std::make_shared<nn::MaxPool2d>(2, 1),
        std::make_shared<nn::AdaptiveAvgPool2d>(1, 1), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(4, 3)});
    net->finalize(0, dtype, device);
    randomize_for_curvature(*net, seed);
    return net;
}

}  // namespace postr::test
