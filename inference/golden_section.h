// One-dimensional maximisation for hyperparameters such as a prior precision: golden-section
// search on a log scale, which needs no derivative and one evaluation per step.
#pragma once

#include <functional>

namespace postr::inference {

// The x in [low, high] (0 < low < high < ∞) maximising f, assumed unimodal in log x, to
// `tolerance` in log x. Evaluates f last at the returned x, so a caller whose f sets state
// (e.g. refits at a prior precision) is left at the optimum. Throws postr::Error naming `op`
// for a bad range.
double maximise_on_log_scale(const std::function<double(double)>& f, double low, double high,
                             const char* op, double tolerance = 1e-6);

}  // namespace postr::inference
