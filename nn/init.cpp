#include "postr/nn/init.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::nn {

Initializer constant_init(double value) {
    return [value](const Shape& shape, Generator&, DType dtype, Device device) {
        return Tensor::full(shape, value, dtype, device);
    };
}

Initializer uniform_init(double bound) {
    return [bound](const Shape& shape, Generator& gen, DType dtype, Device device) {
        return uniform(shape, gen, -bound, bound, dtype, device);
    };
}

Initializer fan_in_uniform_init(std::int64_t fan_in) {
    POSTR_CHECK(fan_in > 0, "fan_in_uniform_init: fan_in must be positive: got ", fan_in,
                ". Check the layer's input size");
    return uniform_init(1.0 / std::sqrt(static_cast<double>(fan_in)));
}

Initializer kaiming_normal_fan_out_init(std::int64_t fan_out) {
    POSTR_CHECK(fan_out > 0, "kaiming_normal_fan_out_init: fan_out must be positive: got ", fan_out,
                ". Check the layer's output size");
    const double stddev = std::sqrt(2.0 / static_cast<double>(fan_out));
    return [stddev](const Shape& shape, Generator& gen, DType dtype, Device device) {
        return normal(shape, gen, 0.0, stddev, dtype, device);
    };
}

}  // namespace postr::nn
