// Public per-layer curvature ops (curvature_ops.h): argument checks and device dispatch. cot, x
// and index are made contiguous here (one compact copy for strided callers); out is written in
// place through its strides, and diag is updated through a compact copy only when it is strided.
#include <cstdint>
#include <vector>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/kernels/curvature.h"
#include "postr/kernels/curvature_ops.h"
#include "postr/kernels/dispatch.h"

namespace postr {
namespace {

using i64 = std::int64_t;

// Floating tensor of `rank` on the dtype and device of `ref` (cot).
void check_operand(const char* op, const char* name, const Tensor& t, int rank, const Tensor& ref) {
    check_defined(op, name, t);
    check_rank(op, name, t, rank);
    check_floating(op, name, t);
    if (&t != &ref) {
        check_same_dtype(op, name, t, "cot", ref);
        check_same_device(op, name, t, "cot", ref);
    }
}

// out: `expected` ([N, K, P] or [N, K, S]) with a unit last stride, cot's dtype and device.
void check_out(const char* op, const Tensor& out, const Shape& expected, const char* layout,
               const Tensor& cot) {
    check_defined(op, "out", out);
    check_same_dtype(op, "out", out, "cot", cot);
    check_same_device(op, "out", out, "cot", cot);
    POSTR_CHECK(out.shape() == expected, op, ": out must be ", layout, " = ", to_string(expected),
                ": got ", to_string(out.shape()), " (cot is ", to_string(cot.shape()),
                "). Pass a view of that shape, e.g. a column slice of the [N, K, D] Jacobian");
    POSTR_CHECK(out.size(2) <= 1 || out.stride(2) == 1, op,
                ": out must have a unit last stride: out is ", to_string(out.shape()),
                " with strides ", to_string(out.strides()),
                ". Pass a column slice of a row-major tensor");
}

// index: i64 [S] on cot's device with values in [0, P). The values are checked on a host copy
// (free on the CPU; on CUDA one small transfer of S integers, which also synchronizes).
void check_index(const char* op, const Tensor& index, i64 p, const Tensor& cot) {
    check_defined(op, "index", index);
    check_dtype(op, "index", index, DType::i64);
    check_rank(op, "index", index, 1);
    check_same_device(op, "index", index, "cot", cot);
    const std::vector<i64> v = index.contiguous().to(Device::cpu()).to_vector<i64>();
    for (std::size_t s = 0; s < v.size(); ++s)
        POSTR_CHECK(v[s] >= 0 && v[s] < p, op, ": index out of range: index[", s, "] = ", v[s],
                    ", the layer's block has P = ", p, " parameters (cot is ",
                    to_string(cot.shape()), "). Pass positions in [0, P) inside the block");
}

void check_diag(const char* op, const Tensor& diag, i64 p, const Tensor& cot) {
    check_defined(op, "diag", diag);
    check_same_dtype(op, "diag", diag, "cot", cot);
    check_same_device(op, "diag", diag, "cot", cot);
    POSTR_CHECK(diag.dim() == 1 && diag.size(0) == p, op, ": diag must be [P] = [", p, "]: got ",
                to_string(diag.shape()), " (cot is ", to_string(cot.shape()),
                "). Pass one entry per parameter of the layer's block");
}

// Runs kernel(d) on diag itself when it is contiguous, else on a compact copy written back.
template <class Fn>
void update_diag(const Tensor& diag, Fn&& kernel) {
    if (diag.is_contiguous()) {
        kernel(diag);
        return;
    }
    Tensor d = diag.contiguous();
    kernel(d);
    Tensor(diag).copy_(d);
}

// ---- Linear ---------------------------------------------------------------------------------

// Checks cot [K, N, O] and x [N, I]; returns P = O·I (+ O).
i64 check_linear(const char* op, const Tensor& cot, const Tensor& x, bool has_bias) {
    check_operand(op, "cot", cot, 3, cot);
    check_operand(op, "x", x, 2, cot);
    POSTR_CHECK(cot.size(1) == x.size(0), op, ": cot [K, N, O] and x [N, I] differ in N: cot is ",
                to_string(cot.shape()), ", x is ", to_string(x.shape()),
                ". Pass the cotangents of the layer output for the same samples");
    return cot.size(2) * x.size(1) + (has_bias ? cot.size(2) : 0);
}

// ---- Conv2d ---------------------------------------------------------------------------------

// Checks cot [K, N, O, H_out, W_out] against x [N, I, H, W] and the options; returns P.
i64 check_conv(const char* op, const Tensor& cot, const Tensor& x, i64 kh, i64 kw,
               const Conv2dOptions& o, bool has_bias) {
    check_operand(op, "cot", cot, 5, cot);
    check_operand(op, "x", x, 4, cot);
    POSTR_CHECK(kh >= 1 && kw >= 1, op, ": kernel size must be positive: got (", kh, ", ", kw,
                "). Pass the layer's kH, kW");
    POSTR_CHECK(o.stride_h >= 1 && o.stride_w >= 1, op, ": stride must be positive: got (",
                o.stride_h, ", ", o.stride_w, "). Pass the layer's options");
    POSTR_CHECK(o.dilation_h >= 1 && o.dilation_w >= 1, op, ": dilation must be positive: got (",
                o.dilation_h, ", ", o.dilation_w, "). Pass the layer's options");
    POSTR_CHECK(o.pad_h >= 0 && o.pad_w >= 0, op, ": padding must be non-negative: got (", o.pad_h,
                ", ", o.pad_w, "). Pass the layer's options");
    const i64 eff_h = o.dilation_h * (kh - 1) + 1, eff_w = o.dilation_w * (kw - 1) + 1;
    const i64 padded_h = x.size(2) + 2 * o.pad_h, padded_w = x.size(3) + 2 * o.pad_w;
    POSTR_CHECK(eff_h <= padded_h && eff_w <= padded_w, op,
                ": kernel larger than padded input: dilated kernel is ", eff_h, "x", eff_w,
                ", padded input is ", padded_h, "x", padded_w, " (x is ", to_string(x.shape()),
                "). Check kernel_h, kernel_w and the options");
    const i64 h_out = (padded_h - eff_h) / o.stride_h + 1,
              w_out = (padded_w - eff_w) / o.stride_w + 1;
    POSTR_CHECK(cot.size(1) == x.size(0) && cot.size(3) == h_out && cot.size(4) == w_out, op,
                ": cot must be [K, N, O, H_out, W_out] with N = ", x.size(0),
                " and (H_out, W_out) = (", h_out, ", ", w_out, ") for x of shape ",
                to_string(x.shape()), ": got ", to_string(cot.shape()),
                ". Pass the cotangents of this layer's output");
    return cot.size(2) * x.size(1) * kh * kw + (has_bias ? cot.size(2) : 0);
}

// ---- channel affine -------------------------------------------------------------------------

// Checks cot [K, N, C, H, W] against xhat [N, C, H, W]; returns P = 2C.
i64 check_affine(const char* op, const Tensor& cot, const Tensor& xhat) {
    check_operand(op, "cot", cot, 5, cot);
    check_operand(op, "xhat", xhat, 4, cot);
    const Shape& c = cot.shape();
    POSTR_CHECK(Shape(c.begin() + 1, c.end()) == xhat.shape(), op,
                ": cot must be [K, ...xhat's shape]: cot is ", to_string(c), ", xhat is ",
                to_string(xhat.shape()), ". Pass the cotangents of this layer's output");
    return 2 * cot.size(2);
}

}  // namespace

void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out) {
    const char* op = "linear_jacobian_into";
    const i64 p = check_linear(op, cot, x, has_bias);
    check_out(op, out, {cot.size(1), cot.size(0), p}, "[N, K, P]", cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous();
    detail::dispatch(
        op, cot, [&] { cpu::linear_jacobian_into(cc, xc, has_bias, out); },
        [&] { cuda::linear_jacobian_into(cc, xc, has_bias, out); });
}

void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool has_bias,
                                 const Tensor& index, const Tensor& out) {
    const char* op = "linear_jacobian_subset_into";
    const i64 p = check_linear(op, cot, x, has_bias);
    check_index(op, index, p, cot);
    check_out(op, out, {cot.size(1), cot.size(0), index.size(0)}, "[N, K, S]", cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous(), ic = index.contiguous();
    detail::dispatch(
        op, cot, [&] { cpu::linear_jacobian_subset_into(cc, xc, has_bias, ic, out); },
        [&] { cuda::linear_jacobian_subset_into(cc, xc, has_bias, ic, out); });
}

void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias,
                             const Tensor& diag) {
    const char* op = "linear_jacobian_sq_sum_";
    const i64 p = check_linear(op, cot, x, has_bias);
    check_diag(op, diag, p, cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous();
    update_diag(diag, [&](const Tensor& d) {
        detail::dispatch(
            op, cot, [&] { cpu::linear_jacobian_sq_sum_(cc, xc, has_bias, d); },
            [&] { cuda::linear_jacobian_sq_sum_(cc, xc, has_bias, d); });
    });
}

void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out) {
    const char* op = "conv2d_jacobian_into";
    const i64 p = check_conv(op, cot, x, kernel_h, kernel_w, options, has_bias);
    check_out(op, out, {cot.size(1), cot.size(0), p}, "[N, K, P]", cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous();
    detail::dispatch(
        op, cot,
        [&] { cpu::conv2d_jacobian_into(cc, xc, kernel_h, kernel_w, options, has_bias, out); },
        [&] { cuda::conv2d_jacobian_into(cc, xc, kernel_h, kernel_w, options, has_bias, out); });
}

void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                                 const Tensor& index, const Tensor& out) {
    const char* op = "conv2d_jacobian_subset_into";
    const i64 p = check_conv(op, cot, x, kernel_h, kernel_w, options, has_bias);
    check_index(op, index, p, cot);
    check_out(op, out, {cot.size(1), cot.size(0), index.size(0)}, "[N, K, S]", cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous(), ic = index.contiguous();
    detail::dispatch(
        op, cot,
        [&] {
            cpu::conv2d_jacobian_subset_into(cc, xc, kernel_h, kernel_w, options, has_bias, ic,
                                             out);
        },
        [&] {
            cuda::conv2d_jacobian_subset_into(cc, xc, kernel_h, kernel_w, options, has_bias, ic,
                                              out);
        });
}

void conv2d_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                             std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                             const Tensor& diag) {
    const char* op = "conv2d_jacobian_sq_sum_";
    const i64 p = check_conv(op, cot, x, kernel_h, kernel_w, options, has_bias);
    check_diag(op, diag, p, cot);
    const Tensor cc = cot.contiguous(), xc = x.contiguous();
    update_diag(diag, [&](const Tensor& d) {
        detail::dispatch(
            op, cot,
            [&] { cpu::conv2d_jacobian_sq_sum_(cc, xc, kernel_h, kernel_w, options, has_bias, d); },
            [&] {
                cuda::conv2d_jacobian_sq_sum_(cc, xc, kernel_h, kernel_w, options, has_bias, d);
            });
    });
}

