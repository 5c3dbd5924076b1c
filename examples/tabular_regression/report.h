// The outputs of the tabular regression program: results.csv (one row per split and method),
// the printed summary (mean ± standard error over splits) and test_ll.svg (test log-likelihood
// (mean over splits) against the subnetwork size, log x axis, one line per method, one panel per
// split type).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "examples/tabular_regression/methods.h"

namespace postr::examples::tabular {

// A result with the split it came from.
struct Row {
    std::string split;      // "standard" or "gap"
    std::int64_t seed = 0;  // standard: the split's index; gap: the held-out feature's index
    Result result;
};

// Columns: split,seed,method,S,fraction,test_ll,rmse,prior_precision,sigma.
void write_results_csv(const std::vector<Row>& rows, const std::string& path);

// Per split type, method and S: the mean and standard error (std / √n) over the splits.
struct SummaryRow {
    std::string split, method;
    std::int64_t s = 0;
    double fraction = 0;
    std::int64_t count = 0;
    double ll_mean = 0, ll_se = 0, rmse_mean = 0, rmse_se = 0;
    // The paired difference test_ll − test_ll(MAP) of the same split: most of the spread of
    // test_ll is between splits (different test sets), which this cancels.
    double gain_mean = 0, gain_se = 0;
};
std::vector<SummaryRow> summarise(const std::vector<Row>& rows);
void print_summary(const std::vector<SummaryRow>& summary, std::int64_t num_parameters);
// The figure; `title` goes above the panels.
void write_plot(const std::vector<SummaryRow>& summary, const std::string& title,
                const std::string& path);

}  // namespace postr::examples::tabular
