#include "postr/nn/layers/conv2d.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/nn/curvature/tape.h"

namespace postr::nn {

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
               const Conv2dConfig& config)
    : in_(in_channels), out_(out_channels), k_(kernel_size), config_(config) {
    POSTR_CHECK(in_ > 0 && out_ > 0 && k_ > 0 && config.stride > 0 && config.padding >= 0,
                "Conv2d: sizes must be positive (padding non-negative): got in_channels ", in_,
                ", out_channels ", out_, ", kernel_size ", k_, ", stride ", config.stride,
                ", padding ", config.padding, ". Check the layer configuration");
    const std::int64_t fan_in = in_ * k_ * k_;
    weight_ = register_parameter("weight", {out_, in_, k_, k_},
                                 config.kaiming_normal_fan_out
                                     ? kaiming_normal_fan_out_init(out_ * k_ * k_)
                                     : fan_in_uniform_init(fan_in));
    if (config.bias) bias_ = register_parameter("bias", {out_}, fan_in_uniform_init(fan_in));
}

Conv2dOptions Conv2d::options() const {
    Conv2dOptions o;
    o.stride_h = o.stride_w = config_.stride;
    o.pad_h = o.pad_w = config_.padding;
    return o;
}

Var Conv2d::forward(const Var& x) {
    POSTR_CHECK(x.dim() == 4 && x.size(1) == in_, "Conv2d: input has the wrong shape: x is ",
                to_string(x.shape()), ", the layer expects [N, ", in_,
                ", H, W]. Check the channel count");
    Var y = conv2d(x, weight(), bias(), options());
    if (CurvatureTape* tape = CurvatureTape::active()) {
        LayerRecord r{LayerRecord::Kind::conv2d, this, x.value(), y};
        r.size = out_ * in_ * k_ * k_ + (config_.bias ? out_ : 0);
        r.has_bias = config_.bias;
        r.kernel_h = r.kernel_w = k_;
        r.options = options();
        return tape->record(std::move(r), weight());
    }
    return y;
}

}  // namespace postr::nn