void channel_affine_jacobian_into(const Tensor& cot, const Tensor& xhat, const Tensor& out) {
    const char* op = "channel_affine_jacobian_into";
    const i64 p = check_affine(op, cot, xhat);
    check_out(op, out, {cot.size(1), cot.size(0), p}, "[N, K, 2C]", cot);
    const Tensor cc = cot.contiguous(), xc = xhat.contiguous();
    detail::dispatch(
        op, cot, [&] { cpu::channel_affine_jacobian_into(cc, xc, out); },
        [&] { cuda::channel_affine_jacobian_into(cc, xc, out); });
}

void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out) {
    const char* op = "channel_affine_jacobian_subset_into";
    const i64 p = check_affine(op, cot, xhat);
    check_index(op, index, p, cot);
    check_out(op, out, {cot.size(1), cot.size(0), index.size(0)}, "[N, K, S]", cot);
    const Tensor cc = cot.contiguous(), xc = xhat.contiguous(), ic = index.contiguous();
    detail::dispatch(
        op, cot, [&] { cpu::channel_affine_jacobian_subset_into(cc, xc, ic, out); },
        [&] { cuda::channel_affine_jacobian_subset_into(cc, xc, ic, out); });
}

void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag) {
    const char* op = "channel_affine_jacobian_sq_sum_";
    const i64 p = check_affine(op, cot, xhat);
    check_diag(op, diag, p, cot);
    const Tensor cc = cot.contiguous(), xc = xhat.contiguous();
    update_diag(diag, [&](const Tensor& d) {
        detail::dispatch(
            op, cot, [&] { cpu::channel_affine_jacobian_sq_sum_(cc, xc, d); },
            [&] { cuda::channel_affine_jacobian_sq_sum_(cc, xc, d); });
    });
}

}  // namespace postr
