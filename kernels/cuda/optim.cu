// Optimizer steps on CUDA: one grid-stride kernel per step over the flat, contiguous vectors,
// each element updated by the formula shared with the CPU (kernels/optim.h).
#include <cstdint>

#include "postr/core/dtype.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/ops.h"
#include "postr/kernels/optim.h"

namespace postr::cuda {
namespace {

// buf is null when the update has no momentum.
template <class T>
__global__ void sgd_step_kernel(std::int64_t n, T* p, const T* g, T* buf,
                                postr::detail::optim::SgdUpdate<T> update) {
    POSTR_GRID_STRIDE_LOOP(i, n) {
        T unused{};
        update(p[i], g[i], buf != nullptr ? buf[i] : unused);
    }
}

template <class T>
__global__ void adam_step_kernel(std::int64_t n, T* p, const T* g, T* m, T* v,
                                 postr::detail::optim::AdamUpdate<T> update) {
    POSTR_GRID_STRIDE_LOOP(i, n) { update(p[i], g[i], m[i], v[i]); }
}

template <class T>
T* ptr(const Tensor& t) {
    return static_cast<T*>(t.data_ptr());
}

}  // namespace

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
              const SgdOptions& options, bool first_step) {
    const std::int64_t n = param.numel();
    if (n == 0) return;
    visit_floating(param.dtype(), [&]<class T>() {
        const auto update = postr::detail::optim::make_sgd_update<T>(
            options.lr, options.momentum, options.dampening, options.weight_decay, options.nesterov,
            first_step);
        sgd_step_kernel<T><<<grid_for(n), kBlockSize, 0, stream_for(param)>>>(
            n, ptr<T>(param), ptr<T>(grad), update.use_momentum ? ptr<T>(momentum_buffer) : nullptr,
            update);
    });
    POSTR_CHECK_LAUNCH("sgd_step_kernel");
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, std::int64_t step, const AdamOptions& options) {
    const std::int64_t n = param.numel();
    if (n == 0) return;
    visit_floating(param.dtype(), [&]<class T>() {
        const auto update = postr::detail::optim::make_adam_update<T>(
            options.lr, options.beta1, options.beta2, options.eps, options.weight_decay,
            options.decoupled_weight_decay, step);
        adam_step_kernel<T><<<grid_for(n), kBlockSize, 0, stream_for(param)>>>(
            n, ptr<T>(param), ptr<T>(grad), ptr<T>(exp_avg), ptr<T>(exp_avg_sq), update);
    });
    POSTR_CHECK_LAUNCH("adam_step_kernel");
}

}  // namespace postr::cuda
