// The example's posterior stage: a subnetwork linearized Laplace approximation over the trained
// ResNet-18 (inference/subnetwork_laplace.h), with the subnetwork chosen from a diagonal
// Laplace (Monte Carlo diagonal GGN) by the largest-curvature rule (default) or the
// Wasserstein rule (see nn/curvature/subnetwork.h for why the former suits a diagonal
// Laplace), compared with the MAP network on the test set and on a rotated copy of it.
#pragma once

#include <cstdint>
#include <string>

#include "postr/io/datasets.h"
#include "postr/nn/module.h"

namespace postr::examples {

struct PosteriorOptions {
    std::int64_t subnetwork = 0;    // S, the weights with a full covariance (0: no posterior)
    bool wasserstein = false;       // selection: largest variance instead of largest curvature
    std::int64_t fit_samples = 0;   // training images for the diagonal and the dense GGN
    std::int64_t test_samples = 0;  // test images to evaluate on (0: all)
    double prior_precision = 0;     // λ (0: weight decay × training-set size)
    bool tune_prior = false;        // maximise the Laplace evidence over λ after fitting
    bool weights_only = false;      // candidates: layer weights only, as the paper
    std::string save_posterior;     // safetensors path for the fitted posterior ("": none)
    double rotation_degrees = 0;    // the shifted test set's rotation
    std::int64_t batch_size = 0;
    std::uint64_t seed = 0;
};

// Normalisation of the images the model was trained on.
struct Normalization {
    std::vector<double> mean, std;
};

// Fits the posterior and prints MAP vs subnetwork Laplace accuracy, NLL, ECE and Brier on the
// test set and the rotated test set.
void fit_and_compare(nn::Module& model, const io::ImageDataset& train, const io::ImageDataset& test,
                     const Normalization& normalization, const PosteriorOptions& options,
                     Device device);

}  // namespace postr::examples
