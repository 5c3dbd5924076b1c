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
void strsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const float* alpha, const float* a, const int* lda, float* b,
            const int* ldb, std::size_t, std::size_t, std::size_t, std::size_t);
void dtrsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const double* alpha, const double* a, const int* lda, double* b,
            const int* ldb, std::size_t, std::size_t, std::size_t, std::size_t);
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* beta, float* c, const int* ldc,
            std::size_t, std::size_t);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* beta, double* c, const int* ldc,
            std::size_t, std::size_t);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, std::size_t);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info, std::size_t);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t);
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

// Column-major TRSM: solves op(A)·X = α·B (side 'L') or X·op(A) = α·B (side 'R') in place in B.
inline void trsm(char side, char uplo, char ta, char diag, int m, int n, float alpha,
                 const float* a, int lda, float* b, int ldb) {
    bind_threads();
    strsm_(&side, &uplo, &ta, &diag, &m, &n, &alpha, a, &lda, b, &ldb, 1, 1, 1, 1);
}
inline void trsm(char side, char uplo, char ta, char diag, int m, int n, double alpha,
                 const double* a, int lda, double* b, int ldb) {
    bind_threads();
    dtrsm_(&side, &uplo, &ta, &diag, &m, &n, &alpha, a, &lda, b, &ldb, 1, 1, 1, 1);
}

// Column-major SYRK on the `uplo` triangle of C(n×n): C ← α·A·Aᵀ + β·C ('N', A n×k) or
// C ← α·Aᵀ·A + β·C ('T', A k×n).
inline void syrk(char uplo, char trans, int n, int k, float alpha, const float* a, int lda,
                 float beta, float* c, int ldc) {
    bind_threads();
    ssyrk_(&uplo, &trans, &n, &k, &alpha, a, &lda, &beta, c, &ldc, 1, 1);
}
inline void syrk(char uplo, char trans, int n, int k, double alpha, const double* a, int lda,
                 double beta, double* c, int ldc) {
    bind_threads();
    dsyrk_(&uplo, &trans, &n, &k, &alpha, a, &lda, &beta, c, &ldc, 1, 1);
}

// Column-major Cholesky of the `uplo` triangle of A(n×n), in place. Returns LAPACK's info:
// 0 on success, k > 0 when the leading minor of order k is not positive definite.
inline int potrf(char uplo, int n, float* a, int lda) {
    bind_threads();
    int info = 0;
    spotrf_(&uplo, &n, a, &lda, &info, 1);
    return info;
}
inline int potrf(char uplo, int n, double* a, int lda) {
    bind_threads();
    int info = 0;
    dpotrf_(&uplo, &n, a, &lda, &info, 1);
    return info;
}

// A⁻¹ from the Cholesky factor held in the `uplo` triangle, written over that triangle.
// Returns LAPACK's info: k > 0 when the factor's diagonal element k is zero.
inline int potri(char uplo, int n, float* a, int lda) {
    bind_threads();
    int info = 0;
    spotri_(&uplo, &n, a, &lda, &info, 1);
    return info;
}
inline int potri(char uplo, int n, double* a, int lda) {
    bind_threads();
    int info = 0;
    dpotri_(&uplo, &n, a, &lda, &info, 1);
    return info;
}

}  // namespace postr::cpu::blas
