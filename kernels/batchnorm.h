// Device entry points of batch normalization, declared once for the CPU and once for CUDA with
// identical signatures. x is viewed as [N, C, S] (S = product of the trailing dims, 1 for
// [N, C]); every tensor is contiguous and of x's dtype; per-channel tensors are [C]. weight and
// bias may be undefined (1 and 0); running_mean/running_var may be undefined (no update).
#pragma once

#include "postr/core/tensor.h"

namespace postr::cpu {

// Batch statistics per channel (two-pass), out = (x − mean)·invstd·w + b; running stats updated
// in place with the unbiased variance. Needs N·S > 1.
void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var, double momentum,
                      double eps, const Tensor& out, const Tensor& save_mean,
                      const Tensor& save_invstd);
void batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, double eps,
                     const Tensor& out);
// grad_x = invstd·w·(g − mean(g) − x̂·mean(g·x̂)), grad_weight = Σ g·x̂, grad_bias = Σ g.
void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                         const Tensor& grad_weight, const Tensor& grad_bias);

}  // namespace postr::cpu

namespace postr::cuda {

void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var, double momentum,
                      double eps, const Tensor& out, const Tensor& save_mean,
                      const Tensor& save_invstd);
void batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, double eps,
                     const Tensor& out);
void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                         const Tensor& grad_weight, const Tensor& grad_bias);

}  // namespace postr::cuda
