// SGLRW (see sglrw.h): per step one gradient, one uniform draw per coordinate, and three passes
// over the K·D state.
#include "postr/inference/sglrw.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::sglrw {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("sglrw", config_.lr, config_.temperature);
    if (config_.temperature.is_constant()) {
        schedule_value("sglrw", "temperature", config_.temperature, 0, true);
    }
}

State Transform::init(const Tensor& theta, std::uint64_t seed) const {
    return sgmcmc::init_chains<State>("sglrw", theta, seed);
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("sglrw", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("sglrw", "temperature", config_.temperature, state.step, true);
    const double delta_x = std::sqrt(2.0 * lr * temperature);  // the lattice spacing δx

    log_posterior_.value_and_grad("sglrw", state.theta, batch, state.log_posterior, state.grad);
    // θ only ever moves by ±δx, so a NaN gradient would not show in θ: check it here.
    sgmcmc::check_finite_at_step("sglrw", "gradient", state.grad, state.step + 1, lr);
    // Up iff u < ε g / δx, i.e. u δx / ε < g (u ~ U[−1, 1)); the comparison is 1 or 0.
    sgmcmc::draw_uniform_(state.noise, state.generators);
    scale_(state.noise, delta_x / lr);
    const Tensor up = lt(state.noise, state.grad);
    // θ ← θ + δx (2 up − 1).
    axpy_(state.theta, 2.0 * delta_x, up);
    axpy_(state.theta, -delta_x, Tensor::ones({1}, state.theta.dtype(), state.theta.device()));
    ++state.step;
    sgmcmc::check_finite_at_step("sglrw", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::sglrw
