// matmul kernels on CUDA: cuBLAS GEMM, one strided-batched call when every operand's batch dims
// collapse to one uniform stride (the common case), else one call per batch. Operands are passed
// by their strides exactly as on the CPU (kernels/matmul.h); full fp32, no TF32.
#include "postr/core/strided_loop.h"
#include "postr/kernels/cuda/handles.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/matmul.h"

namespace postr::cuda {
namespace {

using postr::detail::blas_layout;
using postr::detail::BlasLayout;

Shape batch_part(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

cublasOperation_t op(bool transposed) { return transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const float* alpha, const float* a, int lda, const float* b,
                         int ldb, const float* beta, float* c, int ldc) {
    return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const double* alpha, const double* a, int lda, const double* b,
                         int ldb, const double* beta, double* c, int ldc) {
    return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t gemm_batched_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, const float* alpha, const float* a, int lda,
                                 long long sa, const float* b, int ldb, long long sb,
                                 const float* beta, float* c, int ldc, long long sc, int count) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c,
                                     ldc, sc, count);
}
cublasStatus_t gemm_batched_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                 int m, int n, int k, const double* alpha, const double* a, int lda,
                                 long long sa, const double* b, int ldb, long long sb,
                                 const double* beta, double* c, int ldc, long long sc, int count) {
    return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c,
                                     ldc, sc, count);
}

template <class T>
void gemm_typed(const Tensor& a_in, const Tensor& b_in, const Tensor& c, T alpha, T beta) {
    const std::int64_t m = c.size(-2), n = c.size(-1), k = a_in.size(-1);
    if (c.numel() == 0) return;
    if (k == 0) {
        // An empty sum: c ← β·c, with β = 0 clearing NaNs as cuBLAS does.
        map_elements<T, T>(
            c, [beta] __device__(T x) { return beta == T(0) ? T(0) : beta * x; }, c);
        return;
    }
    const Tensor a = blas_layout(a_in).ok ? a_in : a_in.contiguous();
    const Tensor b = blas_layout(b_in).ok ? b_in : b_in.contiguous();
    const bool c_direct = blas_layout(c).ok;
    const Tensor out = c_direct ? c : c.contiguous();
    const BlasLayout la = blas_layout(a), lb = blas_layout(b), lc = blas_layout(out);
    POSTR_ASSERT(la.ok && lb.ok && lc.ok);

    // Column-major roles: a row-major C is computed as Cᵀ = Bᵀ·Aᵀ (operands swapped), exactly
    // as in cpu/matmul.cpp.
    const bool swap = !lc.column_major;
    const T* first = swap ? b.data<T>() : a.data<T>();
    const T* second = swap ? a.data<T>() : b.data<T>();
    const BlasLayout& l1 = swap ? lb : la;
    const BlasLayout& l2 = swap ? la : lb;
    const cublasOperation_t t1 = op(swap ? l1.column_major : !l1.column_major);
    const cublasOperation_t t2 = op(swap ? l2.column_major : !l2.column_major);
    const int rows = static_cast<int>(swap ? n : m), cols = static_cast<int>(swap ? m : n);
    const int ki = static_cast<int>(k);

    const Shape batch = batch_part(out.shape());
    const Shape so = batch_part(out.strides()), sa = batch_part(a.strides()),
                sb = batch_part(b.strides());
    const Shape* strides[3] = {&so, &sa, &sb};
    const StridedPlan<3> plan = make_plan<3>(batch, strides);
    cublasHandle_t handle = cublas_handle(c.device().index);
    T* c0 = out.data<T>();
    if (plan.ndim <= 1 && plan.numel <= INT_MAX) {
        // One uniform stride per operand (0 where broadcast): a single strided-batched call.
        const long long s_out = plan.ndim == 0 ? 0 : plan.strides[0][0];
        const long long s_a = plan.ndim == 0 ? 0 : plan.strides[1][0];
        const long long s_b = plan.ndim == 0 ? 0 : plan.strides[2][0];
        POSTR_CUBLAS_CHECK(gemm_batched_call(
            handle, t1, t2, rows, cols, ki, &alpha, first, static_cast<int>(l1.ld),
            swap ? s_b : s_a, second, static_cast<int>(l2.ld), swap ? s_a : s_b, &beta, c0,
            static_cast<int>(lc.ld), s_out, static_cast<int>(plan.numel)));
    } else {
        for (std::int64_t i = 0; i < plan.numel; ++i) {
            std::int64_t off[3];
            plan.offsets(i, off);
            const std::int64_t o1 = swap ? off[2] : off[1], o2 = swap ? off[1] : off[2];
            POSTR_CUBLAS_CHECK(gemm_call(
                handle, t1, t2, rows, cols, ki, &alpha, first + o1, static_cast<int>(l1.ld),
                second + o2, static_cast<int>(l2.ld), &beta, c0 + off[0], static_cast<int>(lc.ld)));
        }
    }
    if (!c_direct) Tensor(c).copy_(out);
}

}  // namespace

void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) {
    visit_floating(c.dtype(), [&]<class T>() {
        gemm_typed<T>(a, b, c, static_cast<T>(alpha), static_cast<T>(beta));
    });
}

}  // namespace postr::cuda
