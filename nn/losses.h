// Losses on model outputs. Each returns a scalar Var (rank 0), differentiable in its Var
// arguments. f32/f64, any device (the arguments must agree).
#pragma once

#include "postr/autodiff/var.h"

namespace postr::nn {

enum class Reduction { mean, sum };

// −Σ_n log softmax(logits_n)[labels_n] (sum) or its mean over N.
// logits: [N, C], labels: i64 [N] with values in [0, C). Throws on shape, dtype or label-range
// errors.
Var cross_entropy(const Var& logits, const Tensor& labels, Reduction reduction = Reduction::mean);

// Gaussian negative log-likelihood, elementwise ½(log(2πσ²) + (y − μ)²/σ²), summed or averaged
// over all elements. mean and target: the same shape. The variance is a fixed σ² > 0, or a Var
// (learned noise) broadcastable to mean's shape, e.g. rank 0 or [1]; it must stay positive
// (parameterize it as exp(log σ²)). Throws on shape mismatch or a non-positive fixed variance.
Var gaussian_nll(const Var& mean, const Var& target, double variance,
                 Reduction reduction = Reduction::mean);
Var gaussian_nll(const Var& mean, const Var& target, const Var& variance,
                 Reduction reduction = Reduction::mean);

// Σ (prediction − target)² (sum) or its mean over all elements; shapes must be equal.
Var mse(const Var& prediction, const Var& target, Reduction reduction = Reduction::mean);

}  // namespace postr::nn
