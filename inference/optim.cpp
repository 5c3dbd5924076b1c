#include "postr/inference/optim.h"

#include <cmath>
#include <utility>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/optim.h"

namespace postr::inference::optim {
namespace {

double scheduled_lr(const std::function<double(std::int64_t)>& schedule, std::int64_t t) {
    const double lr = schedule(t);
    POSTR_CHECK(std::isfinite(lr) && lr >= 0, "optim::update: lr_schedule(", t,
                ") must be finite and non-negative: got ", lr, ". Fix the schedule");
    return lr;
}

}  // namespace

Loss negated(LogPosterior log_posterior) {
    return [f = std::move(log_posterior)](const Var& theta, const Batch& batch) {
        return neg(f(theta, batch));
    };
}

Transform::Transform(Loss loss, Config config)
    : loss_(std::move(loss)), config_(std::move(config)) {
    POSTR_CHECK(static_cast<bool>(loss_),
                "optim::Transform: the loss function is empty. Pass a callable");
    if (config_.method == Method::sgd) {
        postr::detail::check_sgd_options("optim::Transform", config_.sgd);
    } else {
        config_.adam.decoupled_weight_decay = config_.method == Method::adamw;
        postr::detail::check_adam_options("optim::Transform", config_.adam);
    }
}

State Transform::init(const Tensor& theta) const {
    check_defined("optim::init", "theta", theta);
    check_floating("optim::init", "theta", theta);
    check_rank("optim::init", "theta", theta, 1);
    State s;
    s.params = theta;
    if (config_.method == Method::sgd) {
        if (config_.sgd.momentum != 0) s.momentum_buffer = zeros_like(theta);
    } else {
        s.exp_avg = zeros_like(theta);
        s.exp_avg_sq = zeros_like(theta);
    }
    s.loss = Tensor::zeros({1}, theta.dtype(), theta.device());
    return s;
}

void Transform::update(State& state, const Batch& batch) const {
    check_defined("optim::update", "state.params", state.params);
    const std::int64_t t = state.step + 1;
    const ValueAndGrad vg = value_and_grad(
        [&](const Var& theta) {
            Var value = loss_(theta, batch);
            POSTR_CHECK(value.numel() == 1, "optim::update: the loss must return one element: got ",
                        to_string(value.shape()), ". Reduce it (sum, mean)");
            return value;
        },
        state.params);
    if (config_.method == Method::sgd) {
        SgdOptions options = config_.sgd;
        if (config_.lr_schedule) options.lr = scheduled_lr(config_.lr_schedule, t);
        postr::detail::check_sgd_options("optim::update (scheduled lr)", options);
        sgd_step_(state.params, vg.grad, state.momentum_buffer, options, state.step == 0);
    } else {
        AdamOptions options = config_.adam;
        if (config_.lr_schedule) options.lr = scheduled_lr(config_.lr_schedule, t);
        postr::detail::check_adam_options("optim::update (scheduled lr)", options);
        adam_step_(state.params, vg.grad, state.exp_avg, state.exp_avg_sq, t, options);
    }
    state.loss = vg.value.reshape({1});
    state.step = t;
    POSTR_CHECK(all_finite(state.params),
                "optim::update: the parameters became non-finite at step ", t, " (loss ",
                state.loss.item(), "). Lower the learning rate or check the loss for NaN/inf");
}

Transform build(Loss loss, Config config) { return Transform(std::move(loss), std::move(config)); }

}  // namespace postr::inference::optim
