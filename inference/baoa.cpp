// BAOA (see baoa.h): four fused passes over the K·D state per step.
#include "postr/inference/baoa.h"

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::baoa {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("baoa", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("baoa", "alpha", config_.alpha, false, "alpha is the friction.");
    sgmcmc::check_coefficient("baoa", "sigma", config_.sigma, true,
                              "sigma is the momenta's standard deviation.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed, const Tensor& momenta) const {
    State state = sgmcmc::init_chains<State>("baoa", theta, seed);
    state.momenta =
        sgmcmc::init_momenta("baoa", state.theta, momenta, config_.momenta, state.generators);
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("baoa", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("baoa", "temperature", config_.temperature, state.step, false);
    const double precision = 1.0 / (config_.sigma * config_.sigma);

    log_posterior_.value_and_grad("baoa", state.theta, batch, state.log_posterior, state.grad);
    axpy_(state.momenta, lr, state.grad);
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);
    sgmcmc::ornstein_uhlenbeck_(state.momenta, state.noise, state.generators, lr, temperature,
                                config_.alpha, config_.sigma);
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);
    ++state.step;
    sgmcmc::check_finite_at_step("baoa", "momenta", state.momenta, state.step, lr);
    sgmcmc::check_finite_at_step("baoa", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::baoa
