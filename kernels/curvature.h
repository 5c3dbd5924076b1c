// Device entry points of the curvature family (per-layer per-sample Jacobians, DESIGN.md
// decision 2), declared once for the CPU and once for CUDA with identical signatures. The public
// ops in curvature_ops.h validate: cot, x and index arrive contiguous and in range, diag
// contiguous; out may be any view [N, K, P] (or [N, K, S]) with a unit last stride and is
// written through its strides.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"

namespace postr::cpu {

// cot: [K, N, O], x: [N, I] → out: [N, K, O·I (+O)] / [N, K, S]; diag: [O·I (+O)] (+=).
void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out);
void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& diag);

// cot: [K, N, O, H_out, W_out], x: [N, I, H, W] → out: [N, K, O·I·kH·kW (+O)] / [N, K, S];
// diag: [O·I·kH·kW (+O)] (+=).
void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out);
void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void conv2d_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                             std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                             const Tensor& diag);

// cot: [K, N, C, H, W], xhat: [N, C, H, W] → out: [N, K, 2C] / [N, K, S]; diag: [2C] (+=).
void channel_affine_jacobian_into(const Tensor& cot, const Tensor& xhat, const Tensor& out);
void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out);
void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag);

}  // namespace postr::cpu

namespace postr::cuda {

void linear_jacobian_into(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& out);
void linear_jacobian_subset_into(const Tensor& cot, const Tensor& x, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void linear_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, bool has_bias, const Tensor& diag);

void conv2d_jacobian_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                          std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                          const Tensor& out);
void conv2d_jacobian_subset_into(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                                 std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                                 const Tensor& index, const Tensor& out);
void conv2d_jacobian_sq_sum_(const Tensor& cot, const Tensor& x, std::int64_t kernel_h,
                             std::int64_t kernel_w, const Conv2dOptions& options, bool has_bias,
                             const Tensor& diag);

void channel_affine_jacobian_into(const Tensor& cot, const Tensor& xhat, const Tensor& out);
void channel_affine_jacobian_subset_into(const Tensor& cot, const Tensor& xhat, const Tensor& index,
                                         const Tensor& out);
void channel_affine_jacobian_sq_sum_(const Tensor& cot, const Tensor& xhat, const Tensor& diag);

}  // namespace postr::cuda
