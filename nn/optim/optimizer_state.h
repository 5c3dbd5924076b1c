// Helpers shared by the optimizers' state() and load_state(): named state entries for
// checkpoints, checked on the way in.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::nn {

// An optimizer's state as (name, tensor) pairs, e.g. {"step", i64 scalar}, {"exp_avg", [D]}.
using OptimizerState = std::vector<std::pair<std::string, Tensor>>;

namespace detail {

// Throws unless every name in `state` is one of `allowed` and appears once.
void check_state_names(const char* op, const OptimizerState& state,
                       std::initializer_list<const char*> allowed);
// The tensor named `name`, or an undefined tensor when absent.
Tensor find_state(const OptimizerState& state, const char* name);
// The "step" entry (a one-element tensor holding a count ≥ 0); throws when missing or invalid.
std::int64_t load_step(const char* op, const OptimizerState& state);
// A fresh copy of `t` on params' device and in its dtype; throws when t's shape differs.
Tensor load_buffer(const char* op, const char* name, const Tensor& t, const Tensor& params);

}  // namespace detail
}  // namespace postr::nn
