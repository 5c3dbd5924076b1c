// Per-layer curvature kernels on CUDA: grid-stride kernels writing each output element once
// through out's strides, and for the Conv2d full block an im2col per chunk of samples followed
// by one cuBLAS strided-batched GEMM per k (batched over the samples, C's batch stride = out's
// sample stride). Sums run in a fixed order per thread (no atomics), so results are
// deterministic. Out-of-range subset positions (rejected by the public op) produce NaN here,
// never an out-of-bounds read.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/kernels/cuda/handles.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/curvature.h"

namespace postr::cuda {
namespace {

using i64 = std::int64_t;

// Bound on the im2col buffer of one chunk of samples, and on the Jacobian buffer of the
// Conv2d sum of squares.
constexpr i64 kBufferBytes = i64{256} << 20;

template <class T>
__device__ T nan_value() {
    return static_cast<T>(NAN);
}

// ---- Linear ---------------------------------------------------------------------------------

struct LinearDims {
    i64 k, n, o, in;
    __host__ __device__ i64 weights() const { return o * in; }
};
LinearDims linear_dims(const Tensor& cot, const Tensor& x) {
    return {cot.size(0), cot.size(1), cot.size(2), x.size(1)};
}

// J[n, k, j] for j < P of the Linear block.
template <class T>
__device__ T linear_entry(const LinearDims& d, const T* cot, const T* x, i64 n, i64 k, i64 j) {
    const T* c = cot + (k * d.n + n) * d.o;
    return j < d.weights() ? c[j / d.in] * x[n * d.in + j % d.in] : c[j - d.weights()];
}

template <class T>
__global__ void linear_full_kernel(LinearDims d, const T* cot, const T* x, i64 p, T* out, i64 s0,
                                   i64 s1) {
    POSTR_GRID_STRIDE_LOOP(e, d.n * d.k * p) {
        const i64 j = e % p, r = e / p, n = r / d.k, k = r % d.k;
        out[n * s0 + k * s1 + j] = linear_entry(d, cot, x, n, k, j);
    }
}

template <class T>
__global__ void linear_subset_kernel(LinearDims d, const T* cot, const T* x, i64 p,
                                     const i64* index, i64 s_count, T* out, i64 s0, i64 s1) {
    POSTR_GRID_STRIDE_LOOP(e, d.n * d.k * s_count) {
        const i64 s = e % s_count, r = e / s_count, n = r / d.k, k = r % d.k, j = index[s];
        out[n * s0 + k * s1 + s] =
            j >= 0 && j < p ? linear_entry(d, cot, x, n, k, j) : nan_value<T>();
    }
}

// a[n, o] = Σ_k cot[k, n, o]², k in order.
template <class T>
__global__ void cot_sq_kernel(LinearDims d, const T* cot, T* a) {
    POSTR_GRID_STRIDE_LOOP(e, d.n * d.o) {
        T s = 0;
        for (i64 k = 0; k < d.k; ++k) {
            const T c = cot[k * d.n * d.o + e];
            s += c * c;
        }
        a[e] = s;
    }
}

// diag[j] += Σ_n a[n, o]·x[n, i]² (weights) or Σ_n a[n, o] (bias), n in order.
template <class T>
__global__ void linear_sq_sum_kernel(LinearDims d, const T* a, const T* x, i64 p, T* diag) {
    POSTR_GRID_STRIDE_LOOP(j, p) {
        T s = 0;
        if (j < d.weights()) {
            const i64 o = j / d.in, i = j % d.in;
            for (i64 n = 0; n < d.n; ++n) {
                const T xv = x[n * d.in + i];
                s += a[n * d.o + o] * (xv * xv);
            }
        } else {
            for (i64 n = 0; n < d.n; ++n) s += a[n * d.o + j - d.weights()];
        }
        diag[j] += s;
    }
}

// ---- Conv2d ---------------------------------------------------------------------------------

struct ConvGeometry {
    i64 k, n, o, c_in, h, w, kh, kw, h_out, w_out;
    i64 stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    __host__ __device__ i64 q() const { return c_in * kh * kw; }
    __host__ __device__ i64 hw() const { return h_out * w_out; }
    __host__ __device__ i64 weights() const { return o * q(); }
};
ConvGeometry conv_geometry(const Tensor& cot, const Tensor& x, i64 kh, i64 kw,
                           const Conv2dOptions& opt) {
    return {cot.size(0), cot.size(1), cot.size(2),    x.size(1),     x.size(2),    x.size(3),
            kh,          kw,          cot.size(3),    cot.size(4),   opt.stride_h, opt.stride_w,
            opt.pad_h,   opt.pad_w,   opt.dilation_h, opt.dilation_w};
}

// xpad[n, c, h·s_h + a·d_h − pad_h, w·s_w + b·d_w − pad_w] for output position pos = h·W_out + w.
template <class T>
__device__ T tap(const ConvGeometry& g, const T* x, i64 n, i64 c, i64 a, i64 b, i64 pos) {
    const i64 ih = (pos / g.w_out) * g.stride_h - g.pad_h + a * g.dil_h;
    const i64 iw = (pos % g.w_out) * g.stride_w - g.pad_w + b * g.dil_w;
    const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
    return inside ? x[((n * g.c_in + c) * g.h + ih) * g.w + iw] : T(0);
}

// col [nb, Q, HW] ← the receptive fields of samples [n0, n0 + nb).
template <class T>
__global__ void im2col_kernel(ConvGeometry g, const T* x, i64 n0, i64 nb, T* col) {
    const i64 q = g.q(), hw = g.hw();
    POSTR_GRID_STRIDE_LOOP(e, nb * q * hw) {
        const i64 pos = e % hw, r = e / hw, qq = r % q, j = r / q;
        const i64 b = qq % g.kw, a = (qq / g.kw) % g.kh, c = qq / (g.kw * g.kh);
        col[e] = tap(g, x, n0 + j, c, a, b, pos);
    }
}

// J[n, k, j] of one column j < P, straight from x (subset form and sums of squares).
template <class T>
__device__ T conv_entry(const ConvGeometry& g, const T* cot, const T* x, i64 n, i64 k, i64 j) {
    const i64 hw = g.hw();
    T s = 0;
    if (j >= g.weights()) {
        const T* c = cot + ((k * g.n + n) * g.o + j - g.weights()) * hw;
        for (i64 pos = 0; pos < hw; ++pos) s += c[pos];
        return s;
    }
    const i64 o = j / g.q(), r = j % g.q();
    const i64 b = r % g.kw, a = (r / g.kw) % g.kh, ch = r / (g.kw * g.kh);
    const T* c = cot + ((k * g.n + n) * g.o + o) * hw;
    for (i64 pos = 0; pos < hw; ++pos) s += c[pos] * tap(g, x, n, ch, a, b, pos);
    return s;
}

// Bias columns of rows (n, k), n in [n0, n0 + nb): out[n, k, O·Q + o] = Σ_hw cot[k, n, o].
template <class T>
__global__ void conv_bias_kernel(ConvGeometry g, const T* cot, i64 n0, i64 nb, T* out, i64 s0,
                                 i64 s1) {
    POSTR_GRID_STRIDE_LOOP(e, nb * g.k * g.o) {
        const i64 o = e % g.o, r = e / g.o, k = r % g.k, j = r / g.k;
        const T* c = cot + ((k * g.n + n0 + j) * g.o + o) * g.hw();
        T s = 0;
        for (i64 pos = 0; pos < g.hw(); ++pos) s += c[pos];
        out[j * s0 + k * s1 + g.weights() + o] = s;
    }
}

template <class T>
__global__ void conv_subset_kernel(ConvGeometry g, const T* cot, const T* x, i64 p,
                                   const i64* index, i64 s_count, T* out, i64 s0, i64 s1) {
    POSTR_GRID_STRIDE_LOOP(e, g.n * g.k * s_count) {
        const i64 s = e % s_count, r = e / s_count, n = r / g.k, k = r % g.k, j = index[s];
        out[n * s0 + k * s1 + s] =
            j >= 0 && j < p ? conv_entry(g, cot, x, n, k, j) : nan_value<T>();
    }
}

// diag[j] += Σ_r buf[r·P + j]², rows in order (coalesced over j).
template <class T>
__global__ void column_squares_kernel(const T* buf, i64 rows, i64 p, T* diag) {
    POSTR_GRID_STRIDE_LOOP(j, p) {
        T s = 0;
        for (i64 r = 0; r < rows; ++r) {
            const T v = buf[r * p + j];
            s += v * v;
        }
        diag[j] += s;
    }
}

int to_int(i64 v) {
    POSTR_CHECK(v <= INT_MAX,
                "conv2d_jacobian: a GEMM dimension exceeds the cuBLAS integer range: ", v,
                ". Use a smaller layer or image");
    return static_cast<int>(v);
}
int ld(i64 v) { return to_int(std::max<i64>(v, 1)); }

cublasStatus_t gemm_batched(cublasHandle_t h, int m, int n, int k, const float* a, int lda,
                            long long sa, const float* b, int ldb, long long sb, float* c, int ldc,
                            long long sc, int batch) {
    const float one = 1, zero = 0;
    return cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, lda, sa, b, ldb,
                                     sb, &zero, c, ldc, sc, batch);
}
cublasStatus_t gemm_batched(cublasHandle_t h, int m, int n, int k, const double* a, int lda,
                            long long sa, const double* b, int ldb, long long sb, double* c,
                            int ldc, long long sc, int batch) {
    const double one = 1, zero = 0;
    return cublasDgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, lda, sa, b, ldb,
                                     sb, &zero, c, ldc, sc, batch);
}

