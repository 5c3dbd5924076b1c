// Device entry points of the indexing family (index_select, gather, scatter_add, masked_fill),
// declared once for the CPU and once for CUDA with identical signatures. They receive validated
// arguments (ranks, shapes, dtypes, devices, and indices in range) and a preallocated output.
// cat needs no kernel: kernels/ops_indexing.cpp copies each input into a view of the output.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"

namespace postr {

// Smallest and largest value of an i64 tensor (an empty tensor gives min 0, max -1).
struct IndexBounds {
    std::int64_t min = 0;
    std::int64_t max = -1;
};

namespace cpu {
// The extremes of `index`, so the public op can name an out-of-range value before any kernel
// dereferences it.
IndexBounds index_bounds(const Tensor& index);
// out[p] = x[p with coordinate `dim` replaced by index[p]] for every position p of out;
// index has out's shape (index_select passes an expanded view), x: same rank, x.size(d) >=
// out.size(d) for d != dim. Any dtype; out contiguous, of x's dtype.
void gather(const Tensor& x, int dim, const Tensor& index, const Tensor& out);
// x[p with coordinate `dim` replaced by index[p]] += src[p] for every position p of index,
// duplicates accumulated in index order (deterministic). x any layout without broadcast dims.
void scatter_add_(const Tensor& x, int dim, const Tensor& index, const Tensor& src);
// out = mask != 0 ? value : x; mask (any dtype) broadcast to x's shape = out's shape.
void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out);
}  // namespace cpu

namespace cuda {
// As the CPU versions. index_bounds reads its two numbers back (a stream synchronization), so
// an out-of-range index is reported as an Error and never becomes an illegal memory access.
// scatter_add_ uses atomicAdd: f32/f64 sums with duplicate indices may differ from the CPU in
// the last bits (addition order); i64 is exact.
IndexBounds index_bounds(const Tensor& index);
void gather(const Tensor& x, int dim, const Tensor& index, const Tensor& out);
void scatter_add_(const Tensor& x, int dim, const Tensor& index, const Tensor& src);
void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out);
}  // namespace cuda

}  // namespace postr
