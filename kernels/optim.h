// Device entry points of the optimizer-step family (sgd_step_, adam_step_), declared once for the
// CPU and once for CUDA with identical signatures, and the per-element update formulas both
// devices run, so the two agree by construction. Entry points take validated, contiguous tensors
// of one shape, dtype (f32/f64) and device, and update them in place in one pass.
#pragma once

#include <cmath>
#include <cstdint>

#include "postr/core/host_device.h"
#include "postr/core/tensor.h"

namespace postr {

struct SgdOptions;
struct AdamOptions;

namespace detail {
// Option checks shared by the public ops and the nn/optim classes; `op` names the caller in the
// message. Throw postr::Error on a negative lr, momentum or weight decay, betas outside [0, 1),
// a negative eps, or Nesterov without momentum / with dampening.
void check_sgd_options(const char* op, const SgdOptions& options);
void check_adam_options(const char* op, const AdamOptions& options);
}  // namespace detail

}  // namespace postr

namespace postr::cpu {

// param, grad: [D]; momentum_buffer: [D], or undefined when options.momentum == 0.
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
              const SgdOptions& options, bool first_step);
// param, grad, exp_avg, exp_avg_sq: [D]; step ≥ 1 is the step count after this update.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, std::int64_t step, const AdamOptions& options);

}  // namespace postr::cpu

namespace postr::cuda {

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
              const SgdOptions& options, bool first_step);
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, std::int64_t step, const AdamOptions& options);

}  // namespace postr::cuda

// ---- The per-element formulas, shared by cpu/optim.cpp and cuda/optim.cu ----
// Coefficients are rounded to T once on the host; the arithmetic then runs in T, as PyTorch's
// torch.optim does for a parameter of that dtype.
namespace postr::detail::optim {

// torch.optim.SGD for one element:
//   g ← grad + wd·p;  buf ← first ? g : momentum·buf + (1 − dampening)·g  (when momentum ≠ 0);
//   g ← nesterov ? g + momentum·buf : buf;  p ← p − lr·g.
template <class T>
struct SgdUpdate {
    T lr;
    T momentum;
    T one_minus_dampening;
    T weight_decay;
    bool use_momentum;
    bool nesterov;
    bool first_step;

    // Updates p, and buf when use_momentum (buf is not touched otherwise).
    POSTR_HD void operator()(T& p, T grad, T& buf) const {
        T g = grad + weight_decay * p;
        if (use_momentum) {
            buf = first_step ? g : momentum * buf + one_minus_dampening * g;
            g = nesterov ? g + momentum * buf : buf;
        }
        p = p - lr * g;
    }
};

// torch.optim.Adam / AdamW for one element:
//   AdamW: p ← p·(1 − lr·wd);  Adam: g ← grad + wd·p;
//   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
//   p ← p − (lr / (1 − β1^t))·m / (√v / √(1 − β2^t) + eps),
// which is p − lr·m̂/(√v̂ + eps) arranged as PyTorch arranges it.
template <class T>
struct AdamUpdate {
    T decay_factor;   // 1 − lr·wd for AdamW, 1 otherwise
    T coupled_decay;  // wd for Adam, 0 for AdamW
    T beta1;
    T one_minus_beta1;
    T beta2;
    T one_minus_beta2;
    T step_size;              // lr / (1 − β1^t)
    T bias_correction2_sqrt;  // √(1 − β2^t)
    T eps;

    POSTR_HD void operator()(T& p, T grad, T& m, T& v) const {
        p = p * decay_factor;
        const T g = grad + coupled_decay * p;
        m = beta1 * m + one_minus_beta1 * g;
        v = beta2 * v + one_minus_beta2 * g * g;
        const T denom = std::sqrt(v) / bias_correction2_sqrt + eps;
        p = p - step_size * m / denom;
    }
};

template <class T>
SgdUpdate<T> make_sgd_update(double lr, double momentum, double dampening, double weight_decay,
                             bool nesterov, bool first_step) {
    return SgdUpdate<T>{static_cast<T>(lr),
                        static_cast<T>(momentum),
                        static_cast<T>(1.0 - dampening),
                        static_cast<T>(weight_decay),
                        momentum != 0.0,
                        nesterov,
                        first_step};
}

template <class T>
AdamUpdate<T> make_adam_update(double lr, double beta1, double beta2, double eps,
                               double weight_decay, bool decoupled, std::int64_t step) {
    const double t = static_cast<double>(step);
    return AdamUpdate<T>{static_cast<T>(decoupled ? 1.0 - lr * weight_decay : 1.0),
                         static_cast<T>(decoupled ? 0.0 : weight_decay),
                         static_cast<T>(beta1),
                         static_cast<T>(1.0 - beta1),
                         static_cast<T>(beta2),
                         static_cast<T>(1.0 - beta2),
                         static_cast<T>(lr / (1.0 - std::pow(beta1, t))),
                         static_cast<T>(std::sqrt(1.0 - std::pow(beta2, t))),
                         static_cast<T>(eps)};
}

}  // namespace postr::detail::optim
