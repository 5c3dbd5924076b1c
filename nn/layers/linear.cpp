#include "postr/nn/layers/linear.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias)
    : in_(in_features), out_(out_features), has_bias_(bias) {
    POSTR_CHECK(in_ > 0 && out_ > 0, "Linear: sizes must be positive: got in_features ", in_,
                ", out_features ", out_, ". Check the layer sizes");
    weight_ = register_parameter("weight", {out_, in_}, fan_in_uniform_init(in_));
    if (has_bias_) bias_ = register_parameter("bias", {out_}, fan_in_uniform_init(in_));
}

Var Linear::forward(const Var& x) {
    POSTR_CHECK(x.dim() >= 1 && x.size(-1) == in_, "Linear: input has the wrong last dim: x is ",
                to_string(x.shape()), ", weight is ", to_string({out_, in_}),
                ". Pass [..., in_features]");
    Var y = matmul(x, transpose(weight(), 0, 1));
    return has_bias_ ? add(y, param(bias_)) : y;
}

}  // namespace postr::nn
