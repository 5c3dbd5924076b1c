// Device entry points of the convolution family (im2col + GEMM), declared once for the CPU and
// once for CUDA with identical signatures. Inputs are validated, contiguous and of one floating
// dtype; outputs are preallocated and contiguous (their previous contents are ignored).
#pragma once

#include "postr/core/tensor.h"
#include "postr/kernels/ops.h"

namespace postr::cpu {

// x: [N, C_in, H, W], weight: [C_out, C_in, kH, kW], bias: [C_out] or undefined
// → out: [N, C_out, H_out, W_out].
void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options,
            const Tensor& out);
// grad_out: [N, C_out, H_out, W_out], weight: [C_out, C_in, kH, kW] → grad_x: [N, C_in, H, W].
void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight,
                           const Conv2dOptions& options, const Tensor& grad_x);
// grad_out: [N, C_out, H_out, W_out], x: [N, C_in, H, W] → grad_weight: [C_out, C_in, kH, kW].
void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dOptions& options,
                            const Tensor& grad_weight);

}  // namespace postr::cpu

namespace postr::cuda {

void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options,
            const Tensor& out);
void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight,
                           const Conv2dOptions& options, const Tensor& grad_x);
void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dOptions& options,
                            const Tensor& grad_weight);

}  // namespace postr::cuda
