// Device entry points of the matmul family (GEMM over broadcast batches), and the one rule both
// devices use to hand a strided matrix to BLAS or cuBLAS without copying it.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>

#include "postr/core/tensor.h"

namespace postr {

namespace detail {

// How a strided [R, C] matrix (the last two dims of a tensor) reaches a column-major BLAS:
// strides (ld, 1) are row-major, i.e. the column-major transpose with leading dim ld;
// strides (1, ld) are already column-major. Anything else (both strides above 1, overlapping
// rows, stride 0 from expand) cannot be described by one leading dim and must be copied.
struct BlasLayout {
    bool ok = false;
    bool column_major = false;  // false: the buffer holds the matrix row-major
    std::int64_t ld = 1;
};

inline BlasLayout blas_layout(const Tensor& t) {
    const std::int64_t rows = t.size(-2), cols = t.size(-1);
    const std::int64_t sr = t.stride(-2), sc = t.stride(-1);
    // A size-1 dim's stride is never used, so it may take whatever value fits.
    if ((cols == 1 || sc == 1) && (rows == 1 || sr >= std::max<std::int64_t>(cols, 1))) {
        const std::int64_t ld = rows == 1 ? std::max<std::int64_t>(cols, 1) : sr;
        if (ld <= INT_MAX) return {true, false, ld};
    }
    if ((rows == 1 || sr == 1) && (cols == 1 || sc >= std::max<std::int64_t>(rows, 1))) {
        const std::int64_t ld = cols == 1 ? std::max<std::int64_t>(rows, 1) : sc;
        if (ld <= INT_MAX) return {true, true, ld};
    }
    return {};
}

}  // namespace detail

// c ← α·a·b + β·c for every batch: a: [..., M, K], b: [..., K, N], c: [..., M, N], all of one
// rank, with a's and b's batch dims already expanded to c's (stride 0 where broadcast).
// c's matrices must not overlap each other or a and b. β = 0 ignores c's old values (NaN too).
namespace cpu {
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta);
}  // namespace cpu
namespace cuda {
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta);
}  // namespace cuda

}  // namespace postr
