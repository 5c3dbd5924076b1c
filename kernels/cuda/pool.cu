// Pooling on CUDA: one thread per output element for the forward ops; the average-pool
// gradients gather per input pixel in the CPU twin's order (deterministic, bitwise equal to it).
// The max-pool gradient scatters with atomicAdd, because the indices alone do not say which
// windows cover a pixel: with stride >= kernel each pixel receives at most one term and the
// result is exact; with overlapping windows the order of the (few) additions may vary.
#include <cstdint>

#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/pool.h"

namespace postr::cuda {
namespace {

using i64 = std::int64_t;

struct Dims {
    i64 planes, h, w, h_out, w_out;
};
Dims dims_of(const Tensor& in, const Tensor& out) {
    return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3)};
}

struct Window {
    i64 kh, kw, sh, sw, ph, pw;
};
Window window_of(const Pool2dOptions& o) {
    return {o.kernel_h, o.kernel_w, o.stride_h, o.stride_w, o.pad_h, o.pad_w};
}

__device__ i64 max64(i64 a, i64 b) { return a > b ? a : b; }
__device__ i64 min64(i64 a, i64 b) { return a < b ? a : b; }
__device__ i64 adaptive_start(i64 i, i64 in, i64 out) { return (i * in) / out; }
__device__ i64 adaptive_end(i64 i, i64 in, i64 out) { return ((i + 1) * in + out - 1) / out; }

template <class T>
__global__ void max_pool_kernel(Dims d, Window k, const T* x, T* out, i64* indices) {
    POSTR_GRID_STRIDE_LOOP(idx, d.planes * d.h_out * d.w_out) {
        i64 ow = idx % d.w_out, oh = (idx / d.w_out) % d.h_out, q = idx / (d.w_out * d.h_out);
        i64 h0 = max64(oh * k.sh - k.ph, 0), h1 = min64(oh * k.sh - k.ph + k.kh, d.h);
        i64 w0 = max64(ow * k.sw - k.pw, 0), w1 = min64(ow * k.sw - k.pw + k.kw, d.w);
        const T* plane = x + q * d.h * d.w;
        T best = -INFINITY;
        i64 arg = h0 * d.w + w0;
        // Strict > keeps the first maximum in row-major order; NaN wins and stays (as the CPU).
        for (i64 ih = h0; ih < h1; ++ih)
            for (i64 iw = w0; iw < w1; ++iw) {
                T v = plane[ih * d.w + iw];
                if (v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    arg = ih * d.w + iw;
                }
            }
        out[idx] = best;
        indices[idx] = arg;
    }
}

template <class T>
__global__ void max_pool_backward_kernel(i64 total, i64 out_plane, i64 plane, const T* grad_out,
                                         const i64* indices, T* grad_x) {
    POSTR_GRID_STRIDE_LOOP(idx, total) {
        i64 target = indices[idx];
        // Out-of-range indices (not from max_pool2d) are dropped rather than written out of bounds.
        if (target >= 0 && target < plane)
            atomicAdd(grad_x + (idx / out_plane) * plane + target, grad_out[idx]);
    }
}

template <class T>
__global__ void avg_pool_kernel(Dims d, Window k, const T* x, T* out) {
    const T inv_area = T(1) / static_cast<T>(k.kh * k.kw);
    POSTR_GRID_STRIDE_LOOP(idx, d.planes * d.h_out * d.w_out) {
        i64 ow = idx % d.w_out, oh = (idx / d.w_out) % d.h_out, q = idx / (d.w_out * d.h_out);
        i64 h0 = max64(oh * k.sh - k.ph, 0), h1 = min64(oh * k.sh - k.ph + k.kh, d.h);
        i64 w0 = max64(ow * k.sw - k.pw, 0), w1 = min64(ow * k.sw - k.pw + k.kw, d.w);
        const T* plane = x + q * d.h * d.w;
        T s = 0;
        for (i64 ih = h0; ih < h1; ++ih)
            for (i64 iw = w0; iw < w1; ++iw) s += plane[ih * d.w + iw];
        out[idx] = s * inv_area;
    }
}

// Windows covering pixel i along one dim: o with o·s − p ≤ i < o·s − p + k.
__device__ void covering(i64 i, i64 k, i64 s, i64 p, i64 n_out, i64& lo, i64& hi) {
    i64 t = i + p - k + 1;  // o·s ≥ t
    lo = t <= 0 ? 0 : (t + s - 1) / s;
    hi = min64((i + p) / s + 1, n_out);  // o·s ≤ i + p
}

template <class T>
__global__ void avg_pool_backward_kernel(Dims d, Window k, const T* grad_out, T* grad_x) {
    const T inv_area = T(1) / static_cast<T>(k.kh * k.kw);
    POSTR_GRID_STRIDE_LOOP(idx, d.planes * d.h * d.w) {
        i64 iw = idx % d.w, ih = (idx / d.w) % d.h, q = idx / (d.w * d.h);
        i64 oh0, oh1, ow0, ow1;
        covering(ih, k.kh, k.sh, k.ph, d.h_out, oh0, oh1);
        covering(iw, k.kw, k.sw, k.pw, d.w_out, ow0, ow1);
        const T* g = grad_out + q * d.h_out * d.w_out;
        T s = 0;
        for (i64 oh = oh0; oh < oh1; ++oh)
            for (i64 ow = ow0; ow < ow1; ++ow) s += g[oh * d.w_out + ow] * inv_area;
        grad_x[idx] = s;
    }
}

