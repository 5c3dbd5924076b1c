// Device entry points of the reduction family, declared once for the CPU and once for CUDA with
// identical signatures. They receive validated input: the public ops (kernels/ops_reduction.cpp)
// permute the reduced dims innermost and view the input as rows, x: [R, L] with any strides.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"

namespace postr {

// What each row of L elements reduces to.
enum class ReduceOp : std::uint8_t {
    sum,   // Σ x (f32, f64, i64)
    mean,  // Σ x / L (NaN for L = 0)
    var,   // Σ (x − mean)² / (L − correction), two passes (NaN when L − correction ≤ 0)
    logsumexp,  // m + log Σ e^(x − m), m the row maximum (−inf for L = 0)
    norm1,      // Σ |x|
    norm2,      // a·sqrt(Σ (x/a)²), a = max |x|: no overflow for large |x|
    norm_inf,   // max |x| (0 for L = 0)
};

namespace cpu {
// x: [R, L] → out: [R] (contiguous, x's dtype). `correction` is used by var only.
void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t correction);
// x: [R, L] with L ≥ 1 → values: [R] (x's dtype) and indices: [R] (i64; may be undefined when
// only values are wanted), the first maximum (largest) or minimum; NaN counts as the extremum.
void extremum(bool largest, const Tensor& x, const Tensor& values, const Tensor& indices);
// True when no element of x (any shape and layout) is NaN or ±inf.
bool all_finite(const Tensor& x);
}  // namespace cpu

namespace cuda {
void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t correction);
void extremum(bool largest, const Tensor& x, const Tensor& values, const Tensor& indices);
bool all_finite(const Tensor& x);
}  // namespace cuda

}  // namespace postr
