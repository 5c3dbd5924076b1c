// Softmax and one-hot on CUDA. x: [pre, L, post]. With post = 1 each row is contiguous along L
// and one group of threads (a warp for L ≤ 1024, else a block of 256) does the three passes
// (maximum, Σ e^(x − max) by a shuffle tree, output). With post > 1 each thread takes one row
// (p, q): neighbouring threads read neighbouring q, so loads coalesce; its sum is the CPU's
// cascade.
#include <cmath>
#include <cstdint>

#include "postr/core/cuda/check.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/reduce_math.h"
#include "postr/kernels/softmax.h"

namespace postr::cuda {
namespace {

struct Geometry {
    std::int64_t pre, len, post;
    std::int64_t xs[3], os[3];  // element strides of x and out
};

template <class T>
__device__ inline void write_row(const T* x, std::int64_t xs, T* out, std::int64_t os,
                                 std::int64_t begin, std::int64_t end, std::int64_t step, T shift,
                                 T s, bool log) {
    // As on the CPU: (x − shift) − log s, and e^(x − shift)/s.
    const T log_s = std::log(s), inv = T(1) / s;
    for (std::int64_t i = begin; i < end; i += step)
        out[i * os] = log ? (x[i * xs] - shift) - log_s : std::exp(x[i * xs] - shift) * inv;
}

template <class T>
__global__ void softmax_thread_kernel(const T* x, T* out, Geometry g, bool log) {
    POSTR_GRID_STRIDE_LOOP(row, g.pre * g.post) {
        const std::int64_t p = row / g.post, q = row % g.post;
        const T* xr = x + p * g.xs[0] + q * g.xs[2];
        T* orow = out + p * g.os[0] + q * g.os[2];
        T m = xr[0];
        for (std::int64_t i = 1; i < g.len; ++i)
            if (math::max_takes(xr[i * g.xs[1]], m)) m = xr[i * g.xs[1]];
        const T shift = math::exp_shift(m);
        const T s = math::cascade_sum(xr, g.xs[1], g.len,
                                      [&](T v) { return math::MapExpShift{}(v, shift); });
        write_row(xr, g.xs[1], orow, g.os[1], 0, g.len, 1, shift, s, log);
    }
}

// All threads of the group of blockDim.x get the combination of their values.
template <class T, class Op>
__device__ T group_all_reduce(T v, Op op, T* shared) {
    const int width = blockDim.x < 32 ? blockDim.x : 32;
    for (int off = width / 2; off > 0; off /= 2)
        v = op(v, __shfl_xor_sync(0xffffffffu, v, off, width));
    if (blockDim.x <= 32) return v;
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    __syncthreads();
    if (threadIdx.x % 32 == 0) shared[warp] = v;
    __syncthreads();
    v = shared[0];
    for (int w = 1; w < warps; ++w) v = op(v, shared[w]);
    return v;
}

// Block (TX, TY): TY rows per block, TX threads per row; post = 1.
template <class T>
__global__ void softmax_group_kernel(const T* x, T* out, Geometry g, bool log) {
    __shared__ T shared[8];
    const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(blockDim.y) + threadIdx.y;
    const bool active = row < g.pre;
    const T* xr = x + (active ? row : 0) * g.xs[0];
    T* orow = out + (active ? row : 0) * g.os[0];
    const std::int64_t n = active ? g.len : 0;
    T m = -INFINITY;
    bool seen = false;
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        T v = xr[i * g.xs[1]];
        if (!seen || math::max_takes(v, m)) m = v;
        seen = true;
    }
    m = group_all_reduce(
        m, [](T a, T b) { return math::max_takes(b, a) ? b : a; }, shared);
    const T shift = math::exp_shift(m);
    T s = 0;
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x)
        s += std::exp(xr[i * g.xs[1]] - shift);
    s = group_all_reduce(
        s, [](T a, T b) { return a + b; }, shared);
    if (active) write_row(xr, g.xs[1], orow, g.os[1], threadIdx.x, n, blockDim.x, shift, s, log);
}

template <class T>
__global__ void one_hot_kernel(const std::int64_t* labels, T* out, std::int64_t n,
                               std::int64_t classes) {
    POSTR_GRID_STRIDE_LOOP(i, n * classes) {
        out[i] = labels[i / classes] == i % classes ? T(1) : T(0);
    }
}

}  // namespace

void softmax(const Tensor& x, const Tensor& out, bool log) {
    Geometry g{x.size(0),
               x.size(1),
               x.size(2),
               {x.stride(0), x.stride(1), x.stride(2)},
               {out.stride(0), out.stride(1), out.stride(2)}};
    if (x.numel() == 0) return;
    cudaStream_t stream = stream_for(x);
    visit_floating(x.dtype(), [&]<class T>() {
        const T* xp = static_cast<const T*>(x.data_ptr());
        T* op = static_cast<T*>(out.data_ptr());
        if (g.post > 1) {
            softmax_thread_kernel<T>
                <<<grid_for(g.pre * g.post), kBlockSize, 0, stream>>>(xp, op, g, log);
            POSTR_CHECK_LAUNCH("softmax_thread_kernel");
        } else {
            const int tx = g.len <= 1024 ? 32 : kBlockSize, ty = kBlockSize / tx;
            softmax_group_kernel<T>
                <<<static_cast<unsigned>((g.pre + ty - 1) / ty), dim3(tx, ty), 0, stream>>>(xp, op,
                                                                                            g, log);
            POSTR_CHECK_LAUNCH("softmax_group_kernel");
        }
    });
}

void one_hot(const Tensor& labels, const Tensor& out) {
    const std::int64_t n = out.size(0), classes = out.size(1);
    cudaStream_t stream = stream_for(out);
    visit_dtype(out.dtype(), [&]<class T>() {
        one_hot_kernel<T><<<grid_for(n * classes), kBlockSize, 0, stream>>>(
            static_cast<const std::int64_t*>(labels.data_ptr()), static_cast<T*>(out.data_ptr()), n,
            classes);
        POSTR_CHECK_LAUNCH("one_hot_kernel");
    });
}

}  // namespace postr::cuda
