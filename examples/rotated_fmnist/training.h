// Training the experiment's networks (the MAP, the ensemble members, the dropout network) with
// SGD + momentum and a cosine learning rate, as examples/resnet18 does; snapshots of a model's
// weights and batch-norm statistics; and its softmax predictive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/tensor.h"
#include "postr/io/data_loader.h"
#include "postr/io/datasets.h"
#include "postr/nn/module.h"

namespace postr::examples::rotated {

// Per-channel normalisation of the images (Fashion-MNIST's mean and std).
struct Normalization {
    std::vector<double> mean{0.2860}, std{0.3530};
};

// Batches of `data` normalised, in a seeded random order (shuffle) or in order.
io::DataLoader make_loader(const io::ImageDataset& data, const Normalization& normalization,
                           std::int64_t batch_size, bool shuffle, std::uint64_t seed = 0);

struct TrainSettings {
    std::int64_t epochs = 2;
    std::int64_t batch_size = 128;
    double lr = 0.05;  // peak; cosine annealing to 0 over the run
    double momentum = 0.9;
    double weight_decay = 5e-4;
    std::uint64_t seed = 0;  // data order
};

// Trains `model` in place (training mode, then left in evaluation mode) and prints one line per
// epoch naming `name`. Returns the mean training loss of the last epoch. Throws postr::Error
// when the loss becomes non-finite.
double train(nn::Module& model, const io::ImageDataset& data, const Normalization& normalization,
             const TrainSettings& settings, Device device, const std::string& name);

// The weights θ and every buffer (batch-norm running statistics) of a model, copied.
struct ModelState {
    Tensor theta;
    std::vector<Tensor> buffers;
};
ModelState save_state(const nn::Module& model);
// Copies a saved state into a model of the same architecture.
void load_state(nn::Module& model, const ModelState& state);

// softmax(model(x)) without a graph, `chunk` inputs at a time: x [N, ...] on the model's device
// → [N, C]. Uses the model's current mode (evaluation for a deterministic prediction).
Tensor predict_softmax(nn::Module& model, const Tensor& x, std::int64_t chunk = 500);

}  // namespace postr::examples::rotated
