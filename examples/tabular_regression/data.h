// The data side of the tabular regression program: loading a CSV into features and target, a
// synthetic data set for tests, the train/test splits ("standard" random splits and the "gap"
// splits of Foong et al. 2019) and the standardisation fitted on the training split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::examples::tabular {

// Features X [N, d] and target y [N], f64 on the host, with the column names.
struct Dataset {
    std::vector<double> x;  // row-major [N, d]
    std::vector<double> y;  // [N]
    std::int64_t rows = 0, features = 0;
    std::vector<std::string> feature_names;
    std::string target_name;
};

// Reads `path` (header row required) and takes `target` (empty: the last column) as y.
// Throws postr::Error (from io::read_csv and below) for a malformed file, an unknown target or
// fewer than 10 rows.
Dataset load_csv(const std::string& path, char delimiter, const std::string& target);

// Writes a synthetic regression data set: 4 features (x1, x2 ~ U[−2, 2], x3, x4 ~ N(0, 1)),
// y = sin(2 x1) + 0.5 x2² − 0.5 x3 x4 + x4 + ε, ε ~ N(0, 0.3²); columns x1..x4,y.
void write_synthetic_csv(const std::string& path, std::int64_t rows, std::uint64_t seed);

// One split: row indices of the training and test sets, and a name for the tables.
struct Split {
    std::string type;     // "standard" or "gap"
    std::int64_t id = 0;  // standard: the split's seed offset; gap: the held-out feature
    std::vector<std::int64_t> train, test;
};
// Random splits, each holding out round(test_fraction · N) rows (at least 1), from seed + i.
std::vector<Split> standard_splits(std::int64_t rows, std::int64_t count, double test_fraction,
                                   std::uint64_t seed);
// Foong et al. ("In-Between" Uncertainty in Bayesian Neural Networks, 2019): for each feature
// j, the rows sorted by x_j; the middle third is the test set, the outer two thirds the
// training set (ties broken by row order). `max_features` > 0 limits to the first features.
std::vector<Split> gap_splits(const Dataset& data, std::int64_t max_features);

// Standardisation fitted on the training rows: x ← (x − mean) / std per feature (a constant
// feature keeps std 1), y ← (y − mean_y) / std_y. The model sees standardised data; the
// predictive is mapped back as mean_y + std_y · m and std_y² · v (so the test log-likelihood
// of the original y is that of the standardised one minus log std_y).
struct SplitData {
    Tensor x_train, y_train, x_test, y_test;  // standardised, f64: x [n, d], y [n, 1]
    Tensor y_test_original;                   // [n, 1] in the units of the file
    double y_mean = 0, y_std = 1;
};
SplitData standardise(const Dataset& data, const Split& split);

}  // namespace postr::examples::tabular
