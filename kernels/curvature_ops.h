// Per-layer curvature kernels: the fast road of DESIGN.md decision 2. Each takes the
// cotangents at a layer's output for K rows per sample (cot: [K, N, ...out]) and the layer's
// saved input, and turns them into per-sample Jacobians of those K rows w.r.t. the layer's
// weights, without going through the autodiff graph:
//   J[n, k, p] = ∂(row k of sample n) / ∂w_p = Σ_out cot[k, n, out] · ∂out[n] / ∂w_p.
// A layer's parameter block is laid out as in θ (DESIGN.md decision 1): the weight row-major,
// then the bias when there is one. P below is the block's size.
//
// Three forms for each layer:
//   *_jacobian_into         writes the full block: out [N, K, P] (any strides but a unit last
//                           one; typically a column slice of the model's [N, K, D] Jacobian);
//   *_jacobian_subset_into  writes only the columns `index` (i64 [S], positions inside the
//                           block, any order, repeats allowed): out [N, K, S]; the full block
//                           is never formed;
//   *_jacobian_sq_sum_      adds Σ_n Σ_k J[n, k, p]² into diag [P] (the diagonal GGN / Fisher
//                           contribution when the K rows are factors of the loss Hessian).
// All tensors share one floating dtype (f32 or f64) and one device; CPU and CUDA give the same
// numbers up to summation order, and the CPU results do not depend on the thread count.
//
// Layouts and checks, common to all three layers:
//   - cot and x may have any strides (strided ones are compacted once);
//   - out must have the shape stated and a unit last stride (its other strides are free: a
//     column slice J.slice(2, c0, c0 + P) of a row-major [N, K, D] tensor is the usual case);
//     it is written through its strides, and columns outside it are never touched;
//   - index: i64 [S] on the same device, values in [0, P). The values are checked on a host
//     copy (on CUDA a transfer of S integers that synchronizes the stream); the CUDA kernels
//     also guard, writing NaN rather than reading out of bounds;
//   - diag: [P], accumulated into (+=), any stride;
//   - empty N, K, S, or channel counts are fine (nothing is written, or diag is unchanged).
// Throws postr::Error (naming the op and the shapes) for wrong ranks or shapes, dtype or device
// mismatches, an index out of range, an out of the wrong shape or without a unit last stride,
// and invalid convolution options; and for a CUDA tensor in a build without CUDA.
#pragma once

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"

namespace postr {

// Linear y = x Wᵀ + b, W: [O, I]. cot: [K, N, O], x: [N, I]; P = O·I (+ O with bias).
// J[n, k, o·I + i] = cot[k, n, o] · x[n, i];  J[n, k, O·I + o] = cot[k, n, o].
void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out);
void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& diag);

// Conv2d with weight [O, I, kH, kW] (kernel_h, kernel_w given), options as in conv2d.
// cot: [K, N, O, H_out, W_out], x: [N, I, H, W]; P = O·I·kH·kW (+ O with bias).
// J[n, k, ((o·I + i)·kH + a)·kW + b] = Σ_{h,w} cot[k, n, o, h, w] · xpad[n, i, h·s_h + a·d_h,
// w·s_w + b·d_w] (xpad: x zero-padded);  J[n, k, O·I·kH·kW + o] = Σ_{h,w} cot[k, n, o, h, w].
void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out);
void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void conv2d_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                             std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                             const Tensor& diag);

// Affine per-channel scale and shift y = γ_c · x̂ + β_c (BatchNorm2d in eval mode, x̂ the input
// normalized by the running statistics). cot: [K, N, C, H, W], xhat: [N, C, H, W]; P = 2C.
// J[n, k, c] = Σ_{h,w} cot[k, n, c, h, w] · x̂[n, c, h, w];  J[n, k, C + c] = Σ_{h,w} cot[k, n, c,
// h, w].
void channel_affine_jacobian_into(const Tensor& cot, const Tensor& xhat, const Tensor& out);
void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out);
void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag);

}  // namespace postr
