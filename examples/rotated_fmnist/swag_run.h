// Diagonal SWAG (Maddox et al. 2019) from a trained network: SGD with momentum at a constant
// learning rate continues from the MAP for a few epochs, and the running moments of evenly
// spaced iterates (inference/swag.h with rank 0) give N(θ̄, ½·diag(θ²̄ − θ̄²)). Its marginal
// variances are also what the paper's Wasserstein subnetwork rule selects from.
//
// Batch norm: the SGD steps run in training mode, so the running statistics follow the
// trajectory. Each weight sample then gets its own statistics, recomputed at that sample over
// training images (nn::update_batch_norm_statistics, the bn_update of the SWAG paper's code), or,
// with no images given, the statistics from the end of the SGD run.
#pragma once

#include <cstdint>
#include <vector>

#include "postr/core/philox.h"
#include "postr/inference/swag.h"

#include "examples/rotated_fmnist/training.h"

namespace postr::examples::rotated {

struct SwagSettings {
    std::int64_t epochs = 1;
    double lr = 0.01;  // constant
    double momentum = 0.9;
    double weight_decay = 5e-4;
    std::int64_t batch_size = 128;
    std::int64_t snapshots = 20;  // spread evenly over the run
    std::uint64_t seed = 0;       // data order
};

// Training images over which batch-norm statistics are recomputed for each weight sample.
struct BatchNormRefresh {
    io::ImageDataset data;
    Normalization normalization;
    std::int64_t batch_size = 128;
    Device device = Device::cpu();
};

struct SwagPosterior {
    inference::swag::Transform transform;
    inference::swag::State state;
    std::vector<Tensor> buffers;    // batch-norm statistics at the end of the SGD run
    std::vector<ModelState> drawn;  // the weight samples of the predictive, with statistics

    // Σ_diag scaled as the predictive samples it: scale · max(θ²̄ − θ̄², 0), [D].
    Tensor variances() const;
    // Draws `samples` weight vectors once, so that every later predict (every rotation) sees
    // the same networks, each with batch-norm statistics recomputed over `refresh` (nullptr:
    // the end-of-run statistics). The model's weights and buffers are restored afterwards.
    void draw(nn::Module& model, std::int64_t samples, std::uint64_t seed,
              const BatchNormRefresh* refresh);
    // softmax averaged over the drawn samples: x [N, ...] → [N, C]. Needs draw(). The model's
    // weights and buffers are restored afterwards.
    Tensor predict(nn::Module& model, const Tensor& x) const;
};

// Runs the SGD from the model's current weights (left unchanged: the MAP is restored after).
SwagPosterior fit_swag(nn::Module& model, const io::ImageDataset& data,
                       const Normalization& normalization, const SwagSettings& settings,
                       Device device);

}  // namespace postr::examples::rotated
