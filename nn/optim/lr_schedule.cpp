// Learning-rate schedules (nn/optim/lr_schedule.h).
#include "postr/nn/optim/lr_schedule.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "postr/core/error.h"

namespace postr::nn {
namespace {

void check_t(const char* op, std::int64_t t) {
    POSTR_CHECK(t >= 0, op, ": step t is negative: ", t, ". Pass a step count >= 0");
}

void check_base_lr(const char* op, double base_lr) {
    POSTR_CHECK(base_lr >= 0 && std::isfinite(base_lr), op,
                ": base_lr is negative or not finite: ", base_lr, ". Pass a learning rate >= 0");
}

}  // namespace

StepLR::StepLR(double base_lr, std::int64_t step_size, double gamma)
    : base_lr_(base_lr), step_size_(step_size), gamma_(gamma) {
    check_base_lr("StepLR", base_lr);
    POSTR_CHECK(step_size >= 1, "StepLR: step_size is not positive: ", step_size,
                ". Pass the number of steps between decays (>= 1)");
    POSTR_CHECK(gamma >= 0 && std::isfinite(gamma),
                "StepLR: gamma is negative or not finite: ", gamma,
                ". Pass a decay factor such as 0.1");
}

double StepLR::operator()(std::int64_t t) const {
    check_t("StepLR", t);
    return base_lr_ * std::pow(gamma_, static_cast<double>(t / step_size_));
}

CosineAnnealing::CosineAnnealing(double base_lr, std::int64_t t_max, double eta_min)
    : base_lr_(base_lr), t_max_(t_max), eta_min_(eta_min) {
    check_base_lr("CosineAnnealing", base_lr);
    POSTR_CHECK(t_max >= 1, "CosineAnnealing: t_max is not positive: ", t_max,
                ". Pass the number of steps of the half cosine (>= 1)");
    POSTR_CHECK(eta_min >= 0 && std::isfinite(eta_min),
                "CosineAnnealing: eta_min is negative or not finite: ", eta_min,
                ". Pass a final learning rate >= 0");
}

double CosineAnnealing::operator()(std::int64_t t) const {
    check_t("CosineAnnealing", t);
    const double phase = std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max_);
    return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

LinearWarmup::LinearWarmup(std::int64_t warmup_steps, double start_factor,
                           std::function<double(std::int64_t)> after)
    : warmup_steps_(warmup_steps), start_factor_(start_factor), after_(std::move(after)) {
    POSTR_CHECK(warmup_steps >= 0, "LinearWarmup: warmup_steps is negative: ", warmup_steps,
                ". Pass a number of warmup steps >= 0");
    POSTR_CHECK(start_factor > 0 && start_factor <= 1,
                "LinearWarmup: start_factor is outside (0, 1]: ", start_factor,
                ". Pass the fraction of the learning rate to start from, e.g. 0.1");
    POSTR_CHECK(static_cast<bool>(after_),
                "LinearWarmup: after is empty. Pass the schedule to follow the warmup");
}

double LinearWarmup::operator()(std::int64_t t) const {
    check_t("LinearWarmup", t);
    if (t >= warmup_steps_) return after_(t - warmup_steps_);
    const double fraction = static_cast<double>(t) / static_cast<double>(warmup_steps_);
    return after_(0) * (start_factor_ + (1.0 - start_factor_) * fraction);
}

}  // namespace postr::nn
