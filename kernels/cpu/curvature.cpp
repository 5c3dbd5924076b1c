// Per-layer curvature kernels on the CPU. The full forms write each output row once, in
// parallel over (n, k) rows (Linear, channel affine) or with one BLAS GEMM per (n, k) straight
// into the output's strides (Conv2d, after a per-sample im2col on the pool). Chunks depend only
// on the sizes, and every sum runs in a fixed order, so results do not depend on the thread count.
#include "postr/kernels/curvature.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/blas.h"

namespace postr::cpu {
namespace {

using i64 = std::int64_t;

// About this many output elements per parallel_for chunk: large enough to amortize the
// scheduling, small enough that 1,280 rows of a few thousand elements spread over the cores.
constexpr i64 kGrainElements = i64{1} << 15;
// Bound on the per-sample Jacobian buffer of conv2d_jacobian_sq_sum_.
constexpr i64 kBufferBytes = i64{64} << 20;
// Columns accumulated at once by the sum of squares (a stack-sized accumulator).
constexpr i64 kColumnBlock = 512;

i64 grain_rows(i64 row_len) { return std::max<i64>(1, kGrainElements / std::max<i64>(row_len, 1)); }

// The [N, K, ·] output: row (n, k) starts at base + n·s0 + k·s1 and has unit stride.
template <class T>
struct Rows {
    T* base;
    i64 s0, s1;
    T* row(i64 n, i64 k) const { return base + n * s0 + k * s1; }
};
template <class T>
Rows<T> rows_of(const Tensor& out) {
    return {out.data<T>(), out.stride(0), out.stride(1)};
}

std::vector<i64> index_values(const Tensor& index) {
    const i64* p = index.data<i64>();
    return std::vector<i64>(p, p + index.numel());
}

int to_int(i64 v) {
    POSTR_CHECK(v <= INT_MAX,
                "conv2d_jacobian: a GEMM dimension exceeds the BLAS integer range: ", v,
                ". Use a smaller layer or image");
    return static_cast<int>(v);
}

// Row-major C[m×n] ← op(A)·op(B) + β·C, tolerating empty dims (BLAS rejects leading dims 0).
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
    blas::gemm_row_major<T>(ta, tb, to_int(m), to_int(n), to_int(k), T(1), a,
                            to_int(std::max<i64>(lda, 1)), b, to_int(std::max<i64>(ldb, 1)), beta,
                            c, to_int(std::max<i64>(ldc, 1)));
}

// dst[i] = c·src[i], i < n, two 16-byte vectors at a time. GCC's vector extension rather than
// relying on the auto-vectorizer: at -O2 (RelWithDebInfo) GCC 12 leaves the plain loop scalar,
// and this loop is the whole cost of the MLP Jacobian (cpu/jacobian_mlp) besides memory.
typedef float VecF __attribute__((vector_size(16)));
typedef double VecD __attribute__((vector_size(16)));
template <class T>
void scale_copy(T* dst, const T* src, T c, i64 n) {
    using V = std::conditional_t<std::is_same_v<T, float>, VecF, VecD>;
    constexpr i64 kLanes = 16 / sizeof(T);
    i64 i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
        V v0, v1;
        std::memcpy(&v0, src + i, sizeof(V));
        std::memcpy(&v1, src + i + kLanes, sizeof(V));
        v0 *= c;
        v1 *= c;
        std::memcpy(dst + i, &v0, sizeof(V));
        std::memcpy(dst + i + kLanes, &v1, sizeof(V));
    }
    for (; i < n; ++i) dst[i] = c * src[i];
}