template <class T>
__global__ void adaptive_kernel(Dims d, const T* x, T* out) {
    POSTR_GRID_STRIDE_LOOP(idx, d.planes * d.h_out * d.w_out) {
        i64 ow = idx % d.w_out, oh = (idx / d.w_out) % d.h_out, q = idx / (d.w_out * d.h_out);
        i64 h0 = adaptive_start(oh, d.h, d.h_out), h1 = adaptive_end(oh, d.h, d.h_out);
        i64 w0 = adaptive_start(ow, d.w, d.w_out), w1 = adaptive_end(ow, d.w, d.w_out);
        const T* plane = x + q * d.h * d.w;
        T s = 0;
        for (i64 ih = h0; ih < h1; ++ih)
            for (i64 iw = w0; iw < w1; ++iw) s += plane[ih * d.w + iw];
        out[idx] = s / static_cast<T>((h1 - h0) * (w1 - w0));
    }
}

template <class T>
__global__ void adaptive_backward_kernel(Dims d, const T* grad_out, T* grad_x) {
    POSTR_GRID_STRIDE_LOOP(idx, d.planes * d.h * d.w) {
        i64 iw = idx % d.w, ih = (idx / d.w) % d.h, q = idx / (d.w * d.h);
        // Candidate windows [⌊i·out/in⌋, ⌈(i+1)·out/in⌉), each checked against the exact rule.
        i64 oh0 = (ih * d.h_out) / d.h, oh1 = min64(((ih + 1) * d.h_out + d.h - 1) / d.h, d.h_out);
        i64 ow0 = (iw * d.w_out) / d.w, ow1 = min64(((iw + 1) * d.w_out + d.w - 1) / d.w, d.w_out);
        const T* g = grad_out + q * d.h_out * d.w_out;
        T s = 0;
        for (i64 oh = oh0; oh < oh1; ++oh) {
            i64 h0 = adaptive_start(oh, d.h, d.h_out), h1 = adaptive_end(oh, d.h, d.h_out);
            if (ih < h0 || ih >= h1) continue;
            for (i64 ow = ow0; ow < ow1; ++ow) {
                i64 w0 = adaptive_start(ow, d.w, d.w_out), w1 = adaptive_end(ow, d.w, d.w_out);
                if (iw < w0 || iw >= w1) continue;
                s += g[oh * d.w_out + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
            }
        }
        grad_x[idx] = s;
    }
}

}  // namespace

void max_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out,
                const Tensor& indices) {
    if (out.numel() == 0) return;
    visit_floating(x.dtype(), [&]<class T>() {
        max_pool_kernel<T><<<grid_for(out.numel()), kBlockSize, 0, stream_for(out)>>>(
            dims_of(x, out), window_of(options), x.data<T>(), out.data<T>(),
            indices.data<std::int64_t>());
        POSTR_CHECK_LAUNCH("max_pool_kernel");
    });
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x) {
    if (grad_x.numel() == 0) return;
    cudaStream_t stream = stream_for(grad_x);
    POSTR_CUDA_CHECK(cudaMemsetAsync(grad_x.data_ptr(), 0, grad_x.nbytes(), stream));
    if (grad_out.numel() == 0) return;
    visit_floating(grad_x.dtype(), [&]<class T>() {
        max_pool_backward_kernel<T><<<grid_for(grad_out.numel()), kBlockSize, 0, stream>>>(
            grad_out.numel(), grad_out.size(2) * grad_out.size(3), grad_x.size(2) * grad_x.size(3),
            grad_out.data<T>(), indices.data<std::int64_t>(), grad_x.data<T>());
        POSTR_CHECK_LAUNCH("max_pool_backward_kernel");
    });
}

void avg_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out) {
    if (out.numel() == 0) return;
    visit_floating(x.dtype(), [&]<class T>() {
        avg_pool_kernel<T><<<grid_for(out.numel()), kBlockSize, 0, stream_for(out)>>>(
            dims_of(x, out), window_of(options), x.data<T>(), out.data<T>());
        POSTR_CHECK_LAUNCH("avg_pool_kernel");
    });
}

void avg_pool2d_backward(const Tensor& grad_out, const Pool2dOptions& options,
                         const Tensor& grad_x) {
    if (grad_x.numel() == 0) return;
    visit_floating(grad_x.dtype(), [&]<class T>() {
        avg_pool_backward_kernel<T>
            <<<grid_for(grad_x.numel()), kBlockSize, 0, stream_for(grad_x)>>>(
                dims_of(grad_x, grad_out), window_of(options), grad_out.data<T>(),
                grad_x.data<T>());
        POSTR_CHECK_LAUNCH("avg_pool_backward_kernel");
    });
}

void adaptive_avg_pool2d(const Tensor& x, const Tensor& out) {
    if (out.numel() == 0) return;
    visit_floating(x.dtype(), [&]<class T>() {
        adaptive_kernel<T><<<grid_for(out.numel()), kBlockSize, 0, stream_for(out)>>>(
            dims_of(x, out), x.data<T>(), out.data<T>());
        POSTR_CHECK_LAUNCH("adaptive_kernel");
    });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
    if (grad_x.numel() == 0) return;
    visit_floating(grad_x.dtype(), [&]<class T>() {
        adaptive_backward_kernel<T>
            <<<grid_for(grad_x.numel()), kBlockSize, 0, stream_for(grad_x)>>>(
                dims_of(grad_x, grad_out), grad_out.data<T>(), grad_x.data<T>());
        POSTR_CHECK_LAUNCH("adaptive_backward_kernel");
    });
}

}  // namespace postr::cuda
