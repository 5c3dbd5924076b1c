#include "postr/nn/layers/batch_norm2d.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

BatchNorm2d::BatchNorm2d(std::int64_t num_features, double eps, double momentum)
    : c_(num_features), eps_(eps), momentum_(momentum) {
    POSTR_CHECK(c_ > 0 && eps >= 0 && momentum >= 0 && momentum <= 1,
                "BatchNorm2d: bad configuration: num_features ", c_, ", eps ", eps, ", momentum ",
                momentum, ". Use num_features > 0, eps >= 0 and momentum in [0, 1]");
    weight_ = register_parameter("weight", {c_}, constant_init(1.0));
    bias_ = register_parameter("bias", {c_}, constant_init(0.0));
    mean_ = register_buffer("running_mean", Tensor::zeros({c_}));
    var_ = register_buffer("running_var", Tensor::ones({c_}));
    count_ = register_buffer("num_batches_tracked", Tensor::scalar(0, DType::i64));
}

Var BatchNorm2d::forward(const Var& x) {
    POSTR_CHECK(x.dim() == 4 && x.size(1) == c_, "BatchNorm2d: input has the wrong shape: x is ",
                to_string(x.shape()), ", the layer expects [N, ", c_,
                ", H, W]. Check the channel count");
    if (is_training()) {
        Tensor& count = buffer(count_);
        count.fill_(count.item() + 1);
    }
    return batch_norm(x, weight(), bias(), buffer(mean_), buffer(var_), is_training(), momentum_,
                      eps_);
}

}  // namespace postr::nn
