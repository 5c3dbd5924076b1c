// Recomputing batch-norm running statistics for a new θ (PyTorch's
// torch.optim.swa_utils.update_bn). Running statistics belong to the weights they were
// collected with: a SWAG or Laplace weight sample, or SWA's averaged weights, normalizes with
// stale means and variances unless they are recomputed at those weights with a pass over
// training data. Without it, SWAG's predictive degrades (Maddox et al. 2019, the bn_update of
// their code).
#pragma once

#include <cstdint>
#include <functional>

#include "postr/core/tensor.h"
#include "postr/nn/module.h"

namespace postr::nn {

// Resets every BatchNorm2d in `model` and sets its running mean and variance to the plain
// average, over batch(0) … batch(num_batches − 1), of the batch statistics at the current θ
// (momentum 1/k for the k-th batch, as PyTorch's momentum=None); num_batches_tracked counts
// them. Runs the batches in training mode without recording a graph; restores each layer's
// momentum and the model's training/evaluation mode afterwards. θ is not changed. Dropout, if
// any, is active during the pass, as in PyTorch. A model without batch norm is left untouched
// (no forward pass). Throws postr::Error when num_batches < 1.
void update_batch_norm_statistics(Module& model, std::int64_t num_batches,
                                  const std::function<Tensor(std::int64_t)>& batch);

}  // namespace postr::nn
