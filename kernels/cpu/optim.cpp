// Optimizer steps on the CPU: one parallel pass over the flat, contiguous vectors, each element
// updated by the formula shared with CUDA (kernels/optim.h).
#include "postr/kernels/optim.h"

#include <cstdint>

#include "postr/core/dtype.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/iterate.h"
#include "postr/kernels/ops.h"

namespace postr::cpu {

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
              const SgdOptions& options, bool first_step) {
    visit_floating(param.dtype(), [&]<class T>() {
        const auto update = postr::detail::optim::make_sgd_update<T>(
            options.lr, options.momentum, options.dampening, options.weight_decay, options.nesterov,
            first_step);
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* buf = update.use_momentum ? momentum_buffer.data<T>() : nullptr;
        parallel_for(param.numel(), kElementwiseGrain, [&](std::int64_t begin, std::int64_t end) {
            if (buf != nullptr) {
                for (std::int64_t i = begin; i < end; ++i) update(p[i], g[i], buf[i]);
            } else {
                T unused{};  // the formula leaves buf alone without momentum
                for (std::int64_t i = begin; i < end; ++i) update(p[i], g[i], unused);
            }
        });
    });
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, std::int64_t step, const AdamOptions& options) {
    visit_floating(param.dtype(), [&]<class T>() {
        const auto update = postr::detail::optim::make_adam_update<T>(
            options.lr, options.beta1, options.beta2, options.eps, options.weight_decay,
            options.decoupled_weight_decay, step);
        T* p = param.data<T>();
        const T* g = grad.data<T>();
        T* m = exp_avg.data<T>();
        T* v = exp_avg_sq.data<T>();
        parallel_for(param.numel(), kElementwiseGrain, [&](std::int64_t begin, std::int64_t end) {
            // Runs scalar: GCC's -O2 vectorizer rejects std::sqrt's errno branch (lifted by
            // -fno-math-errno), so on few cores this loop is bound by sqrt and division.
            for (std::int64_t i = begin; i < end; ++i) update(p[i], g[i], m[i], v[i]);
        });
    });
}

}  // namespace postr::cpu
