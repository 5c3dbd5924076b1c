// Device entry points of the linear-algebra family (Cholesky and what is built on it), declared
// once for the CPU (LAPACK/BLAS) and once for CUDA (cuSOLVER/cuBLAS) with identical signatures.
// Inputs are validated by the public ops (kernels/ops.h); outputs are preallocated.
#pragma once

#include <cstdint>

#include "postr/core/error.h"
#include "postr/core/tensor.h"

namespace postr {

namespace detail {

// The error both devices raise when potrf reports info = minor > 0 for batch `batch`.
[[noreturn]] inline void throw_not_positive_definite(std::int64_t minor, std::int64_t n,
                                                     std::int64_t batch) {
    throw NotPositiveDefinite(
        concat("cholesky: matrix is not positive definite: leading minor of order ", minor,
               " is not positive (matrix [", n, ", ", n, "], batch index ", batch,
               "). Add jitter to the diagonal or check the input"),
        minor);
}

// The error both devices raise when potri reports a zero diagonal element `index` (1-based).
[[noreturn]] inline void throw_singular_factor(std::int64_t index, std::int64_t n,
                                               std::int64_t batch) {
    fail("cholesky_inverse: l is singular: diagonal element ", index, " is zero (matrix [", n, ", ",
         n, "], batch index ", batch, "). Pass the factor returned by cholesky");
}

// The error both devices raise when syevd reports info > 0 (no convergence) for batch `batch`.
[[noreturn]] inline void throw_eigh_not_converged(std::int64_t info, std::int64_t n,
                                                  std::int64_t batch) {
    fail("eigh: the eigensolver did not converge: ", info,
         " off-diagonal elements did not reach zero (matrix [", n, ", ", n, "], batch index ",
         batch, "). Check the input for NaN or infinite values, or rescale it");
}

}  // namespace detail

// Shapes below: a batch of matrices over leading dims. Unless said otherwise an input's batch
// dims are already expanded to the output's (stride 0 where broadcast), outputs are contiguous,
// and inputs may have any strides.
namespace cpu {
// l ← lower Cholesky factor of a (only a's lower triangle is read), upper triangle zeroed.
// a, l: [..., n, n]. Throws NotPositiveDefinite naming the failing minor and batch index.
void cholesky(const Tensor& a, const Tensor& l);
// x ← op(A)⁻¹·x in place for triangular a: [..., n, n]; x: [..., n, k] holds B on entry.
void triangular_solve(const Tensor& a, const Tensor& x, bool lower, bool transpose,
                      bool unit_diagonal);
// x ← (L·Lᵀ)⁻¹·x in place; x: [..., n, k] holds B on entry; l: [..., n, n] lower.
void cholesky_solve(const Tensor& x, const Tensor& l);
// Lower triangle of c ← α·aᵀ·a + β·c; a: [M, n], c: [n, n], both with any strides.
void syrk(const Tensor& c, const Tensor& a, double alpha, double beta);
// Upper triangle of c ← transpose of its lower triangle; c: [..., n, n] with any strides.
void symmetrize_lower(const Tensor& c);
// out ← 2 Σ log l_ii; l: [..., n, n], out: [...].
void cholesky_logdet(const Tensor& l, const Tensor& out);
// out ← (l·lᵀ)⁻¹, full and symmetric; l, out: [..., n, n]. Throws on a zero diagonal.
void cholesky_inverse(const Tensor& l, const Tensor& out);
// w ← eigenvalues (ascending), v ← eigenvectors (columns) of the symmetric a (lower triangle
// read); a: [..., n, n] any strides, w: [..., n], v: [..., n, n] contiguous. Throws on no
// convergence.
void eigh(const Tensor& a, const Tensor& w, const Tensor& v);
}  // namespace cpu

namespace cuda {
void cholesky(const Tensor& a, const Tensor& l);
void triangular_solve(const Tensor& a, const Tensor& x, bool lower, bool transpose,
                      bool unit_diagonal);
void cholesky_solve(const Tensor& x, const Tensor& l);
void syrk(const Tensor& c, const Tensor& a, double alpha, double beta);
void symmetrize_lower(const Tensor& c);
void cholesky_logdet(const Tensor& l, const Tensor& out);
void cholesky_inverse(const Tensor& l, const Tensor& out);
void eigh(const Tensor& a, const Tensor& w, const Tensor& v);
}  // namespace cuda

}  // namespace postr
