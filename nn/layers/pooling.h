// Pooling layers over [N, C, H, W]: MaxPool2d, AvgPool2d (zero padding counted in the divisor,
// PyTorch's default) and AdaptiveAvgPool2d. Grouped in one file: each forwards to one op.
#pragma once

#include "postr/kernels/ops.h"
#include "postr/nn/module.h"

namespace postr::nn {

// Square windows; stride 0 means stride = kernel_size (PyTorch's default).
class MaxPool2d : public Module {
  public:
    explicit MaxPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0);
    Var forward(const Var& x) override;

  private:
    Pool2dOptions options_;
};

class AvgPool2d : public Module {
  public:
    explicit AvgPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0);
    Var forward(const Var& x) override;

  private:
    Pool2dOptions options_;
};

// → [N, C, out_h, out_w].
class AdaptiveAvgPool2d : public Module {
  public:
    AdaptiveAvgPool2d(std::int64_t out_h, std::int64_t out_w);
    Var forward(const Var& x) override;

  private:
    std::int64_t out_h_, out_w_;
};

}  // namespace postr::nn