template <class T>
T dot(const T* a, const T* b, i64 n) {
    T s = 0;
    for (i64 i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
template <class T>
T sum(const T* a, i64 n) {
    T s = 0;
    for (i64 i = 0; i < n; ++i) s += a[i];
    return s;
}

// diag[p] += Σ_r buf[r·P + p]² over rows r = 0..rows−1, in row order for every p.
template <class T>
void add_column_squares(const T* buf, i64 rows, i64 p_count, T* diag) {
    parallel_for(p_count, kColumnBlock, [&](i64 p0, i64 p1) {
        T acc[kColumnBlock] = {};
        const i64 w = p1 - p0;
        for (i64 r = 0; r < rows; ++r) {
            const T* src = buf + r * p_count + p0;
            for (i64 j = 0; j < w; ++j) acc[j] += src[j] * src[j];
        }
        for (i64 j = 0; j < w; ++j) diag[p0 + j] += acc[j];
    });
}

// ---- Linear ---------------------------------------------------------------------------------

struct LinearDims {
    i64 k, n, o, i;
    i64 weights() const { return o * i; }
};
LinearDims linear_dims(const Tensor& cot, const Tensor& x) {
    return {cot.size(0), cot.size(1), cot.size(2), x.size(1)};
}

template <class T>
void linear_full(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out) {
    const LinearDims d = linear_dims(cot, x);
    const T* cp = cot.data<T>();  // [K, N, O]
    const T* xp = x.data<T>();    // [N, I]
    const Rows<T> rows = rows_of<T>(out);
    const i64 row_len = d.weights() + (has_bias ? d.o : 0);
    parallel_for(d.n * d.k, grain_rows(row_len), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            const i64 n = r / d.k, k = r % d.k;
            const T* c = cp + (k * d.n + n) * d.o;
            const T* xr = xp + n * d.i;
            T* dst = rows.row(n, k);
            // The outer product cot[k, n] ⊗ x[n], one scaled copy of x[n] per o.
            for (i64 o = 0; o < d.o; ++o) scale_copy(dst + o * d.i, xr, c[o], d.i);
            if (has_bias)
                for (i64 o = 0; o < d.o; ++o) dst[d.weights() + o] = c[o];
        }
    });
}

template <class T>
void linear_subset(const Tensor& cot, const Tensor& x, const Tensor& index, const Tensor& out) {
    const LinearDims d = linear_dims(cot, x);
    const T* cp = cot.data<T>();
    const T* xp = x.data<T>();
    const Rows<T> rows = rows_of<T>(out);
    // Decoded once: the output unit o of each column, and its input unit i (−1 for a bias).
    const std::vector<i64> idx = index_values(index);
    const i64 s_count = static_cast<i64>(idx.size());
    std::vector<i64> unit_o(idx.size()), unit_i(idx.size());
    for (std::size_t s = 0; s < idx.size(); ++s) {
        const bool weight = idx[s] < d.weights();
        unit_o[s] = weight ? idx[s] / d.i : idx[s] - d.weights();
        unit_i[s] = weight ? idx[s] % d.i : -1;
    }
    parallel_for(d.n * d.k, grain_rows(s_count), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            const i64 n = r / d.k, k = r % d.k;
            const T* c = cp + (k * d.n + n) * d.o;
            const T* xr = xp + n * d.i;
            T* dst = rows.row(n, k);
            for (i64 s = 0; s < s_count; ++s)
                dst[s] = unit_i[s] >= 0 ? c[unit_o[s]] * xr[unit_i[s]] : c[unit_o[s]];
        }
    });
}

// Σ_n Σ_k (cot[k,n,o]·x[n,i])² = Σ_n a[n,o]·x[n,i]², a[n,o] = Σ_k cot[k,n,o]²: one GEMM.
template <class T>
void linear_sq_sum(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& diag) {
    const LinearDims d = linear_dims(cot, x);
    const T* cp = cot.data<T>();
    const T* xp = x.data<T>();
    T* dp = diag.data<T>();
    std::vector<T> a(static_cast<std::size_t>(d.n * d.o), T(0));   // [N, O]
    std::vector<T> x2(static_cast<std::size_t>(d.n * d.i), T(0));  // [N, I]
    parallel_for(d.n, grain_rows(d.k * d.o + d.i), [&](i64 n0, i64 n1) {
        for (i64 n = n0; n < n1; ++n) {
            T* an = a.data() + n * d.o;
            for (i64 k = 0; k < d.k; ++k) {
                const T* c = cp + (k * d.n + n) * d.o;
                for (i64 o = 0; o < d.o; ++o) an[o] += c[o] * c[o];
            }
            for (i64 i = 0; i < d.i; ++i) x2[n * d.i + i] = xp[n * d.i + i] * xp[n * d.i + i];
        }
    });
    // diag_W [O, I] += aᵀ [O, N] · x² [N, I]
    gemm<T>(true, false, d.o, d.i, d.n, a.data(), d.o, x2.data(), d.i, T(1), dp, d.i);
    if (has_bias)
        for (i64 o = 0; o < d.o; ++o) {
            T s = 0;
            for (i64 n = 0; n < d.n; ++n) s += a[n * d.o + o];
            dp[d.weights() + o] += s;
        }
}

