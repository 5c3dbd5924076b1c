// linalg kernels on CUDA: cuSOLVER potrf/potri/syevd and cuBLAS trsm/syrk, one call per matrix,
// with the same row-major ↔ column-major mapping as cpu/linalg.cpp (a row-major lower triangle is a
// column-major upper one). potrf/potri statuses are read back once per op, after all batches,
// and become the same errors as on the CPU.
#include <algorithm>
#include <utility>
#include <vector>

#include "postr/core/strided_loop.h"
#include "postr/kernels/cuda/handles.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/linalg.h"
#include "postr/kernels/matmul.h"

namespace postr::cuda {
namespace {

using postr::detail::blas_layout;
using postr::detail::BlasLayout;

// Offsets of each matrix of t: [..., R, C] over its batch dims (stride 0 where broadcast).
StridedPlan<1> batch_plan(const Tensor& t) {
    const Shape batch(t.shape().begin(), t.shape().end() - 2);
    const Shape strides(t.strides().begin(), t.strides().end() - 2);
    const Shape* s[1] = {&strides};
    return make_plan<1>(batch, s);
}

std::int64_t batch_offset(const StridedPlan<1>& plan, std::int64_t b) {
    std::int64_t off[1];
    plan.offsets(b, off);
    return off[0];
}

Tensor blas_ready(const Tensor& t) { return blas_layout(t).ok ? t : t.contiguous(); }

// --- cuBLAS / cuSOLVER overloads by element type -------------------------------------------

cublasStatus_t trsm_call(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans,
                         cublasDiagType_t diag, int m, int n, const float* alpha, const float* a,
                         int lda, float* b, int ldb) {
    return cublasStrsm(h, CUBLAS_SIDE_RIGHT, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}
cublasStatus_t trsm_call(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans,
                         cublasDiagType_t diag, int m, int n, const double* alpha, const double* a,
                         int lda, double* b, int ldb) {
    return cublasDtrsm(h, CUBLAS_SIDE_RIGHT, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}
cublasStatus_t syrk_call(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, int n,
                         int k, const float* alpha, const float* a, int lda, const float* beta,
                         float* c, int ldc) {
    return cublasSsyrk(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
}
cublasStatus_t syrk_call(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, int n,
                         int k, const double* alpha, const double* a, int lda, const double* beta,
                         double* c, int ldc) {
    return cublasDsyrk(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
}
cusolverStatus_t potrf_buffer(cusolverDnHandle_t h, int n, float* a, int* lwork) {
    return cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potrf_buffer(cusolverDnHandle_t h, int n, double* a, int* lwork) {
    return cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potrf_call(cusolverDnHandle_t h, int n, float* a, float* work, int lwork,
                            int* info) {
    return cusolverDnSpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potrf_call(cusolverDnHandle_t h, int n, double* a, double* work, int lwork,
                            int* info) {
    return cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potri_buffer(cusolverDnHandle_t h, int n, float* a, int* lwork) {
    return cusolverDnSpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potri_buffer(cusolverDnHandle_t h, int n, double* a, int* lwork) {
    return cusolverDnDpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potri_call(cusolverDnHandle_t h, int n, float* a, float* work, int lwork,
                            int* info) {
    return cusolverDnSpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potri_call(cusolverDnHandle_t h, int n, double* a, double* work, int lwork,
                            int* info) {
    return cusolverDnDpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}

cusolverStatus_t syevd_buffer(cusolverDnHandle_t h, int n, const float* a, const float* w,
                              int* lwork) {
    return cusolverDnSsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER, n, a, n,
                                       w, lwork);
}
cusolverStatus_t syevd_buffer(cusolverDnHandle_t h, int n, const double* a, const double* w,
                              int* lwork) {
    return cusolverDnDsyevd_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER, n, a, n,
                                       w, lwork);
}
cusolverStatus_t syevd_call(cusolverDnHandle_t h, int n, float* a, float* w, float* work, int lwork,
                            int* info) {
    return cusolverDnSsyevd(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER, n, a, n, w, work,
                            lwork, info);
}
cusolverStatus_t syevd_call(cusolverDnHandle_t h, int n, double* a, double* w, double* work,
                            int lwork, int* info) {
    return cusolverDnDsyevd(h, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_UPPER, n, a, n, w, work,
                            lwork, info);
}

// --- Small kernels -----------------------------------------------------------------------------

enum class TriangleOp { zero_upper, copy_lower_to_upper, scale_lower };

// One thread per element of batch × n × n; each touches only its own (i, j) with j > i (or
// j <= i for scale_lower), so no two threads write the same element. c may have any strides.
template <class T>
__global__ void triangle_kernel(StridedPlan<1> batch, std::int64_t n, std::int64_t sr,
                                std::int64_t sc, T* c, TriangleOp mode, T beta) {
    const std::int64_t per = n * n;
    POSTR_GRID_STRIDE_LOOP(idx, batch.numel * per) {
        std::int64_t off[1];
        batch.offsets(idx / per, off);
        const std::int64_t i = (idx % per) / n, j = idx % n;
        T* m = c + off[0];
        if (mode == TriangleOp::scale_lower) {
            if (j <= i) m[i * sr + j * sc] = beta == T(0) ? T(0) : beta * m[i * sr + j * sc];
        } else if (j > i) {
            m[i * sr + j * sc] = mode == TriangleOp::zero_upper ? T(0) : m[j * sr + i * sc];
        }
    }
}

template <class T>
void triangle(const Tensor& c, TriangleOp mode, T beta = T(0)) {
    const std::int64_t n = c.size(-1);
    if (c.numel() == 0) return;
    const StridedPlan<1> plan = batch_plan(c);
    triangle_kernel<T><<<grid_for(plan.numel * n * n), kBlockSize, 0, stream_for(c)>>>(
        plan, n, c.stride(-2), c.stride(-1), c.data<T>(), mode, beta);
    POSTR_CHECK_LAUNCH("triangle_kernel");
}

// Transposes each contiguous [n, n] matrix of the batch in place: one thread per element above
// the diagonal swaps it with its mirror, so no element is touched twice.
template <class T>
__global__ void transpose_square_kernel(std::int64_t batches, std::int64_t n, T* m) {
    const std::int64_t per = n * n;
    POSTR_GRID_STRIDE_LOOP(idx, batches * per) {
        const std::int64_t i = (idx % per) / n, j = idx % n;
        if (j > i) {
            T* base = m + (idx / per) * per;
            const T upper = base[i * n + j];
            base[i * n + j] = base[j * n + i];
            base[j * n + i] = upper;
        }
    }
}

// One block per matrix: each thread sums its share of log l_ii in f64, then a fixed tree in
// shared memory combines them, so the result does not depend on scheduling.
template <class T>
__global__ void logdet_kernel(StridedPlan<1> batch, std::int64_t n, std::int64_t diag_stride,
                              const T* l, T* out) {
    __shared__ double partial[kBlockSize];
    for (std::int64_t b = blockIdx.x; b < batch.numel; b += gridDim.x) {
        std::int64_t off[1];
        batch.offsets(b, off);
        double sum = 0.0;
        for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x)
            sum += log(static_cast<double>(l[off[0] + i * diag_stride]));
        partial[threadIdx.x] = sum;
        __syncthreads();
        for (int width = blockDim.x / 2; width > 0; width /= 2) {
            if (static_cast<int>(threadIdx.x) < width)
                partial[threadIdx.x] += partial[threadIdx.x + width];
            __syncthreads();
        }
        if (threadIdx.x == 0) out[b] = static_cast<T>(2.0 * partial[0]);
        __syncthreads();
    }
}

// Copies cuSOLVER's per-batch info values to the host (one synchronization per op) and returns
// the first nonzero one with its batch index, or {0, -1}.
std::pair<int, std::int64_t> first_failure(const Tensor& infos, std::int64_t batches) {
    std::vector<int> host(static_cast<std::size_t>(batches));
    cudaStream_t stream = stream_for(infos);
    POSTR_CUDA_CHECK(cudaMemcpyAsync(host.data(), infos.data_ptr(), host.size() * sizeof(int),
                                     cudaMemcpyDeviceToHost, stream));
    POSTR_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (std::int64_t b = 0; b < batches; ++b)
        if (host[static_cast<std::size_t>(b)] != 0) return {host[static_cast<std::size_t>(b)], b};
    return {0, -1};
}

// Device buffer for `batches` cuSOLVER info ints (i64 elements hold two ints each; the first
// `batches` ints are used).
Tensor info_buffer(std::int64_t batches, Device device) {
    return Tensor::empty({(batches + 1) / 2}, DType::i64, device);
}

// --- Entry points, typed -------------------------------------------------------------------------

template <class T>
void cholesky_typed(const Tensor& a, const Tensor& l) {
    const std::int64_t n = l.size(-1);
    if (l.numel() == 0) return;
    Tensor(l).copy_(a);
    const std::int64_t batches = l.numel() / (n * n);
    const int ni = static_cast<int>(n);
    cusolverDnHandle_t handle = cusolver_handle(l.device().index);
    T* base = l.data<T>();
    int lwork = 0;
    POSTR_CUSOLVER_CHECK(potrf_buffer(handle, ni, base, &lwork));
    // Workspace from postr's caching allocator, so repeated factorizations reuse it.
    const Tensor work = Tensor::empty({std::max(lwork, 1)}, l.dtype(), l.device());
    const Tensor infos = info_buffer(batches, l.device());
    int* info = static_cast<int*>(infos.data_ptr());
    for (std::int64_t b = 0; b < batches; ++b)
        POSTR_CUSOLVER_CHECK(
            potrf_call(handle, ni, base + b * n * n, work.data<T>(), lwork, info + b));
    const auto [minor, batch] = first_failure(infos, batches);
    if (minor > 0) postr::detail::throw_not_positive_definite(minor, n, batch);
    POSTR_ASSERT(minor == 0);
    triangle<T>(l, TriangleOp::zero_upper);
}

template <class T>
void triangular_solve_typed(const Tensor& a_in, const Tensor& x, bool lower, bool transpose,
                            bool unit_diagonal) {
    const std::int64_t n = x.size(-2), k = x.size(-1);
    if (x.numel() == 0) return;
    const Tensor a = blas_ready(a_in);
    const BlasLayout la = blas_layout(a);
    // Row-major X is column-major Xᵀ and Xᵀ·op(A)ᵀ = Bᵀ; see cpu/linalg.cpp.
    const bool holds_transpose = !la.column_major;
    const cublasFillMode_t uplo =
        lower != holds_transpose ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
    const cublasOperation_t trans = transpose == holds_transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasDiagType_t diag = unit_diagonal ? CUBLAS_DIAG_UNIT : CUBLAS_DIAG_NON_UNIT;
    const StridedPlan<1> plan = batch_plan(a);
    cublasHandle_t handle = cublas_handle(x.device().index);
    const T one = T(1);
    const T* a0 = a.data<T>();
    T* x0 = x.data<T>();
    for (std::int64_t b = 0; b < plan.numel; ++b)
        POSTR_CUBLAS_CHECK(trsm_call(handle, uplo, trans, diag, static_cast<int>(k),
                                     static_cast<int>(n), &one, a0 + batch_offset(plan, b),
                                     static_cast<int>(la.ld), x0 + b * n * k, static_cast<int>(k)));
}

template <class T>
void syrk_typed(const Tensor& c, const Tensor& a_in, T alpha, T beta) {
    const std::int64_t n = c.size(0), rows = a_in.size(0);
    if (n == 0) return;
    if (rows == 0) {
        triangle<T>(c, TriangleOp::scale_lower, beta);
        return;
    }
    const Tensor a = blas_ready(a_in);
    const bool c_direct = blas_layout(c).ok;
    const Tensor out = c_direct ? c : c.contiguous();
    const BlasLayout la = blas_layout(a), lc = blas_layout(out);
    const cublasOperation_t trans = la.column_major ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasFillMode_t uplo = lc.column_major ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER;
    POSTR_CUBLAS_CHECK(syrk_call(cublas_handle(c.device().index), uplo, trans, static_cast<int>(n),
                                 static_cast<int>(rows), &alpha, a.data<T>(),
                                 static_cast<int>(la.ld), &beta, out.data<T>(),
                                 static_cast<int>(lc.ld)));
    if (!c_direct) Tensor(c).copy_(out);
}

template <class T>
void cholesky_logdet_typed(const Tensor& l, const Tensor& out) {
    const std::int64_t n = l.size(-1);
    if (out.numel() == 0) return;
    const StridedPlan<1> plan = batch_plan(l);
    const int blocks = static_cast<int>(std::min<std::int64_t>(plan.numel, 65535));
    logdet_kernel<T><<<blocks, kBlockSize, 0, stream_for(l)>>>(plan, n, l.stride(-2) + l.stride(-1),
                                                               l.data<T>(), out.data<T>());
    POSTR_CHECK_LAUNCH("logdet_kernel");
}

template <class T>
void cholesky_inverse_typed(const Tensor& l, const Tensor& out) {
    const std::int64_t n = l.size(-1);
    if (out.numel() == 0) return;
    Tensor(out).copy_(l);
    const std::int64_t batches = out.numel() / (n * n);
    const int ni = static_cast<int>(n);
    cusolverDnHandle_t handle = cusolver_handle(out.device().index);
    T* base = out.data<T>();
    int lwork = 0;
    POSTR_CUSOLVER_CHECK(potri_buffer(handle, ni, base, &lwork));
    const Tensor work = Tensor::empty({std::max(lwork, 1)}, out.dtype(), out.device());
    const Tensor infos = info_buffer(batches, out.device());
    int* info = static_cast<int*>(infos.data_ptr());
    for (std::int64_t b = 0; b < batches; ++b)
        POSTR_CUSOLVER_CHECK(
            potri_call(handle, ni, base + b * n * n, work.data<T>(), lwork, info + b));
    const auto [index, batch] = first_failure(infos, batches);
    if (index > 0) postr::detail::throw_singular_factor(index, n, batch);
    POSTR_ASSERT(index == 0);
    triangle<T>(out, TriangleOp::copy_lower_to_upper);
}

// As on the CPU: v holds a copy of a (row-major lower = column-major upper); syevd leaves the
// eigenvectors as column-major columns (row-major Vᵀ), transposed in place after all batches.
template <class T>
void eigh_typed(const Tensor& a, const Tensor& w, const Tensor& v) {
    const std::int64_t n = v.size(-1);
    if (v.numel() == 0) return;
    Tensor(v).copy_(a);
    const std::int64_t batches = v.numel() / (n * n);
    const int ni = static_cast<int>(n);
    cusolverDnHandle_t handle = cusolver_handle(v.device().index);
    T* vbase = v.data<T>();
    T* wbase = w.data<T>();
    int lwork = 0;
    POSTR_CUSOLVER_CHECK(syevd_buffer(handle, ni, vbase, wbase, &lwork));
    const Tensor work = Tensor::empty({std::max(lwork, 1)}, v.dtype(), v.device());
    const Tensor infos = info_buffer(batches, v.device());
    int* info = static_cast<int*>(infos.data_ptr());
    for (std::int64_t b = 0; b < batches; ++b)
        POSTR_CUSOLVER_CHECK(syevd_call(handle, ni, vbase + b * n * n, wbase + b * n,
                                        work.data<T>(), lwork, info + b));
    const auto [failed, batch] = first_failure(infos, batches);
    if (failed > 0) postr::detail::throw_eigh_not_converged(failed, n, batch);
    POSTR_ASSERT(failed == 0);
    transpose_square_kernel<T>
        <<<grid_for(batches * n * n), kBlockSize, 0, stream_for(v)>>>(batches, n, vbase);
    POSTR_CHECK_LAUNCH("transpose_square_kernel");
}

}  // namespace

void cholesky(const Tensor& a, const Tensor& l) {
    visit_floating(l.dtype(), [&]<class T>() { cholesky_typed<T>(a, l); });
}

void triangular_solve(const Tensor& a, const Tensor& x, bool lower, bool transpose,
                      bool unit_diagonal) {
    visit_floating(x.dtype(), [&]<class T>() {
        triangular_solve_typed<T>(a, x, lower, transpose, unit_diagonal);
    });
}

void cholesky_solve(const Tensor& x, const Tensor& l) {
    visit_floating(x.dtype(), [&]<class T>() {
        const Tensor ready = blas_ready(l);  // copied at most once for both solves
        triangular_solve_typed<T>(ready, x, true, false, false);  // L·Y = B
        triangular_solve_typed<T>(ready, x, true, true, false);   // Lᵀ·X = Y
    });
}

void syrk(const Tensor& c, const Tensor& a, double alpha, double beta) {
    visit_floating(c.dtype(), [&]<class T>() {
        syrk_typed<T>(c, a, static_cast<T>(alpha), static_cast<T>(beta));
    });
}

void symmetrize_lower(const Tensor& c) {
    visit_floating(c.dtype(), [&]<class T>() { triangle<T>(c, TriangleOp::copy_lower_to_upper); });
}

void cholesky_logdet(const Tensor& l, const Tensor& out) {
    visit_floating(l.dtype(), [&]<class T>() { cholesky_logdet_typed<T>(l, out); });
}

void cholesky_inverse(const Tensor& l, const Tensor& out) {
    visit_floating(l.dtype(), [&]<class T>() { cholesky_inverse_typed<T>(l, out); });
}

void eigh(const Tensor& a, const Tensor& w, const Tensor& v) {
    visit_floating(v.dtype(), [&]<class T>() { eigh_typed<T>(a, w, v); });
}

}  // namespace postr::cuda
