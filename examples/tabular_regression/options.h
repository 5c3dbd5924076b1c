// The command-line flags of the tabular regression program (README.md; `--help`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace postr::examples::tabular {

struct Options {
    std::string csv;       // the data (required unless --make-synthetic)
    char delimiter = ',';  // field separator of the CSV
    std::string target;    // the target column's name ("": the last column)
    std::string out_dir = "build/tabular_regression";
    std::string make_synthetic;  // write a synthetic CSV here and exit
    std::int64_t synthetic_rows = 500;
    std::vector<std::string> split_types = {"standard", "gap"};
    std::int64_t splits = 5;            // random 90/10 splits (standard)
    std::int64_t max_gap_features = 0;  // gap splits for the first N features (0: all)
    double test_fraction = 0.1;         // of the standard splits
    std::int64_t hidden = 50;           // units of the one hidden layer (the UCI benchmarks' 50)
    std::int64_t epochs = 100;          // minibatch Adam passes over the training split
    std::int64_t batch_size = 32;
    double lr = 1e-2;              // Adam's peak learning rate (cosine decay to lr/100)
    double prior_precision = 1.0;  // λ of the MAP training's N(0, 1/λ) prior
    std::vector<double> fractions = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0};
    std::vector<std::string> methods = {"wasserstein", "random", "diagonal", "last_layer"};
    std::string variances = "swag";  // marginal variances for the Wasserstein rule, or "laplace"
    bool include_biases = false;     // biases as subnetwork candidates (the paper: weights only)
    int hyper_iterations = 100;      // MacKay iterations of the evidence optimisation
    std::uint64_t seed = 0;
    int threads = 0;
    bool help = false;
};

std::string usage();
// Throws postr::Error naming the flag for an unknown flag, a missing or malformed value.
Options parse_options(int argc, char** argv);

}  // namespace postr::examples::tabular
