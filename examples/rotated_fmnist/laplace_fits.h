// The experiment's linearized Laplace posteriors over the MAP network, all fitted the same way
// so they compare like for like: the exact GGN (categorical likelihood) over a random subset of
// the training images scaled up to the whole training set, an isotropic Gaussian prior whose
// precision λ follows one rule for every method (the validation NLL, the Laplace evidence of that
// posterior, or the weight-decay prior), and the probit predictive.
//   - diagonal Laplace: every weight, diagonal covariance;
//   - last-layer Laplace: the subnetwork of fc's weights and biases, full covariance;
//   - Wasserstein / random subnetwork: S weights, full covariance, chosen among the
//     convolution and linear weights only (no biases, no batch-norm parameters, as the paper).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "postr/inference/diagonal_linearized_laplace.h"
#include "postr/inference/subnetwork_laplace.h"

#include "examples/rotated_fmnist/training.h"

namespace postr::examples::rotated {

struct LaplaceSettings {
    io::ImageDataset fit_data;   // the images the GGN is accumulated over
    double ggn_scale = 1.0;      // training images / fit images
    double initial_prior = 1.0;  // λ of the weight-decay prior
    // How λ is chosen: "validation" (the grid λ with the lowest validation NLL), "evidence"
    // (maximise the Laplace evidence) or "weight-decay" (keep initial_prior).
    std::string prior = "evidence";
    Tensor validation_x, validation_y;  // normalised images and labels, on the device
    std::vector<double> grid;           // the λ candidates of the validation rule
    Normalization normalization;
    Device device = Device::cpu();
};

std::unique_ptr<inference::DiagonalLinearizedLaplace> fit_diagonal_laplace(
    nn::Module& model, const LaplaceSettings& settings);

// `name` labels the printed summary line.
std::unique_ptr<inference::SubnetworkLaplace> fit_subnetwork_laplace(
    nn::Module& model, const Tensor& index, const LaplaceSettings& settings,
    const std::string& name);

// The paper's candidate weights: convolution and linear weights, no biases or batch norm.
Tensor weight_candidates(const nn::Module& model);
// The S candidates of largest variance (the Wasserstein rule): variances [D] over all of θ.
Tensor select_wasserstein(const nn::Module& model, const Tensor& variances, std::int64_t s);
// S candidates uniformly at random.
Tensor select_random_weights(const nn::Module& model, std::int64_t s, std::uint64_t seed);

}  // namespace postr::examples::rotated
