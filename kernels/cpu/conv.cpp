// Convolution on the CPU by im2col + one BLAS GEMM per chunk of samples. im2col, col2im and the
// layout copies run on postr's pool; the GEMM runs on the caller's thread with BLAS's own
// threads (never BLAS inside the pool, which would oversubscribe the cores). Chunks are sized by
// memory only, so results do not depend on the thread count.
#include "postr/kernels/conv.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/blas.h"

namespace postr::cpu {
namespace {

using i64 = std::int64_t;

// Upper bound on one chunk's im2col buffer; also bounds the [C_out, nb, P] staging buffer.
constexpr i64 kColBytes = i64{64} << 20;
// Elements per parallel_for chunk for the memory-bound loops.
constexpr i64 kGrainElements = 1 << 14;

struct Geometry {
    i64 n, c_in, h, w, c_out, kh, kw, h_out, w_out;
    Conv2dOptions o;
    i64 k() const { return c_in * kh * kw; }
    i64 p() const { return h_out * w_out; }
    // A 1x1 kernel with stride 1 and no padding reads x_n itself as its im2col matrix.
    bool pointwise() const {
        return kh == 1 && kw == 1 && o.stride_h == 1 && o.stride_w == 1 && o.pad_h == 0 &&
               o.pad_w == 0;
    }
    // Samples per chunk so that K·nb·P and C_out·nb·P stay under kColBytes.
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
            o};
}

// Output positions [lo, hi) whose input coordinate out·stride + off lies in [0, size_in).
std::pair<i64, i64> valid_range(i64 size_out, i64 size_in, i64 stride, i64 off) {
    i64 lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    i64 hi = size_in - off - 1 >= 0 ? (size_in - off - 1) / stride + 1 : 0;
    lo = std::min(lo, size_out);
    hi = std::clamp(hi, lo, size_out);
    return {lo, hi};
}

int to_int(i64 v) {
    POSTR_CHECK(v <= INT_MAX, "conv2d: a GEMM dimension exceeds the BLAS integer range: ", v,
                ". Use a smaller batch or image");
    return static_cast<int>(v);
}

// Row-major C[m×n] ← α·op(A)·op(B) + β·C, tolerating empty dims (BLAS rejects leading dims 0).
template <class T>
void gemm(bool ta, bool tb, i64 m, i64 n, i64 k, const T* a, i64 lda, const T* b, i64 ldb, T beta,
          T* c, i64 ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (i64 i = 0; i < m; ++i)
            for (i64 j = 0; j < n; ++j)
                c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
        return;
    }
    blas::gemm_row_major<T>(ta, tb, to_int(m), to_int(n), to_int(k), T(1), a, to_int(lda), b,
                            to_int(ldb), beta, c, to_int(ldc));
}

// col: [K, nb, P] ← the receptive fields of samples [n0, n0 + nb) of x: [N, C_in, H, W].
template <class T>
void im2col(const Geometry& g, const T* x, i64 n0, i64 nb, T* col) {
    const i64 p = g.p(), rows = g.k() * nb;
    parallel_for(rows, std::max<i64>(1, kGrainElements / std::max<i64>(p, 1)), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            i64 j = r % nb, kk = r / nb;
            i64 kj = kk % g.kw, ki = (kk / g.kw) % g.kh, c = kk / (g.kw * g.kh);
            const T* plane = x + ((n0 + j) * g.c_in + c) * g.h * g.w;
            T* dst = col + r * p;
            i64 off_h = ki * g.o.dilation_h - g.o.pad_h, off_w = kj * g.o.dilation_w - g.o.pad_w;
            auto [oh0, oh1] = valid_range(g.h_out, g.h, g.o.stride_h, off_h);
            auto [ow0, ow1] = valid_range(g.w_out, g.w, g.o.stride_w, off_w);
            // Zeros only where the window falls outside the image; the rest is copied.
            std::fill(dst, dst + oh0 * g.w_out, T(0));
            for (i64 oh = oh0; oh < oh1; ++oh) {
                const T* src = plane + (oh * g.o.stride_h + off_h) * g.w;
                T* row = dst + oh * g.w_out;
                std::fill(row, row + ow0, T(0));
                if (g.o.stride_w == 1 && ow1 > ow0)
                    std::copy(src + ow0 + off_w, src + ow1 + off_w, row + ow0);
                else
                    for (i64 ow = ow0; ow < ow1; ++ow) row[ow] = src[ow * g.o.stride_w + off_w];
                std::fill(row + ow1, row + g.w_out, T(0));
            }
            std::fill(dst + oh1 * g.w_out, dst + p, T(0));
        }
    });
}

