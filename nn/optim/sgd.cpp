// Sgd (nn/optim/sgd.h): state handling around the fused kernels::sgd_step_.
#include "postr/nn/optim/sgd.h"

#include <utility>

#include "postr/core/error.h"
#include "postr/kernels/optim.h"

namespace postr::nn {

Sgd::Sgd(Tensor params, SgdOptions options) : params_(std::move(params)), options_(options) {
    check_defined("Sgd", "params", params_);
    check_floating("Sgd", "params", params_);
    postr::detail::check_sgd_options("Sgd", options_);
}

void Sgd::step(const Tensor& grad) {
    const bool first = options_.momentum != 0 && !momentum_buffer_.defined();
    // The first step sets the buffer to the gradient, so its initial values are never read. It
    // is kept only once the step succeeded: a rejected gradient leaves the optimizer unchanged.
    Tensor buffer = first ? empty_like(params_) : momentum_buffer_;
    sgd_step_(params_, grad, buffer, options_, first);
    momentum_buffer_ = std::move(buffer);
    ++step_count_;
}

void Sgd::set_lr(double lr) {
    SgdOptions next = options_;
    next.lr = lr;
    postr::detail::check_sgd_options("Sgd::set_lr", next);
    options_ = next;
}

OptimizerState Sgd::state() const {
    OptimizerState s;
    s.emplace_back("step", Tensor::scalar(static_cast<double>(step_count_), DType::i64));
    if (momentum_buffer_.defined()) s.emplace_back("momentum_buffer", momentum_buffer_.clone());
    return s;
}

void Sgd::load_state(const OptimizerState& state) {
    constexpr const char* op = "Sgd::load_state";
    detail::check_state_names(op, state, {"step", "momentum_buffer"});
    const std::int64_t step = detail::load_step(op, state);
    const Tensor buffer = detail::find_state(state, "momentum_buffer");
    Tensor loaded =
        buffer.defined() ? detail::load_buffer(op, "momentum_buffer", buffer, params_) : Tensor();
    step_count_ = step;
    momentum_buffer_ = std::move(loaded);
}

}  // namespace postr::nn
