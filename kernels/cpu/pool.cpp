// Pooling on the CPU: one task per (sample, channel) plane, so every output and every gradient
// plane is produced by one thread in a fixed order (deterministic for any thread count).
#include "postr/kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"

namespace postr::cpu {
namespace {

using i64 = std::int64_t;

constexpr i64 kGrainElements = 1 << 14;

// Planes per parallel_for chunk for planes of `plane_size` elements.
i64 plane_grain(i64 plane_size) {
    return std::max<i64>(1, kGrainElements / std::max<i64>(plane_size, 1));
}

// PyTorch's adaptive window along one dim: [⌊i·in/out⌋, ⌈(i+1)·in/out⌉).
i64 adaptive_start(i64 i, i64 in, i64 out) { return (i * in) / out; }
i64 adaptive_end(i64 i, i64 in, i64 out) { return ((i + 1) * in + out - 1) / out; }

template <class T>
void max_pool_impl(const Tensor& x, const Pool2dOptions& o, const Tensor& out,
                   const Tensor& indices) {
    const i64 planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    const i64 h_out = out.size(2), w_out = out.size(3);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    i64* ip = indices.data<i64>();
    parallel_for(planes, plane_grain(h * w), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            const T* plane = xp + q * h * w;
            for (i64 oh = 0; oh < h_out; ++oh) {
                i64 h0 = std::max<i64>(oh * o.stride_h - o.pad_h, 0);
                i64 h1 = std::min<i64>(oh * o.stride_h - o.pad_h + o.kernel_h, h);
                for (i64 ow = 0; ow < w_out; ++ow) {
                    i64 w0 = std::max<i64>(ow * o.stride_w - o.pad_w, 0);
                    i64 w1 = std::min<i64>(ow * o.stride_w - o.pad_w + o.kernel_w, w);
                    T best = -std::numeric_limits<T>::infinity();
                    i64 arg = h0 * w + w0;
                    // Strict > keeps the first maximum in row-major order; NaN wins and stays.
                    for (i64 ih = h0; ih < h1; ++ih)
                        for (i64 iw = w0; iw < w1; ++iw) {
                            T v = plane[ih * w + iw];
                            if (v > best || (std::isnan(v) && !std::isnan(best))) {
                                best = v;
                                arg = ih * w + iw;
                            }
                        }
                    op[(q * h_out + oh) * w_out + ow] = best;
                    ip[(q * h_out + oh) * w_out + ow] = arg;
                }
            }
        }
    });
}

template <class T>
void max_pool_backward_impl(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x) {
    const i64 planes = grad_x.size(0) * grad_x.size(1),
              plane_size = grad_x.size(2) * grad_x.size(3);
    const i64 out_size = grad_out.size(2) * grad_out.size(3);
    const T* gp = grad_out.data<T>();
    const i64* ip = indices.data<i64>();
    T* gxp = grad_x.data<T>();
    parallel_for(planes, plane_grain(plane_size + out_size), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            T* plane = gxp + q * plane_size;
            std::fill(plane, plane + plane_size, T(0));
            for (i64 i = q * out_size; i < (q + 1) * out_size; ++i) {
                POSTR_CHECK(ip[i] >= 0 && ip[i] < plane_size, "max_pool2d_backward: indices holds ",
                            ip[i], ", outside the input plane of ", plane_size,
                            " elements. Pass the indices max_pool2d returned for this input");
                plane[ip[i]] += gp[i];
            }
        }
    });
}

template <class T>
void avg_pool_impl(const Tensor& x, const Pool2dOptions& o, const Tensor& out) {
    const i64 planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    const i64 h_out = out.size(2), w_out = out.size(3);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    // Padding counts as zeros in the divisor, and floor-mode windows never leave the padded
    // input, so the divisor is always the full kernel area.
    const T inv_area = T(1) / static_cast<T>(o.kernel_h * o.kernel_w);
    parallel_for(planes, plane_grain(h * w), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            const T* plane = xp + q * h * w;
            for (i64 oh = 0; oh < h_out; ++oh) {
                i64 h0 = std::max<i64>(oh * o.stride_h - o.pad_h, 0);
                i64 h1 = std::min<i64>(oh * o.stride_h - o.pad_h + o.kernel_h, h);
                for (i64 ow = 0; ow < w_out; ++ow) {
                    i64 w0 = std::max<i64>(ow * o.stride_w - o.pad_w, 0);
                    i64 w1 = std::min<i64>(ow * o.stride_w - o.pad_w + o.kernel_w, w);
                    T s = 0;
                    for (i64 ih = h0; ih < h1; ++ih)
                        for (i64 iw = w0; iw < w1; ++iw) s += plane[ih * w + iw];
                    op[(q * h_out + oh) * w_out + ow] = s * inv_area;
                }
            }
        }
    });
}

