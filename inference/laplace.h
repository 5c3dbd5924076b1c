// The Laplace approximation over the full flat parameter vector θ ∈ R^D (DESIGN.md decision 1):
// a Gaussian centred at the MAP θ* the user trained,
//
//   θ ~ N(θ*, P⁻¹),   P = s·C + diag(λ) (+ jitter·I for the Hessian),
//
// with C the curvature of the SUMMED negative log-likelihood Σ_n −log p(y_n | x_n, θ*) over the
// batches fed to update(), λ the prior precision (a scalar or one value per parameter: the prior
// is N(0, diag(1/λ))), and s = N / (samples fed) the dataset-size scaling: fit the curvature on
// all N training examples (s = 1), or on a random subset standing in for them (s > 1). Unlike
// `posteriors`, the prior and the scaling are always part of P, never left to the caller.
//
// Structures (curvature C):
//   diag_empirical_fisher   diag Σ_n g_n g_nᵀ, g_n = ∇_θ −log p(y_n | x_n, θ*)      [D]
//   diag_ggn                diag Σ_n J_nᵀ Λ_n J_n (Λ_n the loss Hessian in f)     [D]
//   dense_empirical_fisher  Σ_n g_n g_nᵀ                                             [D, D]
//   dense_ggn               Σ_n J_nᵀ Λ_n J_n                                         [D, D]
//   dense_hessian           ∇²_θ Σ_n −log p(y_n | x_n, θ) by autodiff; D ≤ 5000      [D, D]
// The first four use the fast road (nn/curvature/ggn.h: models of Linear, Conv2d, BatchNorm2d
// layers in eval mode); the Hessian uses reverse-over-reverse autodiff through functional_call,
// so it works for any model but costs D backward passes' worth of work and D² memory.
//
// Use (model trained to θ*, in eval mode):
//   laplace::Config config;
//   config.structure = laplace::Structure::dense_ggn;
//   config.likelihood = nn::Likelihood::categorical();
//   config.prior_precision = 1.0;   // or a [D] tensor
//   config.num_data = n_train;      // when fitting on a subset
//   auto la = laplace::build(model, config);
//   laplace::State state = la.init(model.parameters().theta());
//   for (batch : train) la.update(state, batch);
//   la.fit(state);                                   // P and its Cholesky factor
//   Tensor draws = la.sample(state, 100, gen);       // [100, D]
//   double evidence = la.log_marginal_likelihood(state);
#pragma once

#include <cstdint>
#include <utility>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/log_posterior.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference::laplace {

enum class Structure {
    diag_empirical_fisher,
    diag_ggn,
    dense_empirical_fisher,
    dense_ggn,
    dense_hessian,
};

// True for the three dense structures (P is [D, D]); false for the diagonal ones (P is [D]).
bool is_dense(Structure structure);

// The prior precision λ: one value for every parameter, or one per parameter ([D], θ's device;
// cast to θ's dtype). Must be positive and finite.
struct PriorPrecision {
    PriorPrecision(double value = 1.0) : scalar(value) {}  // NOLINT(google-explicit-constructor)
    PriorPrecision(Tensor per_parameter)                   // NOLINT(google-explicit-constructor)
        : per_parameter(std::move(per_parameter)) {}
    double scalar = 1.0;
    Tensor per_parameter;  // [D]; when defined, `scalar` is ignored
};

struct Config {
    Structure structure = Structure::dense_ggn;
    nn::Likelihood likelihood = nn::Likelihood::categorical();
    PriorPrecision prior_precision = 1.0;
    // N, the training-set size: the curvature and the log-likelihood are multiplied by
    // N / (samples fed). 0: the data fed is the whole training set (no scaling).
    std::int64_t num_data = 0;
    // Added to the diagonal of P for dense_hessian only, to make an indefinite Hessian (θ* not
    // exactly a minimum) positive definite; posteriors' `epsilon`. The other structures are
    // positive semi-definite by construction and the prior makes P definite.
    double jitter = 0.0;
    // Samples per forward/backward pass of the fast road (0: its default; see ggn.h).
    std::int64_t chunk_size = 0;
};

struct State {
    Tensor mean;       // θ* [D] (a copy of the θ given to init)
    Tensor curvature;  // C: [D] (diagonal) or [D, D] (dense), summed over the batches fed
    // Σ_n log p(y_n | x_n, θ*) over the samples fed (one-element tensor, θ's dtype/device).
    Tensor log_likelihood;
    std::int64_t num_samples = 0;  // samples fed
    std::int64_t step = 0;         // batches fed
    // Set by fit(), reset by update(): P ([D] or [D, D]) and, dense, its lower Cholesky factor.
    Tensor precision;
    Tensor precision_cholesky;
};

class Transform {
  public:
    // The model is held by reference: update() evaluates it at state.mean, writing the mean
    // into the model's θ when the two do not share storage. Throws postr::Error for a prior
    // precision that is not positive and finite, a negative num_data or jitter.
    Transform(nn::Module& model, Config config);

    // State at the MAP θ* [D] (the model's dtype and device): C = 0, nothing fed.
    State init(const Tensor& theta) const;
    // Adds the batch's curvature and log-likelihood (batch.inputs [B, ...], batch.targets as the
    // likelihood wants). Throws when the batch is empty, when the dense Hessian is asked for
    // D > 5000, or when the curvature becomes non-finite (naming the batch).
    void update(State& state, const Batch& batch) const;
    // P = s·C + diag(λ) (+ jitter·I), s = N / num_samples (1 when num_data = 0), and for dense
    // structures its Cholesky factor. Throws when nothing was fed, or NotPositiveDefinite.
    void fit(State& state) const;

    // The dataset-size scaling s for this state.
    double scale(const State& state) const;
    // P⁻¹: [D] (diagonal) or [D, D] (dense). Requires fit().
    Tensor covariance(const State& state) const;
    // n draws θ* + P^{-1/2} ε: [n, D]. Dense: θ* + L⁻ᵀ ε with P = L Lᵀ, so Cov = P⁻¹. Requires
    // fit(); advances gen.
    Tensor sample(const State& state, std::int64_t n, Generator& gen) const;
    // The Laplace evidence
    //   log p(D) ≈ s·Σ_n log p(y_n | x_n, θ*) + log N(θ* | 0, diag(1/λ)) + (D/2) log 2π
    //              − ½ log det P,
    // exact for a linear-Gaussian model with the GGN or Hessian. Requires fit().
    double log_marginal_likelihood(const State& state) const;

    const Config& config() const { return config_; }

  private:
    Tensor prior_vector(const Tensor& like) const;  // λ as [D] on like's dtype/device
    void check_fitted(const char* op, const State& state) const;

    nn::Module& model_;
    Config config_;
};

Transform build(nn::Module& model, Config config);

}  // namespace postr::inference::laplace
