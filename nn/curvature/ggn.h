// Curvature of the negative log-likelihood Σ_n ℓ(f(x_n; θ), y_n) by the fast road: GGN- and
// empirical-Fisher-vector products, and diagonal and dense (subnetwork) GGN / Fisher matrices
// accumulated over as many batches as the caller feeds them, in chunks of samples, so memory is
// bounded by the chunk, never by the data set (DESIGN.md decisions 2 and 3).
//
//   GGN               G = Σ_n J_nᵀ Λ_n J_n, Λ_n = ∇²_f ℓ (for cross-entropy and Gaussian
//                     likelihoods this is also the Fisher information);
//   Monte Carlo GGN   Λ_n replaced by Σ_k g_k g_kᵀ / K over K labels sampled from the model;
//   empirical Fisher  Σ_n g_n g_nᵀ, g_n = ∇_θ ℓ(f(x_n), y_n) at the observed labels.
//
// Models as in jacobian.h (Linear, Conv2d, BatchNorm2d layers; evaluation mode).
#pragma once

#include <cstdint>
#include <memory>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::nn {

namespace detail {
class SubsetPlan;
}  // namespace detail

enum class CurvatureType { ggn, ggn_monte_carlo, empirical_fisher };

struct CurvatureOptions {
    CurvatureType type = CurvatureType::ggn;
    Likelihood likelihood = Likelihood::categorical();
    std::int64_t mc_samples = 1;  // K, for ggn_monte_carlo
    std::uint64_t seed = 0;       // for ggn_monte_carlo's sampled labels
    // Samples per forward/backward pass (0: at most 64, fewer when a chunk's Jacobian rows
    // would pass 256 MiB). Results do not depend on it beyond rounding.
    std::int64_t chunk_size = 0;
};

namespace detail {
// The cotangent rows [K, N, C] whose outer products Σ_k rowsᵀ rows make the Λ_n of
// options.type: the loss-Hessian factor (ggn), sampled-label gradients (ggn_monte_carlo, advances
// gen) or the gradient at the observed targets (empirical_fisher). outputs [N, C].
Tensor curvature_rows(const CurvatureOptions& options, Generator& gen, const Tensor& outputs,
                      const Tensor& targets);
}  // namespace detail

// Σ_n over the batch of J_nᵀ Λ_n J_n v: one forward pass carrying the tangent J v beside the
// outputs, the closed-form Λ (likelihood.h), one backward pass. x [N, ...], v [D] → [D].
Tensor ggn_vector_product(Module& model, const Tensor& x, const Likelihood& likelihood,
                          const Tensor& v);
// Σ_n g_n (g_nᵀ v) with g_n the per-sample gradient at the observed targets, by the same
// passes (g_nᵀ v = (∇_f ℓ_n)ᵀ J_n v). x [N, ...], v [D] → [D].
Tensor empirical_fisher_vector_product(Module& model, const Tensor& x, const Tensor& targets,
                                       const Likelihood& likelihood, const Tensor& v);

// The diagonal of the GGN / Fisher over all D weights, accumulated batch by batch:
//   DiagonalCurvature diag(model, options);
//   for (each batch) diag.accumulate(x, y);
//   Tensor d = diag.diagonal();  // [D]
class DiagonalCurvature {
  public:
    DiagonalCurvature(Module& model, CurvatureOptions options = {});
    // targets are needed for the empirical Fisher only (pass an undefined Tensor otherwise).
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    const Tensor& diagonal() const { return diagonal_; }
    std::int64_t num_samples() const { return num_samples_; }

  private:
    Module& model_;
    CurvatureOptions options_;
    Generator gen_;
    Tensor diagonal_;
    std::int64_t num_samples_ = 0;
};

// The dense S×S GGN / Fisher over a subnetwork θ[index] (i64 [S], any order: rows and columns
// follow it), accumulated batch by batch with one SYRK per chunk of samples into one buffer.
// An undefined index means all D weights (only sensible for small models: D² memory).
// Memory: an S×S matrix that does not fit throws OutOfMemory naming S, the size and what to do;
// a chunk of samples whose Jacobian rows do not fit is retried in halves (and later batches keep
// the smaller chunk), so a shortage costs time, not the fit.
class DenseCurvature {
  public:
    DenseCurvature(Module& model, CurvatureOptions options = {}, const Tensor& index = Tensor());
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    // The symmetric matrix [S, S] (a fresh copy: accumulation can go on).
    Tensor matrix() const;
    std::int64_t num_samples() const { return num_samples_; }

  private:
    Module& model_;
    CurvatureOptions options_;
    Generator gen_;
    std::shared_ptr<detail::SubsetPlan> plan_;  // the subnetwork, split by layer; null: all D
    Tensor lower_;  // the accumulator: Σ VᵀV on and below the diagonal
    std::int64_t num_samples_ = 0;
};

}  // namespace postr::nn
