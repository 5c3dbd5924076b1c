// A scalar hyperparameter that may change with the step: the learning rate or the temperature of
// a posterior algorithm (posteriors' `float | Schedule`). A Schedule is a function of the 0-based
// step index t (the number of updates already applied) and converts implicitly from a constant,
// so `Config{.lr = 1e-3}` and `Config{.lr = [](std::int64_t t) { return 1e-3 / (1 + t); }}` both
// work.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

namespace postr::inference {

class Schedule {
  public:
    // An unset schedule: operator bool is false, and calling it throws std::bad_function_call.
    // Algorithms check for it at build time and say which hyperparameter is missing.
    Schedule() = default;
    // A constant c: t ↦ c.
    Schedule(double value) : fn_([value](std::int64_t) { return value; }), constant_(true) {}
    // Any callable t ↦ value. (A template so that lambdas convert without an explicit wrap.)
    template <class F>
    requires std::is_invocable_r_v<double, F, std::int64_t> &&
        (!std::is_arithmetic_v<std::decay_t<F>>)&&(!std::is_same_v<std::decay_t<F>, Schedule>)
            Schedule(F fn)
        : fn_(std::move(fn)) {}

    double operator()(std::int64_t step) const { return fn_(step); }
    explicit operator bool() const { return static_cast<bool>(fn_); }
    // True when built from a constant, so its value can be validated once at build time.
    bool is_constant() const { return constant_; }

  private:
    std::function<double(std::int64_t)> fn_;
    bool constant_ = false;
};

// The value of `schedule` at `step`; throws postr::Error naming `op`, `name`, the step and the
// value unless it is finite and > 0 (positive) or ≥ 0 (!positive), or when it is unset.
double schedule_value(const char* op, const char* name, const Schedule& schedule, std::int64_t step,
                      bool positive);

}  // namespace postr::inference
