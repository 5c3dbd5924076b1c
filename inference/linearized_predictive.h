// Predictive distributions of a linearized Laplace approximation, shared by every posterior
// structure (subnetwork, diagonal, KFAC): each of them produces the Gaussian over the network
// outputs f(x*) ~ N(μ, Σ) for a batch of test inputs, and everything downstream (class
// probabilities, regression moments) depends only on that Gaussian. Keeping these functions
// here, on a plain struct, is what lets the posterior structures be compared like for like.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

// The linearized predictive in function space for N test inputs with C outputs each: the joint
// Gaussian over the C outputs of each input (inputs are independent of each other here).
struct FunctionalPosterior {
    Tensor mean;        // f(x*; θ_MAP): [N, C]
    Tensor covariance;  // J_* Σ J_*ᵀ: [N, C, C], symmetric positive semidefinite
};

// The diagonal of each covariance, [N, C] (a view when the covariance is contiguous).
Tensor marginal_variances(const FunctionalPosterior& f);

// Class probabilities [N, C] by the probit approximation
//   p ≈ softmax_c(μ_c / √(1 + π/8 · Σ_cc))
// (MacKay 1992; the per-class form laplace-torch uses). Cheap and the default.
Tensor probit_probabilities(const FunctionalPosterior& f);

// Class probabilities [N, C] by the Laplace bridge (Hobbhahn, Kristiadi & Hennig, UAI 2022): the
// Dirichlet whose Laplace approximation in the softmax basis matches N(μ, diag Σ), after
// centring μ and rescaling Σ as the paper prescribes; its mean
//   α_c = (1 − 2/C + e^{μ_c} Σ_k e^{−μ_k} / C²) / Σ_cc,   p_c = α_c / Σ_k α_k.
// Only the diagonal of Σ enters. Needs C ≥ 2.
Tensor laplace_bridge_probabilities(const FunctionalPosterior& f);

// Class probabilities [N, C] by Monte Carlo in function space: the average of softmax(μ + L ε)
// over `samples` draws, L the Cholesky factor of Σ (+ a jitter of 1e-10·max diag when Σ is only
// semidefinite, which it is whenever C exceeds the subnetwork's rank).
Tensor monte_carlo_probabilities(const FunctionalPosterior& f, std::int64_t samples,
                                 Generator& gen);

// Test inputs per chunk for a predictive that forms per-sample Jacobians taking
// `bytes_per_sample` (with their copies): about 256 MiB per chunk and at most 64 samples, so the
// layers' cotangents stay bounded too (as in DenseCurvature). requested > 0 overrides.
std::int64_t prediction_chunk(std::int64_t bytes_per_sample, std::int64_t requested);

// The network outputs f(x; θ) at the model's current weights (the MAP), without recording a
// graph: the predictive mean of a linearized Laplace. x [n, ...] → [n, C].
Tensor map_outputs(nn::Module& model, const Tensor& x);

// Calls fn(xc) over consecutive chunks xc of at most `chunk` inputs of x [N, ...], in order.
void for_each_chunk(const Tensor& x, std::int64_t chunk,
                    const std::function<void(const Tensor&)>& fn);

// Regression with a Gaussian likelihood: the predictive mean and per-output variance [N, C],
// of the function (noise_variance = 0) or of a new observation (noise_variance = σ², added to
// every output's variance).
struct RegressionPredictive {
    Tensor mean;      // [N, C]
    Tensor variance;  // [N, C]
};
RegressionPredictive regression_predictive(const FunctionalPosterior& f,
                                           double noise_variance = 0.0);

// The mean negative log-likelihood of held-out targets under the predictive read out as each
// likelihood's default: probit class probabilities for a categorical likelihood (targets: labels
// i64 [N]), N(μ, diag Σ + σ²) for a Gaussian one (targets [N, C]). The score by which every
// Laplace approximation picks its prior precision on validation data, so they compare like for
// like.
double validation_nll(const FunctionalPosterior& f, const Tensor& targets,
                      const nn::Likelihood& likelihood);

// Throws postr::Error naming `op` unless `grid` holds at least one prior precision and all are
// positive and finite.
void check_prior_grid(const std::vector<double>& grid, const char* op);

// The index of the smallest score (the first on ties; NaN scores never win).
std::size_t argmin(const std::vector<double>& scores);

}  // namespace postr::inference
