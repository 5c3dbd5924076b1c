#include "postr/nn/layers/dropout.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/nn/curvature/tape.h"

namespace postr::nn {

Dropout::Dropout(double p, std::uint64_t seed) : p_(p), gen_(seed) {
    POSTR_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1]: got ", p, ". Use e.g. 0.1");
}

Var Dropout::forward(const Var& x) {
    if (!is_active() || p_ == 0) return x;
    POSTR_CHECK(CurvatureTape::active() == nullptr,
                "Dropout: active during a curvature computation (MC-dropout on, or training "
                "mode). Curvature needs a deterministic model: call eval() and set_active(false)");
    if (p_ == 1) return mul(x, 0.0);
    const Tensor keep = Tensor::full(x.shape(), 1.0 - p_, x.dtype(), x.device());
    // mask ∈ {0, 1/(1 − p)}: the kept activations keep their expectation.
    const Tensor mask = postr::mul(bernoulli(keep, gen_), 1.0 / (1.0 - p_));
    return mul(x, Var(mask));
}

}  // namespace postr::nn