// ---- Conv2d ---------------------------------------------------------------------------------

struct ConvGeometry {
    i64 k, n, o, c_in, h, w, kh, kw, h_out, w_out;
    Conv2dOptions opt;
    i64 q() const { return c_in * kh * kw; }  // weights per output channel
    i64 hw() const { return h_out * w_out; }
    i64 weights() const { return o * q(); }
};
ConvGeometry conv_geometry(const Tensor& cot, const Tensor& x, i64 kh, i64 kw,
                           const Conv2dOptions& opt) {
    return {cot.size(0), cot.size(1), cot.size(2), x.size(1),   x.size(2), x.size(3),
            kh,          kw,          cot.size(3), cot.size(4), opt};
}

// Output positions [lo, hi) whose input coordinate out·stride + off lies in [0, size_in).
std::pair<i64, i64> valid_range(i64 size_out, i64 size_in, i64 stride, i64 off) {
    i64 lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    i64 hi = size_in - off - 1 >= 0 ? (size_in - off - 1) / stride + 1 : 0;
    lo = std::min(lo, size_out);
    hi = std::clamp(hi, lo, size_out);
    return {lo, hi};
}

// dst [H_out·W_out] ← xpad[i, h·s_h + a·d_h, w·s_w + b·d_w] over the output grid, from the
// plane of one input channel, zeros where the kernel tap falls in the padding.
template <class T>
void gather_tap(const ConvGeometry& g, const T* plane, i64 a, i64 b, T* dst) {
    const i64 off_h = a * g.opt.dilation_h - g.opt.pad_h,
              off_w = b * g.opt.dilation_w - g.opt.pad_w;
    auto [oh0, oh1] = valid_range(g.h_out, g.h, g.opt.stride_h, off_h);
    auto [ow0, ow1] = valid_range(g.w_out, g.w, g.opt.stride_w, off_w);
    std::fill(dst, dst + g.hw(), T(0));
    for (i64 oh = oh0; oh < oh1; ++oh) {
        const T* src = plane + (oh * g.opt.stride_h + off_h) * g.w;
        T* row = dst + oh * g.w_out;
        for (i64 ow = ow0; ow < ow1; ++ow) row[ow] = src[ow * g.opt.stride_w + off_w];
    }
}

// col [Q, H_out·W_out] ← the receptive fields of sample n.
template <class T>
void im2col_sample(const ConvGeometry& g, const T* x, i64 n, T* col) {
    const i64 hw = g.hw();
    parallel_for(g.q(), grain_rows(hw), [&](i64 q0, i64 q1) {
        for (i64 q = q0; q < q1; ++q) {
            const i64 b = q % g.kw, a = (q / g.kw) % g.kh, c = q / (g.kw * g.kh);
            gather_tap(g, x + (n * g.c_in + c) * g.h * g.w, a, b, col + q * hw);
        }
    });
}

// Rows (n, k) of samples [n0, n1), written to rows.row(n − n0, k): the weight block by one GEMM
// per (n, k), out[n, k] as [O, Q] (ld Q) = cot[k, n] [O, HW] · col_nᵀ [HW, Q]; then the bias sums.
template <class T>
void conv_full_range(const ConvGeometry& g, const T* cp, const T* xp, bool has_bias, i64 n0, i64 n1,
                     const Rows<T>& rows, T* col) {
    const i64 hw = g.hw(), q = g.q();
    for (i64 n = n0; n < n1; ++n) {
        im2col_sample(g, xp, n, col);
        for (i64 k = 0; k < g.k; ++k)
            gemm<T>(false, true, g.o, q, hw, cp + (k * g.n + n) * g.o * hw, hw, col, hw, T(0),
                    rows.row(n - n0, k), q);
    }
    if (!has_bias) return;
    parallel_for((n1 - n0) * g.k, grain_rows(g.o * hw), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            const i64 n = n0 + r / g.k, k = r % g.k;
            const T* c = cp + (k * g.n + n) * g.o * hw;
            T* dst = rows.row(n - n0, k) + g.weights();
            for (i64 o = 0; o < g.o; ++o) dst[o] = sum(c + o * hw, hw);
        }
    });
}

