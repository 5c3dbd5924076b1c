// linalg kernels on the CPU: LAPACK potrf/potri/syevd and BLAS trsm/syrk, one call per matrix.
// Row-major buffers are handed to the column-major routines as their transposes: a row-major
// lower triangle is a column-major upper triangle, hence the 'U's below.
#include "postr/kernels/linalg.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "postr/core/strided_loop.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/blas.h"
#include "postr/kernels/matmul.h"

// LAPACK's divide-and-conquer symmetric eigensolver, declared like the routines in blas.h (any
// LAPACK provides it; no lapacke.h needed).
extern "C" {
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w,
             float* work, const int* lwork, int* iwork, const int* liwork, int* info, std::size_t,
             std::size_t);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info, std::size_t,
             std::size_t);
}

namespace postr::cpu {
namespace {

void syevd(int n, float* a, float* w, float* work, int lwork, int* iwork, int liwork, int* info) {
    const char jobz = 'V', uplo = 'U';
    ssyevd_(&jobz, &uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
void syevd(int n, double* a, double* w, double* work, int lwork, int* iwork, int liwork,
           int* info) {
    const char jobz = 'V', uplo = 'U';
    dsyevd_(&jobz, &uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, info, 1, 1);
}

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

Tensor blas_ready(const Tensor& t) { return postr::detail::blas_layout(t).ok ? t : t.contiguous(); }

template <class T>
void cholesky_typed(const Tensor& a, const Tensor& l) {
    const std::int64_t n = l.size(-1);
    if (l.numel() == 0) return;
    Tensor(l).copy_(a);
    T* base = l.data<T>();
    const std::int64_t batches = l.numel() / (n * n);
    const int ni = static_cast<int>(n);
    for (std::int64_t b = 0; b < batches; ++b) {
        T* m = base + b * n * n;  // [n, n] row-major
        const int info = blas::potrf('U', ni, m, ni);
        if (info > 0) postr::detail::throw_not_positive_definite(info, n, b);
        POSTR_ASSERT(info == 0);
        // potrf leaves the other triangle as it was (a copy of a's upper triangle).
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = i + 1; j < n; ++j) m[i * n + j] = T(0);
    }
}

// X ← op(A)⁻¹·X for every batch. Row-major X [n, k] is column-major Xᵀ, and op(A)·X = B is
// Xᵀ·op(A)ᵀ = Bᵀ: a right-side solve. A row-major a holds Aᵀ column-major, which swaps the
// triangle and the transpose flag.
template <class T>
void triangular_solve_typed(const Tensor& a_in, const Tensor& x, bool lower, bool transpose,
                            bool unit_diagonal) {
    const std::int64_t n = x.size(-2), k = x.size(-1);
    if (x.numel() == 0) return;
    const Tensor a = blas_ready(a_in);
    const postr::detail::BlasLayout la = postr::detail::blas_layout(a);
    const bool holds_transpose = !la.column_major;
    const char uplo = lower != holds_transpose ? 'L' : 'U';
    const char trans = transpose == holds_transpose ? 'T' : 'N';
    const char diag = unit_diagonal ? 'U' : 'N';
    const StridedPlan<1> plan = batch_plan(a);
    const T* a0 = a.data<T>();
    T* x0 = x.data<T>();
    for (std::int64_t b = 0; b < plan.numel; ++b) {
        blas::trsm('R', uplo, trans, diag, static_cast<int>(k), static_cast<int>(n), T(1),
                   a0 + batch_offset(plan, b), static_cast<int>(la.ld), x0 + b * n * k,
                   static_cast<int>(k));
    }
}

// Element (i, j) of the [n, n] matrix at m with row stride sr and column stride sc.
template <class T>
T& at(T* m, std::int64_t sr, std::int64_t sc, std::int64_t i, std::int64_t j) {
    return m[i * sr + j * sc];
}

template <class T>
void syrk_typed(const Tensor& c, const Tensor& a_in, T alpha, T beta) {
    const std::int64_t n = c.size(0), rows = a_in.size(0);
    if (n == 0) return;
    if (rows == 0) {
        // An empty sum: the lower triangle ← β·itself (β = 0 clears NaNs, as BLAS does).
        T* m = c.data<T>();
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j <= i; ++j) {
                T& v = at(m, c.stride(0), c.stride(1), i, j);
                v = beta == T(0) ? T(0) : beta * v;
            }
        return;
    }
    const Tensor a = blas_ready(a_in);
    const bool c_direct = postr::detail::blas_layout(c).ok;
    const Tensor out = c_direct ? c : c.contiguous();
    const postr::detail::BlasLayout la = postr::detail::blas_layout(a),
                                    lc = postr::detail::blas_layout(out);
    // A row-major a holds Aᵀ (n×M) column-major, so AᵀA = buffer·bufferᵀ ('N').
    const char trans = la.column_major ? 'T' : 'N';
    const char uplo = lc.column_major ? 'L' : 'U';
    blas::syrk(uplo, trans, static_cast<int>(n), static_cast<int>(rows), alpha, a.data<T>(),
               static_cast<int>(la.ld), beta, out.data<T>(), static_cast<int>(lc.ld));
    // The copy's upper triangle still equals c's, so copying the whole matrix back is exact.
    if (!c_direct) Tensor(c).copy_(out);
}

template <class T>
void symmetrize_lower_typed(const Tensor& c) {
    const std::int64_t n = c.size(-1);
    if (c.numel() == 0) return;
    const StridedPlan<1> plan = batch_plan(c);
    const std::int64_t sr = c.stride(-2), sc = c.stride(-1);
    T* base = c.data<T>();
    // One task per row: rows touch disjoint upper-triangle elements.
    parallel_for(plan.numel * n, 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            T* m = base + batch_offset(plan, r / n);
            const std::int64_t i = r % n;
            for (std::int64_t j = 0; j < i; ++j) at(m, sr, sc, j, i) = at(m, sr, sc, i, j);
        }
    });
}

