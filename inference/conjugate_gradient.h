// Conjugate gradients for (A + δI) x = b with A a symmetric positive (semi)definite linear
// operator on the flat parameter vector, given only as a function v ↦ A v: a Hessian-, GGN- or
// Fisher-vector product, so the D × D matrix is never formed. This is how a Newton / natural-
// gradient step or a Laplace posterior's mean correction is solved at large D. Optional damping
// δ (Levenberg–Marquardt, or a prior precision) and a preconditioner M⁻¹ ≈ (A + δI)⁻¹ (for
// example the inverse of a diagonal GGN plus δ).
//
// Tensor ops only, so any dtype (f32, f64) and device (CPU, CUDA) of b; the scalars of the
// recursion (rᵀz, pᵀAp, ‖r‖) are read back to the host once per iteration, which is also where
// convergence is decided.
//
// Also here: the curvature-vector products of a LogPosterior, as linear operators for CG.
#pragma once

#include <cstdint>
#include <functional>

#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

// v [D] ↦ A v [D] (same shape, dtype and device as v).
using LinearOperator = std::function<Tensor(const Tensor& v)>;

struct ConjugateGradientOptions {
    double damping = 0.0;  // δ ≥ 0, added as δ v to every operator product
    // Stop when ‖r‖ ≤ tolerance · ‖b‖ (r = b − (A + δI) x, the recursively updated residual).
    double tolerance = 1e-10;
    // At most this many iterations (0: 2·D; in exact arithmetic D suffice).
    std::int64_t max_iterations = 0;
    // z = M⁻¹ r with M⁻¹ symmetric positive definite, approximating (A + δI)⁻¹; unset: identity.
    LinearOperator preconditioner{};
    // Starting point x₀ [D] (undefined: zeros).
    Tensor initial{};
};

struct ConjugateGradientResult {
    Tensor x;                     // [D]
    std::int64_t iterations = 0;  // operator products taken (excluding the one for x₀ ≠ 0)
    double residual_norm = 0.0;   // ‖r‖ at return
    bool converged = false;       // ‖r‖ ≤ tolerance · ‖b‖
};

// Solves (A + δI) x = b by (preconditioned) conjugate gradients. b [D] (any shape: treated as a
// flat vector; the operator receives and returns tensors of b's shape), f32/f64, CPU/CUDA.
// b = 0 returns x = 0 after no iteration. Not converging within max_iterations is not an error:
// see `converged`. Throws postr::Error for an unset operator, a bad b, options out of range, an
// operator or preconditioner output of another shape, dtype or device or with non-finite values,
// non-positive curvature pᵀ(A + δI)p ≤ 0 (the operator is not positive definite: an indefinite
// Hessian away from a mode, say; add damping or use the GGN), or a preconditioner with rᵀM⁻¹r ≤ 0.
ConjugateGradientResult conjugate_gradient(const LinearOperator& op, const Tensor& b,
                                           const ConjugateGradientOptions& options = {});

// --- Curvature-vector products over the flat vector -------------------------------------------
//
// autodiff/functional.h has hessian_vector_product and ggn_vector_product of plain functions, and
// nn/curvature/ggn.h the fast per-layer GGN and empirical-Fisher products of a Module; these
// wrappers add only what a posterior algorithm needs on top: the LogPosterior's batch bound in,
// the sign (the precision is −∇²ℓ, positive near a mode), and the LinearOperator shape CG takes.

// −∇²ℓ(θ; batch) v, by reverse-over-reverse (θ, v [D]). ℓ is per datum (log_posterior.h), so this
// is the posterior precision divided by N. Throws postr::Error as postr::hessian_vector_product.
Tensor negative_hessian_vector_product(const LogPosterior& log_posterior, const Tensor& theta,
                                       const Batch& batch, const Tensor& v);
// v ↦ −∇²ℓ(θ; batch) v with θ and the batch held by the operator.
LinearOperator negative_hessian_operator(LogPosterior log_posterior, Tensor theta, Batch batch);
// v ↦ Σ_n J_nᵀ Λ_n J_n v (nn::ggn_vector_product) at the model's current parameters, over the
// inputs [N, ...] (the likelihood's Hessian Λ; a sum over the N inputs, not a mean). The model is
// held by reference.
LinearOperator ggn_operator(nn::Module& model, Tensor inputs, nn::Likelihood likelihood);
// v ↦ Σ_n g_n g_nᵀ v (nn::empirical_fisher_vector_product) at the model's current parameters,
// over inputs [N, ...] and targets.
LinearOperator empirical_fisher_operator(nn::Module& model, Tensor inputs, Tensor targets,
                                         nn::Likelihood likelihood);

}  // namespace postr::inference
