// SGNHT (see sgnht.h): fused passes over the K·D state plus K-sized thermostat arithmetic.
#include "postr/inference/sgnht.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::sgnht {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("sgnht", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("sgnht", "alpha", config_.alpha, false, "alpha is the friction.");
    sgmcmc::check_coefficient("sgnht", "beta", config_.beta, false,
                              "beta is an estimate of the gradient-noise variance.");
    sgmcmc::check_coefficient("sgnht", "sigma", config_.sigma, true,
                              "sigma is the momenta's standard deviation.");
    POSTR_CHECK(!config_.xi.has_value() || std::isfinite(*config_.xi),
                "sgnht: xi must be finite, got ", config_.xi.value_or(0.0),
                ". Leave it unset to start the thermostat at alpha.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed, const Tensor& momenta) const {
    State state = sgmcmc::init_chains<State>("sgnht", theta, seed);
    state.momenta =
        sgmcmc::init_momenta("sgnht", state.theta, momenta, config_.momenta, state.generators);
    state.xi = Tensor::full({state.num_chains()}, config_.xi.value_or(config_.alpha),
                            state.theta.dtype(), state.theta.device());
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("sgnht", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("sgnht", "temperature", config_.temperature, state.step, false);
    const double precision = 1.0 / (config_.sigma * config_.sigma);
    const double variance =
        temperature * lr * (2.0 * config_.alpha - temperature * lr * config_.beta);
    POSTR_CHECK(variance >= 0.0, "sgnht: noise variance ε T (2α − ε T β) is negative: ε = ", lr,
                ", T = ", temperature, ", α = ", config_.alpha, ", β = ", config_.beta,
                " at step index ", state.step, ". Keep ε T β ≤ 2α.");
    const std::int64_t chains = state.num_chains();

    log_posterior_.value_and_grad("sgnht", state.theta, batch, state.log_posterior, state.grad);
    // The thermostat's kinetic-energy term uses the old momenta, so take it first: [K].
    Tensor mean_square = mean(square(state.momenta), {1});
    axpy_(state.theta, lr * precision, state.momenta);
    // m ← m − ε σ⁻² ξ_k m (ξ broadcast along each chain's row), + ε g, + noise.
    addcmul_(state.momenta, -lr * precision, state.xi.view({chains, 1}), state.momenta);
    axpy_(state.momenta, lr, state.grad);
    if (variance > 0.0) {
        sgmcmc::draw_normal_(state.noise, state.generators);
        axpy_(state.momenta, std::sqrt(variance), state.noise);
    }
    // ξ ← ξ + ε σ⁻² mean(m²) − ε T.
    axpy_(state.xi, lr * precision, mean_square);
    axpy_(state.xi, -lr * temperature, Tensor::ones({1}, state.xi.dtype(), state.xi.device()));
    ++state.step;
    sgmcmc::check_finite_at_step("sgnht", "thermostat xi", state.xi, state.step, lr);
    sgmcmc::check_finite_at_step("sgnht", "momenta", state.momenta, state.step, lr);
    sgmcmc::check_finite_at_step("sgnht", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::sgnht
