// The posteriors compared on one split: subnetwork linearized Laplace with Wasserstein, random
// or largest-curvature selection at each size S, and as references the full-network diagonal
// Laplace, the last-layer (full-covariance) Laplace and the full Laplace over all weights. Each
// has its prior precision λ and noise σ tuned by its own Laplace evidence (MacKay's fixed-point
// updates; README.md) and is scored on the test set in the units of the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "examples/tabular_regression/data.h"
#include "examples/tabular_regression/training.h"

namespace postr::examples::tabular {

struct MethodConfig {
    std::vector<std::string> methods;  // wasserstein, random, curvature, diagonal, last_layer, full
    std::vector<double> fractions;     // subnetwork sizes as fractions of the candidates
    std::string variances = "swag";    // or "laplace": the Wasserstein rule's marginal variances
    bool include_biases = false;
    double prior_precision = 1.0;  // the starting λ (the MAP training's)
    int hyper_iterations = 100;
    std::int64_t swag_epochs = 10, batch_size = 32;
    double swag_lr = 1e-2;
    std::uint64_t seed = 0;  // random subnetworks, SWAG
};

// One row of results.csv.
struct Result {
    std::string method;          // "wasserstein", "random", "curvature", "diagonal", "last_layer",
                                 // "full" or "map"
    std::int64_t s = 0;          // weights with a (co)variance: the subnetwork size, D for diagonal
    double fraction = 0;         // s / candidates (the subnetwork rules); 0 otherwise
    double test_ll = 0;          // mean Gaussian log-likelihood per test point, original units of y
    double rmse = 0;             // original units
    double prior_precision = 0;  // the tuned λ
    double sigma = 0;            // the tuned noise σ, original units
};

// Fits every method on the split's training data at the trained MAP and evaluates it on the
// test data. The first row is the MAP itself (its learned σ, no weight uncertainty).
std::vector<Result> fit_and_evaluate(Trained& trained, const SplitData& data,
                                     const MethodConfig& config);

}  // namespace postr::examples::tabular