// Rows (n, k) of samples [n0, n0 + nb) into out0 (row (n, k) at out0 + (n − n0)·s0 + k·s1).
// Per k, one GEMM batched over the samples; in cuBLAS's column-major terms the [O, Q] row-major
// block is C (Q×O, ldc Q) = colᵀ (Q×HW) · cot[k, n] (HW×O).
template <class T>
void conv_full_chunk(const ConvGeometry& g, const T* cot, const T* x, bool has_bias, i64 n0, i64 nb,
                     T* out0, i64 s0, i64 s1, T* col, cudaStream_t stream, cublasHandle_t handle) {
    const i64 q = g.q(), hw = g.hw();
    if (q > 0 && g.o > 0) {
        im2col_kernel<T><<<grid_for(nb * q * hw), kBlockSize, 0, stream>>>(g, x, n0, nb, col);
        POSTR_CHECK_LAUNCH("im2col_kernel");
        for (i64 k = 0; k < g.k; ++k)
            POSTR_CUBLAS_CHECK(gemm_batched(handle, to_int(q), to_int(g.o), to_int(hw), col, ld(hw),
                                            q * hw, cot + (k * g.n + n0) * g.o * hw, ld(hw),
                                            g.o * hw, out0 + k * s1, ld(q), s0, to_int(nb)));
    }
    if (has_bias && g.o > 0) {
        conv_bias_kernel<T>
            <<<grid_for(nb * g.k * g.o), kBlockSize, 0, stream>>>(g, cot, n0, nb, out0, s0, s1);
        POSTR_CHECK_LAUNCH("conv_bias_kernel");
    }
}

