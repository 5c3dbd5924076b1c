// Index arithmetic shared by every elementwise loop, on the CPU and in CUDA kernels: N operands
// of one logical shape, each with its own strides (0 where broadcast). Dims are collapsed first
// (size-1 dims dropped, neighbours merged where every operand is contiguous across them), so a
// contiguous op becomes one flat run.
#pragma once

#include <cstdint>

#include "postr/core/host_device.h"
#include "postr/core/shape.h"

namespace postr {

template <int N>
struct StridedPlan {
    int ndim = 0;                            // collapsed rank; 0 means a single element
    std::int64_t sizes[kMaxDims] = {};       // collapsed sizes, outermost first
    std::int64_t strides[N][kMaxDims] = {};  // element strides per operand
    std::int64_t numel = 1;

    // Element offsets of each operand at row-major position `linear`.
    POSTR_HD void offsets(std::int64_t linear, std::int64_t (&out)[N]) const {
        for (int k = 0; k < N; ++k) out[k] = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            std::int64_t i = linear % sizes[d];
            linear /= sizes[d];
            for (int k = 0; k < N; ++k) out[k] += i * strides[k][d];
        }
    }
    POSTR_HD std::int64_t inner_size() const { return ndim == 0 ? 1 : sizes[ndim - 1]; }
    POSTR_HD std::int64_t inner_stride(int k) const { return ndim == 0 ? 0 : strides[k][ndim - 1]; }
};

// Builds the plan for `shape` with one stride vector per operand (each of rank shape.size()).
template <int N>
StridedPlan<N> make_plan(const Shape& shape, const Shape* const (&strides)[N]) {
    StridedPlan<N> p;
    for (auto s : shape) p.numel *= s;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        bool merge = p.ndim > 0;
        for (int k = 0; k < N && merge; ++k)
            merge = p.strides[k][p.ndim - 1] == (*strides[k])[d] * shape[d];
        if (merge) {
            p.sizes[p.ndim - 1] *= shape[d];
            for (int k = 0; k < N; ++k) p.strides[k][p.ndim - 1] = (*strides[k])[d];
        } else {
            p.sizes[p.ndim] = shape[d];
            for (int k = 0; k < N; ++k) p.strides[k][p.ndim] = (*strides[k])[d];
            ++p.ndim;
        }
    }
    return p;
}

// Host loop over positions [begin, end): calls run(offsets, n, inner_strides) for each stretch
// along the innermost collapsed dim, so the caller's inner loop is a simple strided loop.
template <int N, class Run>
void for_each_run(const StridedPlan<N>& p, std::int64_t begin, std::int64_t end, Run&& run) {
    if (begin >= end) return;
    std::int64_t inner = p.inner_size();
    std::int64_t inner_strides[N];
    for (int k = 0; k < N; ++k) inner_strides[k] = p.inner_stride(k);
    std::int64_t pos = begin;
    while (pos < end) {
        std::int64_t off[N];
        p.offsets(pos, off);
        std::int64_t in_row = pos % inner;
        std::int64_t n = inner - in_row < end - pos ? inner - in_row : end - pos;
        run(off, n, inner_strides);
        pos += n;
    }
}

}  // namespace postr
