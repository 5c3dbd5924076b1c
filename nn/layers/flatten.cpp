#include "postr/nn/layers/flatten.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

Var Flatten::forward(const Var& x) {
    POSTR_CHECK(x.dim() >= 1, "Flatten: x must have a batch dim: got shape ", to_string(x.shape()),
                ". Pass [N, ...]");
    const std::int64_t n = x.size(0);
    return reshape(x, {n, n == 0 ? 0 : x.numel() / n});
}

}  // namespace postr::nn
