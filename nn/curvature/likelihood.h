// The likelihoods the curvature is taken for, and the per-sample quantities of their negative
// log-likelihood ℓ(f, y) w.r.t. the model outputs f that the fast road backpropagates as
// cotangent rows (DESIGN.md decision 3): the factor of the loss Hessian Λ = L Lᵀ (exact GGN),
// sampled gradients whose outer products average to Λ (Monte Carlo GGN / Fisher), and the
// gradient at the observed target (empirical Fisher, per-sample gradients).
//
// Rows are [K, N, C]: K cotangent rows for each of N samples with C outputs.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"

namespace postr::nn {

struct Likelihood {
    enum class Kind {
        categorical,  // ℓ = −log softmax(f)_y: cross-entropy from logits, targets i64 [N]
        gaussian,  // ℓ = ‖y − f‖² / (2σ²) + const, targets [N, C] of the outputs' dtype
    };
    Kind kind = Kind::categorical;
    double sigma = 1.0;  // gaussian: the observation noise standard deviation

    static Likelihood categorical() { return {}; }
    // Throws postr::Error unless sigma > 0.
    static Likelihood gaussian(double sigma);
};

// Rows of L_nᵀ with Λ_n = ∇²_f ℓ = L_n L_nᵀ: outputs [N, C] → [C, N, C].
//   categorical: row c = √p_c (e_c − p), p = softmax(f_n) (Σ_c rows rowsᵀ = diag p − p pᵀ);
//   gaussian:    row c = e_c / σ.
Tensor loss_hessian_factor(const Likelihood& likelihood, const Tensor& outputs);

// K draws y ~ p(y | f_n) per sample, each row ∇_f ℓ(f_n, y) / √K: outputs [N, C] → [K, N, C],
// so Σ_k rows rowsᵀ is an unbiased estimate of Λ_n (the Fisher equals the GGN here).
// Categorical: y by the Gumbel-max trick; Gaussian: row = −ε/(σ√K), ε ~ N(0, I). Advances gen.
Tensor sampled_loss_gradients(const Likelihood& likelihood, const Tensor& outputs,
                              std::int64_t samples, Generator& gen);

// ∇_f ℓ(f_n, y_n) at the observed targets: outputs [N, C] → [1, N, C].
//   categorical: softmax(f_n) − e_{y_n};  gaussian: (f_n − y_n) / σ².
// Throws postr::Error when the targets do not match the outputs (shape, dtype, class range).
Tensor loss_output_gradients(const Likelihood& likelihood, const Tensor& outputs,
                             const Tensor& targets);

// Λ_n u_n for u: [..., N, C] (any leading batch dims) → same shape.
//   categorical: p ⊙ u − p (pᵀu);  gaussian: u / σ².
Tensor loss_hessian_product(const Likelihood& likelihood, const Tensor& outputs, const Tensor& u);

// Σ_n ℓ(f_n, y_n): the summed negative log-likelihood, as a one-element tensor.
Tensor negative_log_likelihood(const Likelihood& likelihood, const Tensor& outputs,
                               const Tensor& targets);

}  // namespace postr::nn
