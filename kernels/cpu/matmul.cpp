// matmul kernels on the CPU: one BLAS GEMM per batch, each operand passed by its strides
// (row-major, or column-major for transposed views) so that views are not copied.
#include "postr/kernels/matmul.h"

#include "postr/core/error.h"
#include "postr/core/strided_loop.h"
#include "postr/kernels/cpu/blas.h"
#include "postr/kernels/cpu/iterate.h"

namespace postr::cpu {
namespace {

Shape batch_part(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

template <class T>
void gemm_typed(const Tensor& a_in, const Tensor& b_in, const Tensor& c, T alpha, T beta) {
    const std::int64_t m = c.size(-2), n = c.size(-1), k = a_in.size(-1);
    if (c.numel() == 0) return;
    if (k == 0) {
        // An empty sum: c ← β·c, with β = 0 clearing NaNs as BLAS does.
        if (beta == T(0)) {
            Tensor(c).zero_();
        } else {
            map_elements<T, T>(
                c, [beta](T x) { return beta * x; }, c);
        }
        return;
    }
    const Tensor a = postr::detail::blas_layout(a_in).ok ? a_in : a_in.contiguous();
    const Tensor b = postr::detail::blas_layout(b_in).ok ? b_in : b_in.contiguous();
    const bool c_direct = postr::detail::blas_layout(c).ok;
    const Tensor out = c_direct ? c : c.contiguous();
    const postr::detail::BlasLayout la = postr::detail::blas_layout(a),
                                    lb = postr::detail::blas_layout(b),
                                    lc = postr::detail::blas_layout(out);
    POSTR_ASSERT(la.ok && lb.ok && lc.ok);

    // Batch offsets of (out, a, b); broadcast batch dims have stride 0 in a and b.
    const Shape batch = batch_part(out.shape());
    const Shape so = batch_part(out.strides()), sa = batch_part(a.strides()),
                sb = batch_part(b.strides());
    const Shape* strides[3] = {&so, &sa, &sb};
    const StridedPlan<3> plan = make_plan<3>(batch, strides);
    T* c0 = out.data<T>();
    const T* a0 = a.data<T>();
    const T* b0 = b.data<T>();
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    // Batches run one after another: each BLAS call threads internally, and concurrent calls
    // from postr's pool would oversubscribe the cores (DESIGN decision 7).
    for (std::int64_t i = 0; i < plan.numel; ++i) {
        std::int64_t off[3];
        plan.offsets(i, off);
        if (!lc.column_major) {
            // Row-major C is column-major Cᵀ = Bᵀ·Aᵀ; a row-major operand's buffer already
            // holds its transpose column-major, so it goes in as 'N'.
            blas::gemm(lb.column_major ? 'T' : 'N', la.column_major ? 'T' : 'N', ni, mi, ki, alpha,
                       b0 + off[2], static_cast<int>(lb.ld), a0 + off[1], static_cast<int>(la.ld),
                       beta, c0 + off[0], static_cast<int>(lc.ld));
        } else {
            blas::gemm(la.column_major ? 'N' : 'T', lb.column_major ? 'N' : 'T', mi, ni, ki, alpha,
                       a0 + off[1], static_cast<int>(la.ld), b0 + off[2], static_cast<int>(lb.ld),
                       beta, c0 + off[0], static_cast<int>(lc.ld));
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

}  // namespace postr::cpu