template <class T>
void cholesky_logdet_typed(const Tensor& l, const Tensor& out) {
    const std::int64_t n = l.size(-1);
    const StridedPlan<1> plan = batch_plan(l);
    const std::int64_t diag_stride = l.stride(-2) + l.stride(-1);
    const T* base = l.data<T>();
    T* o = out.data<T>();
    parallel_for(plan.numel, 64, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t b = begin; b < end; ++b) {
            const T* m = base + batch_offset(plan, b);
            // Accumulated in f64 in index order: deterministic, and f32 inputs lose nothing.
            double sum = 0.0;
            for (std::int64_t i = 0; i < n; ++i)
                sum += std::log(static_cast<double>(m[i * diag_stride]));
            o[b] = static_cast<T>(2.0 * sum);
        }
    });
}

template <class T>
void cholesky_inverse_typed(const Tensor& l, const Tensor& out) {
    const std::int64_t n = l.size(-1);
    if (out.numel() == 0) return;
    Tensor(out).copy_(l);
    T* base = out.data<T>();
    const std::int64_t batches = out.numel() / (n * n);
    for (std::int64_t b = 0; b < batches; ++b) {
        const int info =
            blas::potri('U', static_cast<int>(n), base + b * n * n, static_cast<int>(n));
        if (info > 0) postr::detail::throw_singular_factor(info, n, b);
        POSTR_ASSERT(info == 0);
    }
    symmetrize_lower_typed<T>(out);
}

// v holds a copy of a (row-major, so its lower triangle is the column-major upper one, 'U');
// syevd overwrites it with the eigenvectors as column-major columns, i.e. row-major Vᵀ, which a
// transpose in place turns into V.
template <class T>
void eigh_typed(const Tensor& a, const Tensor& w, const Tensor& v) {
    const std::int64_t n = v.size(-1);
    if (v.numel() == 0) return;
    Tensor(v).copy_(a);
    T* vbase = v.data<T>();
    T* wbase = w.data<T>();
    const std::int64_t batches = v.numel() / (n * n);
    const int ni = static_cast<int>(n);
    blas::bind_threads();
    // Workspace query once: the sizes depend on n only.
    T work_size = T(0);
    int iwork_size = 0, info = 0;
    syevd(ni, vbase, wbase, &work_size, -1, &iwork_size, -1, &info);
    POSTR_ASSERT(info == 0);
    std::vector<T> work(static_cast<std::size_t>(std::max<double>(1.0, work_size)));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(1, iwork_size)));
    for (std::int64_t b = 0; b < batches; ++b) {
        T* m = vbase + b * n * n;
        syevd(ni, m, wbase + b * n, work.data(), static_cast<int>(work.size()), iwork.data(),
              static_cast<int>(iwork.size()), &info);
        if (info > 0) postr::detail::throw_eigh_not_converged(info, n, b);
        POSTR_ASSERT(info == 0);
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = i + 1; j < n; ++j) std::swap(m[i * n + j], m[j * n + i]);
    }
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
    visit_floating(c.dtype(), [&]<class T>() { symmetrize_lower_typed<T>(c); });
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

}  // namespace postr::cpu
