// SGHMC (see sghmc.h): three fused passes over the K·D state per step.
#include "postr/inference/sghmc.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::sghmc {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("sghmc", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("sghmc", "alpha", config_.alpha, false, "alpha is the friction.");
    sgmcmc::check_coefficient("sghmc", "beta", config_.beta, false,
                              "beta is an estimate of the gradient-noise variance.");
    sgmcmc::check_coefficient("sghmc", "sigma", config_.sigma, true,
                              "sigma is the momenta's standard deviation.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed, const Tensor& momenta) const {
    State state = sgmcmc::init_chains<State>("sghmc", theta, seed);
    state.momenta =
        sgmcmc::init_momenta("sghmc", state.theta, momenta, config_.momenta, state.generators);
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("sghmc", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("sghmc", "temperature", config_.temperature, state.step, false);
    const double precision = 1.0 / (config_.sigma * config_.sigma);
    const double variance =
        temperature * lr * (2.0 * config_.alpha - temperature * lr * config_.beta);
    POSTR_CHECK(variance >= 0.0, "sghmc: noise variance ε T (2α − ε T β) is negative: ε = ", lr,
                ", T = ", temperature, ", α = ", config_.alpha, ", β = ", config_.beta,
                " at step index ", state.step, ". Keep ε T β ≤ 2α.");

    log_posterior_.value_and_grad("sghmc", state.theta, batch, state.log_posterior, state.grad);
    // m ← (1 − ε σ⁻² α) m + ε g, then the noise, then θ ← θ + ε σ⁻² m with the new m.
    axpby_(state.momenta, lr, state.grad, 1.0 - lr * precision * config_.alpha);
    if (variance > 0.0) {
        sgmcmc::draw_normal_(state.noise, state.generators);
        axpy_(state.momenta, std::sqrt(variance), state.noise);
    }
    axpy_(state.theta, lr * precision, state.momenta);
    ++state.step;
    sgmcmc::check_finite_at_step("sghmc", "momenta", state.momenta, state.step, lr);
    sgmcmc::check_finite_at_step("sghmc", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::sghmc