// Samples per chunk so that `per_sample_elems` elements of T per sample stay under kBufferBytes.
i64 chunk_samples(i64 n, i64 per_sample_elems, std::size_t item) {
    const i64 bytes = std::max<i64>(1, per_sample_elems * static_cast<i64>(item));
    return std::clamp<i64>(kBufferBytes / bytes, 1, std::max<i64>(n, 1));
}

template <class T>
void conv_full(const Tensor& cot, const Tensor& x, i64 kh, i64 kw, const Conv2dOptions& opt,
               bool has_bias, const Tensor& out) {
    const ConvGeometry g = conv_geometry(cot, x, kh, kw, opt);
    if (g.n == 0 || g.k == 0) return;
    const i64 nb_max = chunk_samples(g.n, g.q() * g.hw(), sizeof(T));
    Tensor col = Tensor::empty({nb_max * g.q() * g.hw()}, out.dtype(), out.device());
    cudaStream_t stream = stream_for(out);
    cublasHandle_t handle = cublas_handle(out.device().index);
    const i64 s0 = out.stride(0), s1 = out.stride(1);
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        const i64 nb = std::min(nb_max, g.n - n0);
        conv_full_chunk<T>(g, cot.data<T>(), x.data<T>(), has_bias, n0, nb, out.data<T>() + n0 * s0,
                           s0, s1, col.data<T>(), stream, handle);
    }
}

