// BAOAB (see baoab.h): five fused passes over the K·D state and one gradient per step.
#include "postr/inference/baoab.h"

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::baoab {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("baoab", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("baoab", "alpha", config_.alpha, false, "alpha is the friction.");
    sgmcmc::check_coefficient("baoab", "sigma", config_.sigma, true,
                              "sigma is the momenta's standard deviation.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed, const Tensor& momenta) const {
    State state = sgmcmc::init_chains<State>("baoab", theta, seed);
    state.momenta =
        sgmcmc::init_momenta("baoab", state.theta, momenta, config_.momenta, state.generators);
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("baoab", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("baoab", "temperature", config_.temperature, state.step, false);
    const double precision = 1.0 / (config_.sigma * config_.sigma);

    if (!state.grad_current) {
        log_posterior_.value_and_grad("baoab", state.theta, batch, state.log_posterior, state.grad);
    }
    axpy_(state.momenta, 0.5 * lr, state.grad);               // B
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);  // A
    sgmcmc::ornstein_uhlenbeck_(state.momenta, state.noise, state.generators, lr, temperature,
                                config_.alpha, config_.sigma);  // O
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);    // A
    ++state.step;
    // Check θ before evaluating ℓ there, so a diverged θ is reported as such.
    sgmcmc::check_finite_at_step("baoab", "parameters", state.theta, state.step, lr);
    state.grad_current = false;
    log_posterior_.value_and_grad("baoab", state.theta, batch, state.log_posterior, state.grad);
    axpy_(state.momenta, 0.5 * lr, state.grad);  // B
    state.grad_current = true;
    sgmcmc::check_finite_at_step("baoab", "momenta", state.momenta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::baoab
