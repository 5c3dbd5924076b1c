// Adam (nn/optim/adam.h): state handling around the fused kernels::adam_step_.
#include "postr/nn/optim/adam.h"

#include <utility>

#include "postr/core/error.h"
#include "postr/kernels/optim.h"

namespace postr::nn {

Adam::Adam(Tensor params, AdamOptions options) : params_(std::move(params)), options_(options) {
    check_defined("Adam", "params", params_);
    check_floating("Adam", "params", params_);
    postr::detail::check_adam_options("Adam", options_);
    exp_avg_ = zeros_like(params_);
    exp_avg_sq_ = zeros_like(params_);
}

Adam Adam::adamw(Tensor params, AdamOptions options) {
    options.decoupled_weight_decay = true;
    return Adam(std::move(params), options);
}

void Adam::step(const Tensor& grad) {
    adam_step_(params_, grad, exp_avg_, exp_avg_sq_, step_count_ + 1, options_);
    ++step_count_;
}

void Adam::set_lr(double lr) {
    AdamOptions next = options_;
    next.lr = lr;
    postr::detail::check_adam_options("Adam::set_lr", next);
    options_ = next;
}

OptimizerState Adam::state() const {
    OptimizerState s;
    s.emplace_back("step", Tensor::scalar(static_cast<double>(step_count_), DType::i64));
    s.emplace_back("exp_avg", exp_avg_.clone());
    s.emplace_back("exp_avg_sq", exp_avg_sq_.clone());
    return s;
}

void Adam::load_state(const OptimizerState& state) {
    constexpr const char* op = "Adam::load_state";
    detail::check_state_names(op, state, {"step", "exp_avg", "exp_avg_sq"});
    const std::int64_t step = detail::load_step(op, state);
    Tensor m = detail::load_buffer(op, "exp_avg", detail::find_state(state, "exp_avg"), params_);
    Tensor v =
        detail::load_buffer(op, "exp_avg_sq", detail::find_state(state, "exp_avg_sq"), params_);
    step_count_ = step;
    exp_avg_ = std::move(m);
    exp_avg_sq_ = std::move(v);
}

}  // namespace postr::nn