template <class T>
void conv_full(const Tensor& cot, const Tensor& x, i64 kh, i64 kw, const Conv2dOptions& opt,
               bool has_bias, const Tensor& out) {
    const ConvGeometry g = conv_geometry(cot, x, kh, kw, opt);
    if (g.n == 0 || g.k == 0) return;
    std::vector<T> col(static_cast<std::size_t>(g.q() * g.hw()));  // [Q, HW], reused per sample
    conv_full_range<T>(g, cot.data<T>(), x.data<T>(), has_bias, 0, g.n, rows_of<T>(out),
                       col.data());
}

// Each selected column straight from x: gather its tap plane once per (n, s), then one dot
// product per k. Costs N·S·(K + 1)·HW, far below the full block's unfold when S ≪ P.
template <class T>
void conv_subset(const Tensor& cot, const Tensor& x, i64 kh, i64 kw, const Conv2dOptions& opt,
                 const Tensor& index, const Tensor& out) {
    const ConvGeometry g = conv_geometry(cot, x, kh, kw, opt);
    const T* cp = cot.data<T>();
    const T* xp = x.data<T>();
    const Rows<T> rows = rows_of<T>(out);
    const std::vector<i64> idx = index_values(index);
    const i64 s_count = static_cast<i64>(idx.size()), hw = g.hw(), q = g.q();
    parallel_for(g.n * s_count, grain_rows(g.k * hw), [&](i64 t0, i64 t1) {
        std::vector<T> tap(static_cast<std::size_t>(hw));
        for (i64 t = t0; t < t1; ++t) {
            const i64 n = t / s_count, s = t % s_count, p = idx[static_cast<std::size_t>(s)];
            if (p >= g.weights()) {
                const i64 o = p - g.weights();
                for (i64 k = 0; k < g.k; ++k)
                    rows.row(n, k)[s] = sum(cp + ((k * g.n + n) * g.o + o) * hw, hw);
                continue;
            }
            const i64 o = p / q, r = p % q;
            const i64 b = r % g.kw, a = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
            gather_tap(g, xp + (n * g.c_in + c) * g.h * g.w, a, b, tap.data());
            for (i64 k = 0; k < g.k; ++k)
                rows.row(n, k)[s] = dot(cp + ((k * g.n + n) * g.o + o) * hw, tap.data(), hw);
        }
    });
}

// Per-sample Jacobians of chunks of samples in one reused buffer [nb, K, P], then their column
// sums of squares, chunk after chunk: memory stays under kBufferBytes.
template <class T>
void conv_sq_sum(const Tensor& cot, const Tensor& x, i64 kh, i64 kw, const Conv2dOptions& opt,
                 bool has_bias, const Tensor& diag) {
    const ConvGeometry g = conv_geometry(cot, x, kh, kw, opt);
    const i64 p = g.weights() + (has_bias ? g.o : 0);
    if (g.n == 0 || g.k == 0 || p == 0) return;
    const i64 per_sample = std::max<i64>(1, g.k * p * static_cast<i64>(sizeof(T)));
    const i64 nb_max = std::clamp<i64>(kBufferBytes / per_sample, 1, g.n);
    std::vector<T> buf(static_cast<std::size_t>(nb_max * g.k * p));  // [nb, K, P]
    std::vector<T> col(static_cast<std::size_t>(g.q() * g.hw()));    // [Q, HW]
    for (i64 n0 = 0; n0 < g.n; n0 += nb_max) {
        const i64 nb = std::min(nb_max, g.n - n0);
        const Rows<T> rows{buf.data(), g.k * p, p};
        conv_full_range<T>(g, cot.data<T>(), x.data<T>(), has_bias, n0, n0 + nb, rows, col.data());
        add_column_squares(buf.data(), nb * g.k, p, diag.data<T>());
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
void affine_full(const Tensor& cot, const Tensor& xhat, const Tensor& out) {
    const AffineDims d = affine_dims(cot);
    const T* cp = cot.data<T>();
    const T* xp = xhat.data<T>();
    const Rows<T> rows = rows_of<T>(out);
    parallel_for(d.n * d.k, grain_rows(2 * d.c * d.hw), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            const i64 n = r / d.k, k = r % d.k;
            const T* c = cp + (k * d.n + n) * d.c * d.hw;
            const T* xr = xp + n * d.c * d.hw;
            T* dst = rows.row(n, k);
            for (i64 ch = 0; ch < d.c; ++ch) {
                dst[ch] = dot(c + ch * d.hw, xr + ch * d.hw, d.hw);
                dst[d.c + ch] = sum(c + ch * d.hw, d.hw);
            }
        }
    });
}

