// The experiment's outputs: results.csv (one row per method and angle), a table per metric on
// stdout (methods × angles), and plot.svg (NLL, accuracy, ECE and Brier score against the
// rotation, one line per method, with a legend).
#pragma once

#include <string>
#include <vector>

#include "postr/inference/metrics.h"

namespace postr::examples::rotated {

struct Result {
    std::string method;  // the key of all_methods()
    double angle = 0;    // degrees
    inference::ClassificationMetrics::Summary metrics{};
};

// A method's name in the table and the legend ("diag_laplace" → "diagonal Laplace").
std::string display_name(const std::string& method);

void write_csv(const std::vector<Result>& results, const std::string& path);
void print_tables(const std::vector<Result>& results);
// Throws postr::Error naming the path when it cannot be written.
void write_plot(const std::vector<Result>& results, const std::string& path,
                const std::string& subtitle);

}  // namespace postr::examples::rotated
