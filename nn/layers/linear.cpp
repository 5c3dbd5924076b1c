#include "postr/nn/layers/linear.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/nn/curvature/tape.h"

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
    if (has_bias_) y = add(y, param(bias_));
    if (CurvatureTape* tape = CurvatureTape::active()) {
        POSTR_CHECK(x.dim() == 2, "Linear: the curvature road takes inputs [N, in_features]: x is ",
                    to_string(x.shape()), ". Flatten the extra dims into N");
        LayerRecord r{LayerRecord::Kind::linear, this, x.value(), y};
        r.size = out_ * in_ + (has_bias_ ? out_ : 0);
        r.has_bias = has_bias_;
        return tape->record(std::move(r), weight());
    }
    return y;
}

}  // namespace postr::nn