template <class T>
void conv_sq_sum(const Tensor& cot, const Tensor& x, i64 kh, i64 kw, const Conv2dOptions& opt,
                 bool has_bias, const Tensor& diag) {
    const ConvGeometry g = conv_geometry(cot, x, kh, kw, opt);
    const i64 p = g.weights() + (has_bias ? g.o : 0);
    if (g.n == 0 || g.k == 0 || p == 0) return;
    const i64 nb_max = chunk_samples(g.n, std::max(g.q() * g.hw(), g.k * p), sizeof(T));
    Tensor col = Tensor::empty({nb_max * g.q() * g.hw()}, diag.dtype(), diag.device());
    Tensor buf = Tensor::empty({nb_max * g.k * p}, diag.dtype(), diag.device());  // [nb, K, P]
    cudaStream_t stream = stream_for(diag);
    cublasHandle_t handle = cublas_handle(diag.device().index);
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        const i64 nb = std::min(nb_max, g.n - n0);
        conv_full_chunk<T>(g, cot.data<T>(), x.data<T>(), has_bias, n0, nb, buf.data<T>(), g.k * p,
                           p, col.data<T>(), stream, handle);
        column_squares_kernel<T>
            <<<grid_for(p), kBlockSize, 0, stream>>>(buf.data<T>(), nb * g.k, p, diag.data<T>());
        POSTR_CHECK_LAUNCH("column_squares_kernel");
    }
}

// ---- channel affine -------------------------------------------------------------------------

struct AffineDims {
    i64 k, n, c, hw;
};
AffineDims affine_dims(const Tensor& cot) {
    return {cot.size(0), cot.size(1), cot.size(2), cot.size(3) * cot.size(4)};
}

template <class T>
__device__ T affine_entry(const AffineDims& d, const T* cot, const T* xhat, i64 n, i64 k, i64 j) {
    const bool scale = j < d.c;
    const i64 ch = scale ? j : j - d.c;
    const T* c = cot + ((k * d.n + n) * d.c + ch) * d.hw;
    const T* xr = xhat + (n * d.c + ch) * d.hw;
    T s = 0;
    for (i64 i = 0; i < d.hw; ++i) s += scale ? c[i] * xr[i] : c[i];
    return s;
}

template <class T>
__global__ void affine_full_kernel(AffineDims d, const T* cot, const T* xhat, T* out, i64 s0,
                                   i64 s1) {
    const i64 p = 2 * d.c;
    POSTR_GRID_STRIDE_LOOP(e, d.n * d.k * p) {
        const i64 j = e % p, r = e / p, n = r / d.k, k = r % d.k;
        out[n * s0 + k * s1 + j] = affine_entry(d, cot, xhat, n, k, j);
    }
}

template <class T>
__global__ void affine_subset_kernel(AffineDims d, const T* cot, const T* xhat, const i64* index,
                                     i64 s_count, T* out, i64 s0, i64 s1) {
    POSTR_GRID_STRIDE_LOOP(e, d.n * d.k * s_count) {
        const i64 s = e % s_count, r = e / s_count, n = r / d.k, k = r % d.k, j = index[s];
        out[n * s0 + k * s1 + s] =
            j >= 0 && j < 2 * d.c ? affine_entry(d, cot, xhat, n, k, j) : nan_value<T>();
    }
}

// diag[j] += Σ_n Σ_k J[n, k, j]², (n, k) in order.
template <class T>
__global__ void affine_sq_sum_kernel(AffineDims d, const T* cot, const T* xhat, T* diag) {
    POSTR_GRID_STRIDE_LOOP(j, 2 * d.c) {
        T s = 0;
        for (i64 n = 0; n < d.n; ++n)
            for (i64 k = 0; k < d.k; ++k) {
                const T v = affine_entry(d, cot, xhat, n, k, j);
                s += v * v;
            }
        diag[j] += s;
    }
}

}  // namespace

void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out) {
    const LinearDims d = linear_dims(cot, x);
    const i64 p = out.size(2);
    if (d.n * d.k * p == 0) return;
    static_cast<void>(has_bias);  // P = out.size(2) already says whether the bias is there
    visit_floating(out.dtype(), [&]<class T>() {
        linear_full_kernel<T><<<grid_for(d.n * d.k * p), kBlockSize, 0, stream_for(out)>>>(
            d, cot.data<T>(), x.data<T>(), p, out.data<T>(), out.stride(0), out.stride(1));
        POSTR_CHECK_LAUNCH("linear_full_kernel");
    });
}

