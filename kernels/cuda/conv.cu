// Convolution on CUDA: im2col into a bounded buffer, then cuBLAS. The forward and the input
// gradient use one strided-batched GEMM per chunk of samples (the weight has batch stride 0);
// the weight gradient uses one GEMM per chunk over the merged (sample, position) axis. col2im
// gathers per input pixel (no atomics), so every result is deterministic.
#include <algorithm>
#include <climits>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/kernels/conv.h"
#include "postr/kernels/cuda/handles.h"
#include "postr/kernels/cuda/launch.cuh"

namespace postr::cuda {
namespace {

using i64 = std::int64_t;

// Upper bound on one chunk's im2col buffer (and on the staged grad_out of the weight gradient).
constexpr i64 kColBytes = i64{256} << 20;

struct Geometry {
    i64 n, c_in, h, w, c_out, kh, kw, h_out, w_out;
    i64 stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    __host__ __device__ i64 k() const { return c_in * kh * kw; }
    __host__ __device__ i64 p() const { return h_out * w_out; }
    bool pointwise() const {
        return kh == 1 && kw == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
    }
    i64 chunk(std::size_t item) const {
        i64 per_sample = std::max<i64>(1, std::max(k(), c_out) * p() * static_cast<i64>(item));
        return std::clamp<i64>(kColBytes / per_sample, 1, std::max<i64>(n, 1));
    }
};

Geometry geometry(const Shape& x, const Shape& w, const Conv2dOptions& o) {
    i64 eff_h = o.dilation_h * (w[2] - 1) + 1, eff_w = o.dilation_w * (w[3] - 1) + 1;
    return {x[0],
            x[1],
            x[2],
            x[3],
            w[0],
            w[2],
            w[3],
            (x[2] + 2 * o.pad_h - eff_h) / o.stride_h + 1,
            (x[3] + 2 * o.pad_w - eff_w) / o.stride_w + 1,
            o.stride_h,
            o.stride_w,
            o.pad_h,
            o.pad_w,
            o.dilation_h,
            o.dilation_w};
}

int to_int(i64 v) {
    POSTR_CHECK(v <= INT_MAX, "conv2d: a GEMM dimension exceeds the cuBLAS integer range: ", v,
                ". Use a smaller batch or image");
    return static_cast<int>(v);
}
int ld(i64 v) { return to_int(std::max<i64>(v, 1)); }

// col ← receptive fields of samples [n0, n0 + nb) of x: [N, C_in, H, W], laid out [nb, K, P]
// (sample_major, for the batched GEMMs) or [K, nb, P] (for the weight gradient).
template <class T>
__global__ void im2col_kernel(Geometry g, const T* x, i64 n0, i64 nb, bool sample_major, T* col) {
    const i64 k = g.k(), p = g.p(), total = k * nb * p;
    POSTR_GRID_STRIDE_LOOP(idx, total) {
        i64 pos = idx % p, r = idx / p;
        i64 j = sample_major ? r / k : r % nb;
        i64 kk = sample_major ? r % k : r / nb;
        i64 kj = kk % g.kw, ki = (kk / g.kw) % g.kh, c = kk / (g.kw * g.kh);
        i64 ih = (pos / g.w_out) * g.stride_h - g.pad_h + ki * g.dil_h;
        i64 iw = (pos % g.w_out) * g.stride_w - g.pad_w + kj * g.dil_w;
        bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        col[idx] = inside ? x[(((n0 + j) * g.c_in + c) * g.h + ih) * g.w + iw] : T(0);
    }
}

// grad_x of samples [n0, n0 + nb) ← Σ of their entries in col: [nb, K, P]. Each input pixel
// gathers its terms in (ki, kj) order, the order of the CPU twin's accumulation.
template <class T>
__global__ void col2im_kernel(Geometry g, const T* col, i64 n0, i64 nb, T* grad_x) {
    const i64 k = g.k(), p = g.p(), total = nb * g.c_in * g.h * g.w;
    POSTR_GRID_STRIDE_LOOP(idx, total) {
        i64 iw = idx % g.w, ih = (idx / g.w) % g.h;
        i64 c = (idx / (g.w * g.h)) % g.c_in, j = idx / (g.w * g.h * g.c_in);
        T s = 0;
        for (i64 ki = 0; ki < g.kh; ++ki) {
            i64 th = ih + g.pad_h - ki * g.dil_h;
            if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.h_out) continue;
            i64 oh = th / g.stride_h;
            for (i64 kj = 0; kj < g.kw; ++kj) {
                i64 tw = iw + g.pad_w - kj * g.dil_w;
                if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.w_out) continue;
                i64 ow = tw / g.stride_w;
                i64 kk = (c * g.kh + ki) * g.kw + kj;
                s += col[(j * k + kk) * p + oh * g.w_out + ow];
            }
        }
        grad_x[(n0 * g.c_in) * g.h * g.w + idx] = s;
    }
}

