// Creation and random kernels on CUDA: the device twin of cpu/random.cpp, out[i] = f(i) over
// the flat index of a fresh contiguous tensor with the same per-element formulas
// (kernels/random.h), so a seed gives the same numbers as on the CPU.
#include "postr/core/dtype.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/random.h"

namespace postr::cuda {
namespace {

using namespace postr::detail::fill;

template <class T, class Fn>
__global__ void fill_indexed_kernel(std::int64_t n, T* out, Fn fn) {
    POSTR_GRID_STRIDE_LOOP(i, n) { out[i] = fn(i); }
}

template <class T, class Fn>
void fill_indexed(const Tensor& out, Fn fn) {
    const std::int64_t n = out.numel();
    if (n == 0) return;
    fill_indexed_kernel<T, Fn>
        <<<grid_for(n), kBlockSize, 0, stream_for(out)>>>(n, static_cast<T*>(out.data_ptr()), fn);
    POSTR_CHECK_LAUNCH("fill_indexed_kernel");
}

}  // namespace

void arange(const Tensor& out, double start, double step) {
    visit_dtype(out.dtype(), [&]<class T>() { fill_indexed<T>(out, Arange<T>{start, step}); });
}

void eye(const Tensor& out) {
    visit_dtype(out.dtype(), [&]<class T>() { fill_indexed<T>(out, Eye<T>{out.size(0)}); });
}

void uniform(const Tensor& out, std::uint64_t seed, std::uint64_t first, double low, double high) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Uniform<T>{seed, first, static_cast<T>(low), static_cast<T>(high)});
    });
}

void normal(const Tensor& out, std::uint64_t seed, std::uint64_t first, double mean,
            double stddev) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Normal<T>{seed, first, static_cast<T>(mean), static_cast<T>(stddev)});
    });
}

void bernoulli(const Tensor& p, const Tensor& out, std::uint64_t seed, std::uint64_t first) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Bernoulli<T>{static_cast<const T*>(p.data_ptr()), seed, first});
    });
}

void randint(const Tensor& out, std::uint64_t seed, std::uint64_t first, std::int64_t low,
             std::int64_t high) {
    fill_indexed<std::int64_t>(out, Randint{seed, first, low, randint_range(low, high)});
}

}  // namespace postr::cuda