// grad_x planes of samples [n0, n0 + nb) ← the sum of their im2col entries in col: [K, nb, P].
// Each (sample, channel) plane gathers from its own rows in a fixed order: deterministic.
template <class T>
void col2im(const Geometry& g, const T* col, i64 n0, i64 nb, T* grad_x) {
    const i64 p = g.p(), plane_size = g.h * g.w;
    parallel_for(nb * g.c_in, std::max<i64>(1, kGrainElements / std::max<i64>(plane_size, 1)),
                 [&](i64 q0, i64 q1) {
                     for (i64 q = q0; q < q1; ++q) {
                         i64 j = q / g.c_in, c = q % g.c_in;
                         T* plane = grad_x + ((n0 + j) * g.c_in + c) * plane_size;
                         std::fill(plane, plane + plane_size, T(0));
                         for (i64 ki = 0; ki < g.kh; ++ki) {
                             for (i64 kj = 0; kj < g.kw; ++kj) {
                                 i64 kk = (c * g.kh + ki) * g.kw + kj;
                                 const T* src = col + (kk * nb + j) * p;
                                 i64 off_h = ki * g.o.dilation_h - g.o.pad_h;
                                 i64 off_w = kj * g.o.dilation_w - g.o.pad_w;
                                 auto [oh0, oh1] = valid_range(g.h_out, g.h, g.o.stride_h, off_h);
                                 auto [ow0, ow1] = valid_range(g.w_out, g.w, g.o.stride_w, off_w);
                                 const i64 sw = g.o.stride_w, len = ow1 - ow0;
                                 if (len == 0) continue;
                                 for (i64 oh = oh0; oh < oh1; ++oh) {
                                     // Distinct buffers: restrict lets the stride-1 case
                                     // vectorise without overlap checks.
                                     T* __restrict dst = plane + (oh * g.o.stride_h + off_h) * g.w +
                                                         ow0 * sw + off_w;
                                     const T* __restrict row = src + oh * g.w_out + ow0;
                                     if (sw == 1)
                                         for (i64 i = 0; i < len; ++i) dst[i] += row[i];
                                     else
                                         for (i64 i = 0; i < len; ++i) dst[i * sw] += row[i];
                                 }
                             }
                         }
                     }
                 });
}

// Moves [nb, C, P] blocks (samples n0.. of a [N, C, P] tensor) to [C, nb, P] or back, adding
// bias[c] when given.
template <class T>
void to_channel_major(const T* src, i64 c, i64 nb, i64 p, T* dst) {
    parallel_for(nb * c, std::max<i64>(1, kGrainElements / std::max<i64>(p, 1)),
                 [&](i64 r0, i64 r1) {
                     for (i64 r = r0; r < r1; ++r) {
                         i64 j = r / c, ch = r % c;
                         std::memcpy(dst + (ch * nb + j) * p, src + r * p, sizeof(T) * p);
                     }
                 });
}
template <class T>
void from_channel_major(const T* src, const T* bias, i64 c, i64 nb, i64 p, T* dst) {
    parallel_for(nb * c, std::max<i64>(1, kGrainElements / std::max<i64>(p, 1)),
                 [&](i64 r0, i64 r1) {
                     for (i64 r = r0; r < r1; ++r) {
                         i64 j = r / c, ch = r % c;
                         const T* s = src + (ch * nb + j) * p;
                         T* d = dst + r * p;
                         T b = bias ? bias[ch] : T(0);
                         for (i64 i = 0; i < p; ++i) d[i] = s[i] + b;
                     }
                 });
}

template <class T>
void add_bias(T* out, const T* bias, i64 n, i64 c, i64 p) {
    parallel_for(n * c, std::max<i64>(1, kGrainElements / std::max<i64>(p, 1)),
                 [&](i64 r0, i64 r1) {
                     for (i64 r = r0; r < r1; ++r)
                         for (i64 i = 0; i < p; ++i) out[r * p + i] += bias[r % c];
                 });
}

