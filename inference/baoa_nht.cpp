// BAOA-NHT (see baoa_nht.h): fused passes over the K·D state plus K-sized thermostat arithmetic.
#include "postr/inference/baoa_nht.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::baoa_nht {

namespace {

// ξ ← ξ + (ε/2) (σ⁻² mean_d(m²) − T), per chain.
void thermostat_half_step(Tensor& xi, const Tensor& momenta, double lr, double precision,
                          double temperature) {
    axpy_(xi, 0.5 * lr * precision, mean(square(momenta), {1}));
    axpy_(xi, -0.5 * lr * temperature, Tensor::ones({1}, xi.dtype(), xi.device()));
}

// m ← e^{−(ε/2) ξ_k} m, row k by its chain's thermostat, as m + (e^{−(ε/2) ξ_k} − 1) m in one
// fused pass (expm1 keeps a small ε ξ accurate).
void scale_momenta(Tensor& momenta, const Tensor& xi, double lr) {
    const Tensor factor_minus_one = expm1(mul(xi, -0.5 * lr)).view({xi.size(0), 1});
    addcmul_(momenta, 1.0, factor_minus_one, momenta);
}

}  // namespace

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("baoa_nht", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("baoa_nht", "alpha", config_.alpha, false,
                              "alpha is the momenta's friction.");
    sgmcmc::check_coefficient("baoa_nht", "gamma", config_.gamma, false,
                              "gamma is the thermostat's friction.");
    sgmcmc::check_coefficient("baoa_nht", "sigma", config_.sigma, true,
                              "sigma is the momenta's standard deviation.");
    POSTR_CHECK(!config_.xi.has_value() || std::isfinite(*config_.xi),
                "baoa_nht: xi must be finite, got ", config_.xi.value_or(0.0),
                ". Leave it unset to start the thermostat at gamma.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed, const Tensor& momenta) const {
    State state = sgmcmc::init_chains<State>("baoa_nht", theta, seed);
    state.momenta =
        sgmcmc::init_momenta("baoa_nht", state.theta, momenta, config_.momenta, state.generators);
    state.xi = Tensor::full({state.num_chains()}, config_.xi.value_or(config_.gamma),
                            state.theta.dtype(), state.theta.device());
    state.xi_noise =
        Tensor::empty({state.num_chains(), 1}, state.theta.dtype(), state.theta.device());
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("baoa_nht", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("baoa_nht", "temperature", config_.temperature, state.step, false);
    const double precision = 1.0 / (config_.sigma * config_.sigma);
    const auto dim = static_cast<double>(state.theta.size(1));
    // The thermostat's exact OU step: decay e^{−γε}, noise standard deviation
    // √(T/D (1 − e^{−2γε})) for its stationary variance T/D.
    const double xi_decay = std::exp(-config_.gamma * lr);
    const double xi_noise = std::sqrt(-temperature / dim * std::expm1(-2.0 * config_.gamma * lr));
    const std::int64_t chains = state.num_chains();

    log_posterior_.value_and_grad("baoa_nht", state.theta, batch, state.log_posterior, state.grad);
    axpy_(state.momenta, lr, state.grad);                                       // B
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);                    // A
    thermostat_half_step(state.xi, state.momenta, lr, precision, temperature);  // D
    scale_momenta(state.momenta, state.xi, lr);
    if (xi_noise > 0.0) {  // O (thermostat)
        sgmcmc::draw_normal_(state.xi_noise, state.generators);
        axpby_(state.xi, xi_noise, state.xi_noise.view({chains}), xi_decay);
    } else {
        scale_(state.xi, xi_decay);
    }
    sgmcmc::ornstein_uhlenbeck_(state.momenta, state.noise, state.generators, lr, temperature,
                                config_.alpha, config_.sigma);  // O (momenta)
    scale_momenta(state.momenta, state.xi, lr);                 // D
    thermostat_half_step(state.xi, state.momenta, lr, precision, temperature);
    axpy_(state.theta, 0.5 * lr * precision, state.momenta);  // A
    ++state.step;
    sgmcmc::check_finite_at_step("baoa_nht", "thermostat xi", state.xi, state.step, lr);
    sgmcmc::check_finite_at_step("baoa_nht", "momenta", state.momenta, state.step, lr);
    sgmcmc::check_finite_at_step("baoa_nht", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::baoa_nht
