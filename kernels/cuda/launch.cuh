// Launch helpers every CUDA kernel uses: grid sizing, the early return on zero elements, the
// post-launch check, and the stream of the tensor's device. Plus the device-side counterpart of
// cpu/iterate.h: a grid-stride elementwise map over broadcast, strided operands.
#pragma once

#include <cstdint>
#include <tuple>
#include <utility>

#include "postr/core/cuda/check.h"
#include "postr/core/strided_loop.h"
#include "postr/core/tensor.h"

namespace postr::cuda {

inline constexpr int kBlockSize = 256;

// Blocks for a grid-stride loop over n elements (capped: each thread then does several).
inline int grid_for(std::int64_t n, int block = kBlockSize) {
    std::int64_t blocks = (n + block - 1) / block;
    constexpr std::int64_t kMaxBlocks = 132 * 64;  // enough to fill an H100 many times over
    return static_cast<int>(blocks < kMaxBlocks ? (blocks > 0 ? blocks : 1) : kMaxBlocks);
}

inline cudaStream_t stream_for(const Tensor& t) {
    return postr::detail::stream_of(t.device().index);
}

#define POSTR_GRID_STRIDE_LOOP(i, n)                                                        \
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; \
         i < (n); i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

namespace detail {
template <int N, class TOut, class Fn, class... TIn>
__global__ void map_kernel(StridedPlan<N> plan, TOut* out, Fn fn, const TIn*... in) {
    POSTR_GRID_STRIDE_LOOP(i, plan.numel) {
        std::int64_t off[N];
        plan.offsets(i, off);
        [&]<std::size_t... I>(std::index_sequence<I...>) { out[off[0]] = fn(in[off[I + 1]]...); }
        (std::index_sequence_for<TIn...>{});
    }
}

template <class TOut, class Fn, class... TIn>
__global__ void map_contiguous_kernel(std::int64_t n, TOut* out, Fn fn, const TIn*... in) {
    POSTR_GRID_STRIDE_LOOP(i, n) { out[i] = fn(in[i]...); }
}
}  // namespace detail

// Device twin of cpu::map_elements: out[i] = fn(inputs[i]...), inputs broadcast to out's shape.
// fn must be a __device__ (or __host__ __device__) functor or extended lambda.
template <class TOut, class... TIn, class Fn, class... Ts>
void map_elements(const Tensor& out, Fn fn, const Ts&... inputs) {
    static_assert(sizeof...(TIn) == sizeof...(Ts), "one element type per input");
    constexpr int N = 1 + static_cast<int>(sizeof...(Ts));
    if (out.numel() == 0) return;
    const Tensor expanded[] = {out, inputs.expand(out.shape())...};
    cudaStream_t stream = stream_for(out);
    bool contiguous = true;
    for (const Tensor& t : expanded) contiguous = contiguous && t.is_contiguous();
    auto call = [&]<std::size_t... I>(std::index_sequence<I...>) {
        if (contiguous) {
            detail::map_contiguous_kernel<TOut, Fn, TIn...>
                <<<grid_for(out.numel()), kBlockSize, 0, stream>>>(
                    out.numel(), static_cast<TOut*>(out.data_ptr()), fn,
                    static_cast<const TIn*>(expanded[I + 1].data_ptr())...);
        } else {
            const Shape* strides[N];
            for (int k = 0; k < N; ++k) strides[k] = &expanded[k].strides();
            detail::map_kernel<N, TOut, Fn, TIn...>
                <<<grid_for(out.numel()), kBlockSize, 0, stream>>>(
                    make_plan<N>(out.shape(), strides), static_cast<TOut*>(out.data_ptr()), fn,
                    static_cast<const TIn*>(expanded[I + 1].data_ptr())...);
        }
    };
    call(std::index_sequence_for<TIn...>{});
    POSTR_CHECK_LAUNCH("map_kernel");
}

}  // namespace postr::cuda
