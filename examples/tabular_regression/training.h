// MAP training of the UCI-style MLP (d → hidden → 1, ReLU) with a Gaussian likelihood and a
// learned noise, and diagonal SWAG at the MAP (the paper's marginal variances for the
// Wasserstein rule).
#pragma once

#include <cstdint>
#include <memory>

#include "postr/core/tensor.h"
#include "postr/nn/layers/sequential.h"

namespace postr::examples::tabular {

struct TrainConfig {
    std::int64_t hidden = 50;
    std::int64_t epochs = 100;
    std::int64_t batch_size = 32;
    double lr = 1e-2;              // peak; cosine decay to lr/100
    double prior_precision = 1.0;  // λ of the N(0, 1/λ) weight prior (= weight decay λ/N)
    std::uint64_t seed = 0;
};

struct Trained {
    std::unique_ptr<nn::Sequential> model;  // finalized, f64, eval mode, at the MAP
    double sigma = 0;                       // the learned noise std (standardised units)
    double sum_squared_error = 0;           // Σ_n (y_n − f(x_n; θ*))² on the training split
};

// Minimises the per-datum negative log posterior
//   (1/N) Σ_n −log N(y_n | f(x_n; θ), σ²) + λ/(2N) ‖θ‖²
// jointly over θ and log σ (flat prior on log σ) with minibatch Adam. x [N, d], y [N, 1].
Trained train_map(const Tensor& x, const Tensor& y, const TrainConfig& config);

// Diagonal SWAG (Maddox et al. 2019) from the MAP: `epochs` passes of minibatch SGD (lr) on the
// per-datum negative log posterior with σ fixed, collecting the per-weight variance of the
// iterates after every step of the last 80%. θ is restored to the MAP. → [D].
Tensor swag_variances(nn::Sequential& model, double sigma, double prior_precision, const Tensor& x,
                      const Tensor& y, std::int64_t epochs, std::int64_t batch_size, double lr,
                      std::uint64_t seed);

}  // namespace postr::examples::tabular