template <class T>
void avg_pool_backward_impl(const Tensor& grad_out, const Pool2dOptions& o, const Tensor& grad_x) {
    const i64 planes = grad_x.size(0) * grad_x.size(1), h = grad_x.size(2), w = grad_x.size(3);
    const i64 h_out = grad_out.size(2), w_out = grad_out.size(3);
    const T* gp = grad_out.data<T>();
    T* gxp = grad_x.data<T>();
    const T inv_area = T(1) / static_cast<T>(o.kernel_h * o.kernel_w);
    parallel_for(planes, plane_grain(h * w), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            T* plane = gxp + q * h * w;
            std::fill(plane, plane + h * w, T(0));
            for (i64 oh = 0; oh < h_out; ++oh) {
                i64 h0 = std::max<i64>(oh * o.stride_h - o.pad_h, 0);
                i64 h1 = std::min<i64>(oh * o.stride_h - o.pad_h + o.kernel_h, h);
                for (i64 ow = 0; ow < w_out; ++ow) {
                    i64 w0 = std::max<i64>(ow * o.stride_w - o.pad_w, 0);
                    i64 w1 = std::min<i64>(ow * o.stride_w - o.pad_w + o.kernel_w, w);
                    T v = gp[(q * h_out + oh) * w_out + ow] * inv_area;
                    for (i64 ih = h0; ih < h1; ++ih)
                        for (i64 iw = w0; iw < w1; ++iw) plane[ih * w + iw] += v;
                }
            }
        }
    });
}

template <class T>
void adaptive_impl(const Tensor& x, const Tensor& out) {
    const i64 planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
    const i64 h_out = out.size(2), w_out = out.size(3);
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    parallel_for(planes, plane_grain(h * w), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            const T* plane = xp + q * h * w;
            for (i64 oh = 0; oh < h_out; ++oh) {
                i64 h0 = adaptive_start(oh, h, h_out), h1 = adaptive_end(oh, h, h_out);
                for (i64 ow = 0; ow < w_out; ++ow) {
                    i64 w0 = adaptive_start(ow, w, w_out), w1 = adaptive_end(ow, w, w_out);
                    T s = 0;
                    for (i64 ih = h0; ih < h1; ++ih)
                        for (i64 iw = w0; iw < w1; ++iw) s += plane[ih * w + iw];
                    op[(q * h_out + oh) * w_out + ow] = s / static_cast<T>((h1 - h0) * (w1 - w0));
                }
            }
        }
    });
}

template <class T>
void adaptive_backward_impl(const Tensor& grad_out, const Tensor& grad_x) {
    const i64 planes = grad_x.size(0) * grad_x.size(1), h = grad_x.size(2), w = grad_x.size(3);
    const i64 h_out = grad_out.size(2), w_out = grad_out.size(3);
    const T* gp = grad_out.data<T>();
    T* gxp = grad_x.data<T>();
    parallel_for(planes, plane_grain(h * w), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            T* plane = gxp + q * h * w;
            std::fill(plane, plane + h * w, T(0));
            for (i64 oh = 0; oh < h_out; ++oh) {
                i64 h0 = adaptive_start(oh, h, h_out), h1 = adaptive_end(oh, h, h_out);
                for (i64 ow = 0; ow < w_out; ++ow) {
                    i64 w0 = adaptive_start(ow, w, w_out), w1 = adaptive_end(ow, w, w_out);
                    T v = gp[(q * h_out + oh) * w_out + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
                    for (i64 ih = h0; ih < h1; ++ih)
                        for (i64 iw = w0; iw < w1; ++iw) plane[ih * w + iw] += v;
                }
            }
        }
    });
}

}  // namespace

void max_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out,
                const Tensor& indices) {
    visit_floating(x.dtype(), [&]<class T>() { max_pool_impl<T>(x, options, out, indices); });
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x) {
    visit_floating(grad_x.dtype(),
                   [&]<class T>() { max_pool_backward_impl<T>(grad_out, indices, grad_x); });
}

void avg_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out) {
    visit_floating(x.dtype(), [&]<class T>() { avg_pool_impl<T>(x, options, out); });
}

void avg_pool2d_backward(const Tensor& grad_out, const Pool2dOptions& options,
                         const Tensor& grad_x) {
    visit_floating(grad_x.dtype(),
                   [&]<class T>() { avg_pool_backward_impl<T>(grad_out, options, grad_x); });
}

void adaptive_avg_pool2d(const Tensor& x, const Tensor& out) {
    visit_floating(x.dtype(), [&]<class T>() { adaptive_impl<T>(x, out); });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
    visit_floating(grad_x.dtype(), [&]<class T>() { adaptive_backward_impl<T>(grad_out, grad_x); });
}

}  // namespace postr::cpu
