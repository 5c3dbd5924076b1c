// The objective every posterior algorithm in inference/ works on: a log-posterior of the flat
// parameter vector θ (DESIGN.md decision 1) evaluated on a mini-batch, in the convention of the
// `posteriors` library — per datum, averaged:
//
//   ℓ(θ; batch) = (1/B) Σ_{i ∈ batch} log p(y_i | x_i, θ) + (1/N) log p(θ),
//
// so N·ℓ is an unbiased estimate of the log posterior up to a constant. Algorithms take a
// temperature T with it: T = 1/N targets the Bayesian posterior, T = 0 is optimisation (the
// MAP), and in between are tempered posteriors.
#pragma once

#include <cstdint>
#include <functional>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/var.h"
#include "postr/core/tensor.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

// What a log-posterior reads for one step: a mini-batch of inputs and targets (either may be
// undefined when the log-posterior does not need it).
struct Batch {
    Tensor inputs;
    Tensor targets;
};

// θ [D] (a Var: gradients and tangents flow through it) and a batch → a one-element Var.
using LogPosterior = std::function<Var(const Var& theta, const Batch& batch)>;

// ℓ for a postr model through functional_call: the likelihood's mean log-density over the
// batch plus (1/N) log N(θ | 0, I/λ) (an isotropic Gaussian prior of precision λ, with its
// normalising constant). The model is held by reference. Throws postr::Error unless λ > 0
// and N ≥ 1.
LogPosterior model_log_posterior(nn::Module& model, const nn::Likelihood& likelihood,
                                 double prior_precision, std::int64_t num_data);

// ℓ(θ; batch) and ∇ℓ(θ; batch).
ValueAndGrad log_posterior_and_grad(const LogPosterior& log_posterior, const Tensor& theta,
                                    const Batch& batch);

}  // namespace postr::inference
