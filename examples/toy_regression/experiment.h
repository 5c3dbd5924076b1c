// The 1-D toy regression of Daxberger et al., "Bayesian Deep Learning via Subnetwork Inference"
// (ICML 2021), Figure 1 / Section 5.1: data in two separated clusters, an MLP 1 → 50 → 50 → 1
// (ReLU) trained at the MAP with a learned Gaussian noise, then linearized Laplace posteriors of
// different structure compared on how much "in-between" uncertainty (between the clusters) they
// keep.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "postr/core/tensor.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/nn/layers/sequential.h"

namespace postr::examples::toy {

// The data-generating process (documented in README.md): x uniform on the two clusters
// [−2, −1] ∪ [1, 2], y = sin(3x) + ε, ε ~ N(0, 0.1²). The gap (−1, 1) holds no training data.
constexpr double kClusterInner = 1.0, kClusterOuter = 2.0, kNoiseStd = 0.1;
double true_function(double x);

struct Data {
    Tensor x, y;  // [N, 1] each, f64
};
// n points per cluster (`gap`: n points uniform on the gap instead).
Data make_data(std::int64_t n_per_cluster, std::uint64_t seed, bool gap = false);

struct TrainConfig {
    std::int64_t hidden = 50;
    std::int64_t epochs = 3000;    // full-batch Adam steps
    double lr = 1e-2;              // peak; cosine decay to lr/100
    double prior_precision = 1.0;  // λ of the N(0, 1/λ) weight prior (= weight decay λ/N)
    std::uint64_t seed = 0;
};

struct Trained {
    std::unique_ptr<nn::Sequential> model;  // finalized, f64, eval mode, at the MAP
    double sigma = 0;                       // the learned noise std
    double train_nll = 0;                   // mean Gaussian NLL on the training data at the MAP
};
// MAP training: minimizes the per-datum negative log posterior
//   (1/N) Σ_n −log N(y_n | f(x_n; θ), σ²) + λ/(2N) ‖θ‖²
// jointly over θ and log σ (flat prior on log σ) with full-batch Adam.
Trained train_map(const Data& train, const TrainConfig& config);

// One posterior: a name for tables and plots, the number of weights with a posterior, its prior
// precision, and the linearized predictive in function space over the requested inputs.
struct MethodResult {
    std::string name;
    std::int64_t parameters = 0;
    double prior_precision = 0;
    std::vector<inference::FunctionalPosterior> predictions;  // one per input set
};

// Diagonal SWAG (Maddox et al. 2019), the paper's estimate of the marginal variances for the
// Wasserstein rule: from the MAP, `steps` SGD steps on minibatches of the per-datum negative log
// posterior (noise σ fixed at the learned value), collecting the per-weight variance of the
// iterates after `burn_in` steps. θ is restored to the MAP afterwards. → [D].
struct SwagConfig {
    std::int64_t steps = 600, burn_in = 100, batch_size = 16;
    double lr = 1e-3;
    std::uint64_t seed = 0;
};
Tensor swag_variances(nn::Sequential& model, double sigma, double prior_precision,
                      const Data& train, const SwagConfig& config);

// Where the Wasserstein rule's marginal variances come from.
enum class VarianceEstimate {
    swag,              // diagonal SWAG (default; the paper's choice)
    diagonal_laplace,  // 1/(diag G + λ) of the diagonal Laplace: degenerate here (README.md)
};

struct MethodsConfig {
    double prior_precision = 1.0;  // shared λ (unless tune_prior)
    bool tune_prior = false;       // each method maximizes its own Laplace evidence
    std::vector<double> fractions = {0.5, 0.03, 0.01};  // subnetwork sizes, of the weights
    std::uint64_t seed = 0;                             // for the random subnetworks
    bool full = true;  // include the full-covariance Laplace (D×D)
    VarianceEstimate variances = VarianceEstimate::swag;
    SwagConfig swag;
};

// Fits every method on the training data and predicts at each of `inputs`: MAP, full Laplace,
// diagonal Laplace, last layer, then Wasserstein (largest marginal variance), largest-curvature
// (nn::select_largest_curvature) and random subnetworks at each fraction.
// Subnetwork candidates are the weights without the biases (2,600 for the 50-unit MLP, the
// paper's count); the full and diagonal Laplace cover all D = 2,701 parameters.
std::vector<MethodResult> fit_methods(nn::Sequential& model, double sigma, const Data& train,
                                      const std::vector<Tensor>& inputs,
                                      const MethodsConfig& config);

}  // namespace postr::examples::toy
