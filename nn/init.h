// Parameter initializers, drawn from a seeded postr::Generator so a seed fixes every weight.
// The defaults are PyTorch's: nn.Linear and nn.Conv2d use kaiming_uniform_(a=√5), which is
// U(−1/√fan_in, 1/√fan_in), for the weight and the same bound for the bias; torchvision's
// ResNet re-initializes convolutions with kaiming_normal_(mode='fan_out', nonlinearity='relu').
#pragma once

#include <cstdint>
#include <functional>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"

namespace postr::nn {

// Produces a tensor of `shape`, `dtype` and `device`, advancing `gen` by what it draws.
using Initializer =
    std::function<Tensor(const Shape& shape, Generator& gen, DType dtype, Device device)>;

// Every element equal to `value` (draws nothing).
Initializer constant_init(double value);
// U(−bound, bound).
Initializer uniform_init(double bound);
// U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear/Conv2d weights and biases.
// Throws when fan_in is not positive.
Initializer fan_in_uniform_init(std::int64_t fan_in);
// N(0, 2/fan_out): kaiming_normal_(mode='fan_out', nonlinearity='relu').
Initializer kaiming_normal_fan_out_init(std::int64_t fan_out);

}  // namespace postr::nn
