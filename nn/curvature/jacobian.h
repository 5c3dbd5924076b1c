// Per-sample Jacobians and per-sample gradients by the fast road (DESIGN.md decision 2): one
// forward pass, one backward pass of C cotangent rows per sample, and per-layer kernels that
// write each sample's rows straight into the result — for all of θ, or for a subnetwork of it
// without ever forming the full Jacobian.
//
// Models: any composition of postr's layers (Sequential, ResNet, BasicBlock...) whose
// parameters live in Linear, Conv2d and BatchNorm2d layers, each used once per forward pass,
// in evaluation mode, with outputs [N, C]. Other models throw postr::Error pointing to the
// autodiff road (autodiff/functional.h with functional_call.h).
#pragma once

#include "postr/core/tensor.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::nn {

// ∂f_c(x_n)/∂θ for every sample n and output c: x [N, ...] → [N, C, D].
Tensor per_sample_jacobian(Module& model, const Tensor& x);
// The columns θ[index] only: index i64 [S] (any order, repeats allowed) → [N, C, S].
Tensor per_sample_jacobian(Module& model, const Tensor& x, const Tensor& index);

// ∇_θ ℓ(f(x_n), y_n) for every sample (what the empirical Fisher and the EKF need):
// → [N, D], or [N, S] for a subnetwork index.
Tensor per_sample_gradients(Module& model, const Tensor& x, const Tensor& targets,
                            const Likelihood& likelihood);
Tensor per_sample_gradients(Module& model, const Tensor& x, const Tensor& targets,
                            const Likelihood& likelihood, const Tensor& index);

namespace detail {
class SubsetPlan;
// Σ_out rows[k, n, out] ∂f_out(x_n)/∂θ for rows_of(outputs) = rows [K, N, C]: the per-sample
// Jacobians of K combinations of the outputs → [N, K, D] (or [N, K, S] with a defined index).
Tensor row_jacobians(Module& model, const Tensor& x,
                     const std::function<Tensor(const Tensor&)>& rows_of, const Tensor& index);
// The same with the subnetwork already planned (null: all of θ), for callers that reuse one
// index over many chunks.
Tensor row_jacobians(Module& model, const Tensor& x,
                     const std::function<Tensor(const Tensor&)>& rows_of, SubsetPlan* plan);
}  // namespace detail

}  // namespace postr::nn
