// Device entry points of the pooling family, declared once for the CPU and once for CUDA with
// identical signatures. Inputs are validated and contiguous; outputs are preallocated and
// contiguous (their previous contents are ignored: gradients are zeroed by the kernels).
#pragma once

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"

namespace postr::cpu {

// x: [N, C, H, W] → out: [N, C, H_out, W_out], indices: i64 [N, C, H_out, W_out] (h·W + w).
void max_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out,
                const Tensor& indices);
// grad_out, indices: [N, C, H_out, W_out] → grad_x: [N, C, H, W].
void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x);
// x: [N, C, H, W] → out: [N, C, H_out, W_out]; divisor kH·kW.
void avg_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out);
void avg_pool2d_backward(const Tensor& grad_out, const Pool2dOptions& options,
                         const Tensor& grad_x);
// x: [N, C, H, W] → out: [N, C, out_h, out_w] (sizes taken from out).
void adaptive_avg_pool2d(const Tensor& x, const Tensor& out);
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x);

}  // namespace postr::cpu

namespace postr::cuda {

void max_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out,
                const Tensor& indices);
void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x);
void avg_pool2d(const Tensor& x, const Pool2dOptions& options, const Tensor& out);
void avg_pool2d_backward(const Tensor& grad_out, const Pool2dOptions& options,
                         const Tensor& grad_x);
void adaptive_avg_pool2d(const Tensor& x, const Tensor& out);
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x);

}  // namespace postr::cuda