template <class T>
void affine_subset(const Tensor& cot, const Tensor& xhat, const Tensor& index, const Tensor& out) {
    const AffineDims d = affine_dims(cot);
    const T* cp = cot.data<T>();
    const T* xp = xhat.data<T>();
    const Rows<T> rows = rows_of<T>(out);
    const std::vector<i64> idx = index_values(index);
    const i64 s_count = static_cast<i64>(idx.size());
    parallel_for(d.n * d.k, grain_rows(s_count * d.hw), [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            const i64 n = r / d.k, k = r % d.k;
            const T* c = cp + (k * d.n + n) * d.c * d.hw;
            const T* xr = xp + n * d.c * d.hw;
            T* dst = rows.row(n, k);
            for (i64 s = 0; s < s_count; ++s) {
                const i64 p = idx[static_cast<std::size_t>(s)];
                dst[s] = p < d.c ? dot(c + p * d.hw, xr + p * d.hw, d.hw)
                                 : sum(c + (p - d.c) * d.hw, d.hw);
            }
        }
    });
}

// One channel per task; its N·K terms are summed in (n, k) order.
template <class T>
void affine_sq_sum(const Tensor& cot, const Tensor& xhat, const Tensor& diag) {
    const AffineDims d = affine_dims(cot);
    const T* cp = cot.data<T>();
    const T* xp = xhat.data<T>();
    T* dp = diag.data<T>();
    parallel_for(d.c, grain_rows(2 * d.n * d.k * d.hw), [&](i64 c0, i64 c1) {
        for (i64 ch = c0; ch < c1; ++ch) {
            T scale = 0, shift = 0;
            for (i64 n = 0; n < d.n; ++n)
                for (i64 k = 0; k < d.k; ++k) {
                    const T* c = cp + ((k * d.n + n) * d.c + ch) * d.hw;
                    const T js = dot(c, xp + (n * d.c + ch) * d.hw, d.hw), jb = sum(c, d.hw);
                    scale += js * js;
                    shift += jb * jb;
                }
            dp[ch] += scale;
            dp[d.c + ch] += shift;
        }
    });
}

}  // namespace

void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() { linear_full<T>(cot, x, has_bias, out); });
}

void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool /*has_bias*/,
                                 const Tensor& index, const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() { linear_subset<T>(cot, x, index, out); });
}

void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias,
                             const Tensor& diag) {
    visit_floating(diag.dtype(), [&]<class T>() { linear_sq_sum<T>(cot, x, has_bias, diag); });
}

void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() {
        conv_full<T>(cot, x, kernel_h, kernel_w, options, has_bias, out);
    });
}

void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options,
                                 bool /*has_bias*/, const Tensor& index, const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() {
        conv_subset<T>(cot, x, kernel_h, kernel_w, options, index, out);
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
    visit_floating(out.dtype(), [&]<class T>() { affine_full<T>(cot, xhat, out); });
}

void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out) {
    visit_floating(out.dtype(), [&]<class T>() { affine_subset<T>(cot, xhat, index, out); });
}

void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag) {
    visit_floating(diag.dtype(), [&]<class T>() { affine_sq_sum<T>(cot, xhat, diag); });
}

}  // namespace postr::cpu
