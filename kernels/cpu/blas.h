// BLAS and LAPACK through their Fortran symbols (sgemm_, dpotrf_, ...), declared here rather
// than taken from cblas.h/lapacke.h, which some machines lack: any BLAS/LAPACK CMake finds works.
// Fortran passes everything by reference and, for gfortran-built libraries, appends the length
// of each character argument; we pass those lengths (1) explicitly. Integers are 32-bit (LP64).
// Only kernels/cpu/*.cpp may include this file.
#pragma once

#include <cstddef>

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc, std::size_t, std::size_t);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc, std::size_t, std::size_t);
// OpenBLAS only; null when the BLAS found is another one.
void openblas_set_num_threads(int) __attribute__((weak));
}

namespace postr::cpu::blas {

// Ties the BLAS thread count to postr's (set_num_threads); every wrapper below calls it.
void bind_threads();

// Column-major GEMM: C(m×n) ← α·op(A)·op(B) + β·C, op given by 'N' or 'T'.
// Row-major callers compute Cᵀ = op(B)ᵀ·op(A)ᵀ by swapping operands.
inline void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
    bind_threads();
    sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}
inline void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
    bind_threads();
    dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}

// Row-major GEMM: C[m×n] ← α·op(A)·op(B) + β·C with row-major leading dims.
template <class T>
void gemm_row_major(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda,
                    const T* b, int ldb, T beta, T* c, int ldc) {
    gemm(trans_b ? 'T' : 'N', trans_a ? 'T' : 'N', n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
}

}  // namespace postr::cpu::blas