template <class T>
void conv2d_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                 const Tensor& out) {
    const Geometry g = geometry(x.shape(), weight.shape(), o);
    const T* xp = x.data<T>();
    const T* wp = weight.data<T>();  // [C_out, K]
    const T* bp = bias.defined() ? bias.data<T>() : nullptr;
    T* op = out.data<T>();
    const i64 k = g.k(), p = g.p();
    if (out.numel() == 0) return;
    if (g.pointwise()) {
        for (i64 n = 0; n < g.n; ++n)  // out_n [C_out, P] = W · x_n [C_in, P]
            gemm<T>(false, false, g.c_out, p, k, wp, k, xp + n * g.c_in * p, p, T(0),
                    op + n * g.c_out * p, p);
        if (bp) add_bias(op, bp, g.n, g.c_out, p);
        return;
    }
    const i64 nb_max = g.chunk(sizeof(T));
    Tensor col = Tensor::empty({k * nb_max * p}, x.dtype());        // [K, nb, P]
    Tensor tmp = Tensor::empty({g.c_out * nb_max * p}, x.dtype());  // [C_out, nb, P]
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        i64 nb = std::min(nb_max, g.n - n0);
        im2col(g, xp, n0, nb, col.data<T>());
        gemm<T>(false, false, g.c_out, nb * p, k, wp, k, col.data<T>(), nb * p, T(0), tmp.data<T>(),
                nb * p);
        from_channel_major(tmp.data<T>(), bp, g.c_out, nb, p, op + n0 * g.c_out * p);
    }
}

template <class T>
void backward_input_impl(const Tensor& grad_out, const Tensor& weight, const Conv2dOptions& o,
                         const Tensor& grad_x) {
    const Geometry g = geometry(grad_x.shape(), weight.shape(), o);
    const T* gp = grad_out.data<T>();
    const T* wp = weight.data<T>();
    T* gxp = grad_x.data<T>();
    const i64 k = g.k(), p = g.p();
    if (grad_x.numel() == 0) return;
    if (g.pointwise()) {
        for (i64 n = 0; n < g.n; ++n)  // grad_x_n [C_in, P] = Wᵀ · grad_out_n [C_out, P]
            gemm<T>(true, false, g.c_in, p, g.c_out, wp, k, gp + n * g.c_out * p, p, T(0),
                    gxp + n * g.c_in * p, p);
        return;
    }
    const i64 nb_max = g.chunk(sizeof(T));
    Tensor col = Tensor::empty({k * nb_max * p}, grad_x.dtype());           // [K, nb, P]
    Tensor staged = Tensor::empty({g.c_out * nb_max * p}, grad_x.dtype());  // [C_out, nb, P]
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        i64 nb = std::min(nb_max, g.n - n0);
        to_channel_major(gp + n0 * g.c_out * p, g.c_out, nb, p, staged.data<T>());
        gemm<T>(true, false, k, nb * p, g.c_out, wp, k, staged.data<T>(), nb * p, T(0),
                col.data<T>(), nb * p);
        col2im(g, col.data<T>(), n0, nb, gxp);
    }
}

template <class T>
void backward_weight_impl(const Tensor& grad_out, const Tensor& x, const Conv2dOptions& o,
                          const Tensor& grad_weight) {
    const Geometry g = geometry(x.shape(), grad_weight.shape(), o);
    const T* gp = grad_out.data<T>();
    const T* xp = x.data<T>();
    T* gwp = grad_weight.data<T>();  // [C_out, K]
    const i64 k = g.k(), p = g.p();
    if (grad_weight.numel() == 0) return;
    if (g.n == 0) {
        std::fill(gwp, gwp + grad_weight.numel(), T(0));
        return;
    }
    // The first GEMM overwrites grad_W (β = 0), the later ones accumulate: no zero fill.
    if (g.pointwise()) {
        for (i64 n = 0; n < g.n; ++n)  // grad_W += grad_out_n [C_out, P] · x_nᵀ [P, C_in]
            gemm<T>(false, true, g.c_out, k, p, gp + n * g.c_out * p, p, xp + n * g.c_in * p, p,
                    n == 0 ? T(0) : T(1), gwp, k);
        return;
    }
    const i64 nb_max = g.chunk(sizeof(T));
    Tensor col = Tensor::empty({k * nb_max * p}, x.dtype());           // [K, nb, P]
    Tensor staged = Tensor::empty({g.c_out * nb_max * p}, x.dtype());  // [C_out, nb, P]
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        i64 nb = std::min(nb_max, g.n - n0);
        im2col(g, xp, n0, nb, col.data<T>());
        to_channel_major(gp + n0 * g.c_out * p, g.c_out, nb, p, staged.data<T>());
        // grad_W [C_out, K] += staged [C_out, nb·P] · colᵀ [nb·P, K], chunks in sample order.
        gemm<T>(false, true, g.c_out, k, nb * p, staged.data<T>(), nb * p, col.data<T>(), nb * p,
                n0 == 0 ? T(0) : T(1), gwp, k);
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

}  // namespace postr::cpu