// staged: [C, nb, P] ← src: [nb, C, P].
template <class T>
__global__ void to_channel_major_kernel(const T* src, i64 c, i64 nb, i64 p, T* staged) {
    POSTR_GRID_STRIDE_LOOP(idx, c * nb * p) {
        i64 pos = idx % p, j = (idx / p) % nb, ch = idx / (p * nb);
        staged[idx] = src[(j * c + ch) * p + pos];
    }
}

// out: [N, C, P] += bias[c].
template <class T>
__global__ void add_bias_kernel(T* out, const T* bias, i64 c, i64 p, i64 total) {
    POSTR_GRID_STRIDE_LOOP(idx, total) { out[idx] += bias[(idx / p) % c]; }
}

// Column-major cuBLAS GEMMs, overloaded on the element type.
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const float* a, int lda, const float* b, int ldb, float beta, float* c,
                    int ldc) {
    const float one = 1;
    return cublasSgemm(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &beta, c, ldc);
}
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const double* a, int lda, const double* b, int ldb, double beta,
                    double* c, int ldc) {
    const double one = 1;
    return cublasDgemm(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &beta, c, ldc);
}
cublasStatus_t gemm_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const float* a, int lda, i64 sa, const float* b, int ldb,
                            i64 sb, float* c, int ldc, i64 sc, int batch) {
    const float one = 1, zero = 0;
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c,
                                     ldc, sc, batch);
}
cublasStatus_t gemm_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const double* a, int lda, i64 sa, const double* b,
                            int ldb, i64 sb, double* c, int ldc, i64 sc, int batch) {
    const double one = 1, zero = 0;
    return cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c,
                                     ldc, sc, batch);
}

// out_n [C_out, P] = W [C_out, K] · col_n [K, P] for nb samples; in column-major terms
// out_nᵀ (P×C_out) = col_nᵀ (P×K) · Wᵀ (K×C_out), the weight shared through batch stride 0.
template <class T>
void forward_gemm(cublasHandle_t h, const Geometry& g, const T* col, const T* w, T* out, i64 nb) {
    POSTR_CUBLAS_CHECK(gemm_batched(h, CUBLAS_OP_N, CUBLAS_OP_N, to_int(g.p()), to_int(g.c_out),
                                    to_int(g.k()), col, ld(g.p()), g.k() * g.p(), w, ld(g.k()), 0,
                                    out, ld(g.p()), g.c_out * g.p(), to_int(nb)));
}

// col_n [K, P] = Wᵀ [K, C_out] · grad_out_n [C_out, P] for nb samples.
template <class T>
void backward_input_gemm(cublasHandle_t h, const Geometry& g, const T* grad_out, const T* w, T* col,
                         i64 nb) {
    POSTR_CUBLAS_CHECK(gemm_batched(h, CUBLAS_OP_N, CUBLAS_OP_T, to_int(g.p()), to_int(g.k()),
                                    to_int(g.c_out), grad_out, ld(g.p()), g.c_out * g.p(), w,
                                    ld(g.k()), 0, col, ld(g.p()), g.k() * g.p(), to_int(nb)));
}

template <class T>
void conv2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                 const Tensor& out) {
    if (out.numel() == 0) return;
    const Geometry g = geometry(x.shape(), weight.shape(), o);
    cudaStream_t stream = stream_for(out);
    cublasHandle_t handle = cublas_handle(out.device().index);
    const T* xp = x.data<T>();
    const T* wp = weight.data<T>();
    T* op = out.data<T>();
    if (g.k() == 0) {
        POSTR_CUDA_CHECK(cudaMemsetAsync(op, 0, out.nbytes(), stream));
    } else if (g.pointwise()) {
        forward_gemm(handle, g, xp, wp, op, g.n);
    } else {
        const i64 nb_max = g.chunk(sizeof(T));
        Tensor col = Tensor::empty({nb_max * g.k() * g.p()}, x.dtype(), x.device());  // [nb, K, P]
        for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
            i64 nb = std::min(nb_max, g.n - n0);
            i64 total = nb * g.k() * g.p();
            im2col_kernel<T>
                <<<grid_for(total), kBlockSize, 0, stream>>>(g, xp, n0, nb, true, col.data<T>());
            POSTR_CHECK_LAUNCH("im2col_kernel");
            forward_gemm(handle, g, col.data<T>(), wp, op + n0 * g.c_out * g.p(), nb);
        }
    }
    if (bias.defined()) {
        add_bias_kernel<T><<<grid_for(out.numel()), kBlockSize, 0, stream>>>(
            op, bias.data<T>(), g.c_out, g.p(), out.numel());
        POSTR_CHECK_LAUNCH("add_bias_kernel");
    }
}