void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool has_bias,
                                 const Tensor& index, const Tensor& out) {
    const LinearDims d = linear_dims(cot, x);
    const i64 p = d.weights() + (has_bias ? d.o : 0), s_count = index.numel();
    if (d.n * d.k * s_count == 0) return;
    visit_floating(out.dtype(), [&]<class T>() {
        linear_subset_kernel<T><<<grid_for(d.n * d.k * s_count), kBlockSize, 0, stream_for(out)>>>(
            d, cot.data<T>(), x.data<T>(), p, index.data<i64>(), s_count, out.data<T>(),
            out.stride(0), out.stride(1));
        POSTR_CHECK_LAUNCH("linear_subset_kernel");
    });
}

void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias,
                             const Tensor& diag) {
    const LinearDims d = linear_dims(cot, x);
    const i64 p = d.weights() + (has_bias ? d.o : 0);
    if (p == 0) return;
    visit_floating(diag.dtype(), [&]<class T>() {
        cudaStream_t stream = stream_for(diag);
        Tensor a = Tensor::empty({d.n * d.o}, diag.dtype(), diag.device());  // [N, O]
        if (d.n * d.o > 0) {
            cot_sq_kernel<T>
                <<<grid_for(d.n * d.o), kBlockSize, 0, stream>>>(d, cot.data<T>(), a.data<T>());
            POSTR_CHECK_LAUNCH("cot_sq_kernel");
        }
        linear_sq_sum_kernel<T><<<grid_for(p), kBlockSize, 0, stream>>>(d, a.data<T>(), x.data<T>(),
                                                                        p, diag.data<T>());
        POSTR_CHECK_LAUNCH("linear_sq_sum_kernel");
    });
}

void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() {
        conv_full<T>(cot, x, kernel_h, kernel_w, options, has_bias, out);
    });
}

void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                                 const Tensor& index, const Tensor& out) {
    const ConvGeometry g = conv_geometry(cot, x, kernel_h, kernel_w, options);
    const i64 p = g.weights() + (has_bias ? g.o : 0), s_count = index.numel();
    if (g.n * g.k * s_count == 0) return;
    visit_floating(out.dtype(), [&]<class T>() {
        conv_subset_kernel<T><<<grid_for(g.n * g.k * s_count), kBlockSize, 0, stream_for(out)>>>(
            g, cot.data<T>(), x.data<T>(), p, index.data<i64>(), s_count, out.data<T>(),
            out.stride(0), out.stride(1));
        POSTR_CHECK_LAUNCH("conv_subset_kernel");
    });
}

void conv2d_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                             std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                             const Tensor& diag) {
    visit_floating(diag.dtype(), [&]<class T>() {
        conv_sq_sum<T>(cot, x, kernel_h, kernel_w, options, has_bias, diag);
    });
}

void channel_affine_jacobian_into(const Tensor& cot, const Tensor& xhat, const Tensor& out) {
    const AffineDims d = affine_dims(cot);
    if (d.n * d.k * d.c == 0) return;
    visit_floating(out.dtype(), [&]<class T>() {
        affine_full_kernel<T><<<grid_for(d.n * d.k * 2 * d.c), kBlockSize, 0, stream_for(out)>>>(
            d, cot.data<T>(), xhat.data<T>(), out.data<T>(), out.stride(0), out.stride(1));
        POSTR_CHECK_LAUNCH("affine_full_kernel");
    });
}

void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out) {
    const AffineDims d = affine_dims(cot);
    const i64 s_count = index.numel();
    if (d.n * d.k * s_count == 0) return;
    visit_floating(out.dtype(), [&]<class T>() {
        affine_subset_kernel<T><<<grid_for(d.n * d.k * s_count), kBlockSize, 0, stream_for(out)>>>(
            d, cot.data<T>(), xhat.data<T>(), index.data<i64>(), s_count, out.data<T>(),
            out.stride(0), out.stride(1));
        POSTR_CHECK_LAUNCH("affine_subset_kernel");
    });
}

void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag) {
    const AffineDims d = affine_dims(cot);
    if (d.c == 0) return;
    visit_floating(diag.dtype(), [&]<class T>() {
        affine_sq_sum_kernel<T><<<grid_for(2 * d.c), kBlockSize, 0, stream_for(diag)>>>(
            d, cot.data<T>(), xhat.data<T>(), diag.data<T>());
        POSTR_CHECK_LAUNCH("affine_sq_sum_kernel");
    });
}

}  // namespace postr::cuda
