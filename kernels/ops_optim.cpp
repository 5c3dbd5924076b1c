// Public optimizer-step ops (kernels/ops.h): argument and option checks, the contiguous fast
// path (any other layout runs on compact copies that are written back), and dispatch to the
// cpu:: or cuda:: entry points of kernels/optim.h.
#include <cmath>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/kernels/dispatch.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/optim.h"

namespace postr {
namespace detail {

void check_sgd_options(const char* op, const SgdOptions& o) {
    POSTR_CHECK(o.lr >= 0 && std::isfinite(o.lr), op, ": lr is negative or not finite: ", o.lr,
                ". Pass a learning rate >= 0");
    POSTR_CHECK(o.momentum >= 0 && std::isfinite(o.momentum), op,
                ": momentum is negative or not finite: ", o.momentum, ". Pass a momentum >= 0");
    POSTR_CHECK(std::isfinite(o.dampening), op, ": dampening is not finite: ", o.dampening,
                ". Pass a finite dampening (usually in [0, 1])");
    POSTR_CHECK(o.weight_decay >= 0 && std::isfinite(o.weight_decay), op,
                ": weight_decay is negative or not finite: ", o.weight_decay,
                ". Pass a weight decay >= 0");
    POSTR_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), op,
                ": nesterov needs momentum > 0 and dampening = 0: momentum ", o.momentum,
                ", dampening ", o.dampening,
                ". Set a momentum and zero dampening, or turn "
                "nesterov off");
}

void check_adam_options(const char* op, const AdamOptions& o) {
    POSTR_CHECK(o.lr >= 0 && std::isfinite(o.lr), op, ": lr is negative or not finite: ", o.lr,
                ". Pass a learning rate >= 0");
    POSTR_CHECK(o.beta1 >= 0 && o.beta1 < 1, op, ": beta1 is outside [0, 1): ", o.beta1,
                ". Pass a decay rate such as 0.9");
    POSTR_CHECK(o.beta2 >= 0 && o.beta2 < 1, op, ": beta2 is outside [0, 1): ", o.beta2,
                ". Pass a decay rate such as 0.999");
    POSTR_CHECK(o.eps >= 0 && std::isfinite(o.eps), op, ": eps is negative or not finite: ", o.eps,
                ". Pass a small eps >= 0 such as 1e-8");
    POSTR_CHECK(o.weight_decay >= 0 && std::isfinite(o.weight_decay), op,
                ": weight_decay is negative or not finite: ", o.weight_decay,
                ". Pass a weight decay >= 0");
}

}  // namespace detail

namespace {

// A tensor updated in place: floating, and no two of its elements share memory (an expanded
// view would be written once per alias).
void check_updated(const char* op, const char* name, const Tensor& t) {
    check_defined(op, name, t);
    check_floating(op, name, t);
    bool overlapping = false;
    for (int d = 0; d < t.dim(); ++d)
        overlapping = overlapping || (t.stride(d) == 0 && t.size(d) > 1);
    POSTR_CHECK(!overlapping, op, ": ", name,
                " has elements that share memory (a broadcast view): shape ", to_string(t.shape()),
                ", strides ", to_string(t.strides()),
                ". Pass a tensor that owns its elements, e.g. ", name, ".clone()");
}

// `t` matches param in shape, dtype and device.
void check_like_param(const char* op, const char* name, const Tensor& t, const Tensor& param) {
    check_defined(op, name, t);
    check_same_device(op, "param", param, name, t);
    check_same_dtype(op, "param", param, name, t);
    check_same_shape(op, "param", param, name, t);
}

// The tensor itself when contiguous (the fast path), else a compact copy.
Tensor dense(const Tensor& t) { return !t.defined() || t.is_contiguous() ? t : t.contiguous(); }

// Copies a compact copy's result back into a non-contiguous original.
void write_back(Tensor& original, const Tensor& compact) {
    if (original.defined() && !original.is_contiguous()) original.copy_(compact);
}

}  // namespace

void sgd_step_(Tensor& param, const Tensor& grad, Tensor& momentum_buffer,
               const SgdOptions& options, bool first_step) {
    constexpr const char* op = "sgd_step_";
    check_updated(op, "param", param);
    check_like_param(op, "grad", grad, param);
    detail::check_sgd_options(op, options);
    const bool use_momentum = options.momentum != 0;
    if (use_momentum) {
        POSTR_CHECK(momentum_buffer.defined(), op,
                    ": momentum_buffer is undefined but momentum is ", options.momentum,
                    ". Pass a tensor of param's shape ", to_string(param.shape()),
                    ", e.g. zeros_like(param)");
        check_updated(op, "momentum_buffer", momentum_buffer);
        check_like_param(op, "momentum_buffer", momentum_buffer, param);
    }
    const Tensor p = dense(param), g = dense(grad);
    const Tensor buf = use_momentum ? dense(momentum_buffer) : Tensor();
    detail::dispatch(
        op, p, [&] { cpu::sgd_step(p, g, buf, options, first_step); },
        [&] { cuda::sgd_step(p, g, buf, options, first_step); });
    write_back(param, p);
    if (use_momentum) write_back(momentum_buffer, buf);
}

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                std::int64_t step, const AdamOptions& options) {
    constexpr const char* op = "adam_step_";
    check_updated(op, "param", param);
    check_like_param(op, "grad", grad, param);
    check_updated(op, "exp_avg", exp_avg);
    check_like_param(op, "exp_avg", exp_avg, param);
    check_updated(op, "exp_avg_sq", exp_avg_sq);
    check_like_param(op, "exp_avg_sq", exp_avg_sq, param);
    detail::check_adam_options(op, options);
    POSTR_CHECK(step >= 1, op, ": step is not positive: ", step,
                ". Pass the 1-based step count after this update (1 on the first step)");
    const Tensor p = dense(param), g = dense(grad), m = dense(exp_avg), v = dense(exp_avg_sq);
    detail::dispatch(
        op, p, [&] { cpu::adam_step(p, g, m, v, step, options); },
        [&] { cuda::adam_step(p, g, m, v, step, options); });
    write_back(param, p);
    write_back(exp_avg, m);
    write_back(exp_avg_sq, v);
}

}  // namespace postr