template <class T>
void backward_input_impl(const Tensor& grad_out, const Tensor& weight, const Conv2dOptions& o,
                         const Tensor& grad_x) {
    if (grad_x.numel() == 0) return;
    const Geometry g = geometry(grad_x.shape(), weight.shape(), o);
    cudaStream_t stream = stream_for(grad_x);
    cublasHandle_t handle = cublas_handle(grad_x.device().index);
    const T* gp = grad_out.data<T>();
    const T* wp = weight.data<T>();
    T* gxp = grad_x.data<T>();
    if (g.c_out == 0 || g.p() == 0) {
        POSTR_CUDA_CHECK(cudaMemsetAsync(gxp, 0, grad_x.nbytes(), stream));
        return;
    }
    if (g.pointwise()) {
        backward_input_gemm(handle, g, gp, wp, gxp, g.n);
        return;
    }
    const i64 nb_max = g.chunk(sizeof(T));
    Tensor col = Tensor::empty({nb_max * g.k() * g.p()}, grad_x.dtype(), grad_x.device());
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        i64 nb = std::min(nb_max, g.n - n0);
        backward_input_gemm(handle, g, gp + n0 * g.c_out * g.p(), wp, col.data<T>(), nb);
        i64 total = nb * g.c_in * g.h * g.w;
        col2im_kernel<T><<<grid_for(total), kBlockSize, 0, stream>>>(g, col.data<T>(), n0, nb, gxp);
        POSTR_CHECK_LAUNCH("col2im_kernel");
    }
}

template <class T>
void backward_weight_impl(const Tensor& grad_out, const Tensor& x, const Conv2dOptions& o,
                          const Tensor& grad_weight) {
    if (grad_weight.numel() == 0) return;
    const Geometry g = geometry(x.shape(), grad_weight.shape(), o);
    cudaStream_t stream = stream_for(grad_weight);
    cublasHandle_t handle = cublas_handle(grad_weight.device().index);
    T* gwp = grad_weight.data<T>();
    if (g.n == 0 || g.p() == 0) {
        POSTR_CUDA_CHECK(cudaMemsetAsync(gwp, 0, grad_weight.nbytes(), stream));
        return;
    }
    const i64 nb_max = g.chunk(sizeof(T));
    Tensor col = Tensor::empty({g.k() * nb_max * g.p()}, x.dtype(), x.device());  // [K, nb, P]
    Tensor staged =
        Tensor::empty({g.c_out * nb_max * g.p()}, x.dtype(), x.device());  // [C_out, nb, P]
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        i64 nb = std::min(nb_max, g.n - n0), q = nb * g.p();
        im2col_kernel<T><<<grid_for(g.k() * q), kBlockSize, 0, stream>>>(g, x.data<T>(), n0, nb,
                                                                         false, col.data<T>());
        POSTR_CHECK_LAUNCH("im2col_kernel");
        to_channel_major_kernel<T><<<grid_for(g.c_out * q), kBlockSize, 0, stream>>>(
            grad_out.data<T>() + n0 * g.c_out * g.p(), g.c_out, nb, g.p(), staged.data<T>());
        POSTR_CHECK_LAUNCH("to_channel_major_kernel");
        // grad_W [C_out, K] (+)= staged [C_out, nb·P] · colᵀ [nb·P, K], chunks in sample order.
        // Column-major: grad_Wᵀ (K×C_out) = op_T(col stored as nb·P×K) · staged stored as
        // nb·P×C_out.
        POSTR_CUBLAS_CHECK(gemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, to_int(g.k()), to_int(g.c_out),
                                to_int(q), col.data<T>(), ld(q), staged.data<T>(), ld(q),
                                n0 == 0 ? T(0) : T(1), gwp, ld(g.k())));
    }
}

}  // namespace

void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options,
            const Tensor& out) {
    visit_floating(x.dtype(), [&]<class T>() { conv2d_impl<T>(x, weight, bias, options, out); });
}

void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight,
                           const Conv2dOptions& options, const Tensor& grad_x) {
    visit_floating(grad_x.dtype(),
                   [&]<class T>() { backward_input_impl<T>(grad_out, weight, options, grad_x); });
}

void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dOptions& options,
                            const Tensor& grad_weight) {
    visit_floating(x.dtype(),
                   [&]<class T>() { backward_weight_impl<T>(grad_out, x, options, grad_weight); });
}

}  // namespace postr::cuda
