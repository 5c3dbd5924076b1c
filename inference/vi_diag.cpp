#include "postr/inference/vi_diag.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "postr/core/error.h"

namespace postr::inference::vi_diag {

namespace {

AdamOptions adam_options(const Config& c, std::int64_t step) {
    return {.lr = schedule_value("vi_diag", "lr", c.lr, step, true),
            .beta1 = c.beta1,
            .beta2 = c.beta2,
            .eps = c.eps};
}

void check_config(const Config& c) {
    // Constants are checked here, once; schedules at each step.
    if (!c.lr || c.lr.is_constant()) schedule_value("vi_diag", "lr", c.lr, 0, true);
    if (!c.temperature || c.temperature.is_constant())
        schedule_value("vi_diag", "temperature", c.temperature, 0, false);
    POSTR_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1 && c.eps >= 0,
                "vi_diag: Adam's betas must lie in [0, 1) and eps be non-negative: got ", c.beta1,
                ", ", c.beta2, ", ", c.eps, ". Pass valid Adam hyperparameters");
    POSTR_CHECK(c.n_samples >= 1, "vi_diag: n_samples must be at least 1: got ", c.n_samples,
                ". Pass the number of Monte Carlo draws per step");
    POSTR_CHECK(std::isfinite(c.init_log_sd), "vi_diag: init_log_sd must be finite: got ",
                c.init_log_sd, ". Pass log of the initial standard deviation");
}

}  // namespace

Transform::Transform(LogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(config) {
    POSTR_CHECK(static_cast<bool>(log_posterior_), "vi_diag: log_posterior is empty. Pass a ",
                "function of (θ, batch)");
    check_config(config_);
}

State Transform::init(const Tensor& theta) const {
    check_defined("vi_diag", "theta", theta);
    check_rank("vi_diag", "theta", theta, 1);
    check_floating("vi_diag", "theta", theta);
    const std::int64_t d = theta.numel();
    State s;
    s.params = Tensor::empty({2 * d}, theta.dtype(), theta.device());
    s.mean = s.params.narrow(0, 0, d);
    s.log_sd = s.params.narrow(0, d, d);
    s.mean.copy_(theta);
    s.log_sd.fill_(config_.init_log_sd);
    s.grad = Tensor::zeros({2 * d}, theta.dtype(), theta.device());
    s.exp_avg = Tensor::zeros({2 * d}, theta.dtype(), theta.device());
    s.exp_avg_sq = Tensor::zeros({2 * d}, theta.dtype(), theta.device());
    s.rng = Generator(config_.seed);
    return s;
}

double Transform::nelbo_and_grad(const State& state, const Batch& batch, const Tensor& eps,
                                 Tensor& grad) const {
    const std::int64_t d = state.mean.numel();
    check_defined("vi_diag", "eps", eps);
    check_rank("vi_diag", "eps", eps, 2);
    POSTR_CHECK(eps.size(1) == d && eps.size(0) >= 1, "vi_diag: eps must be [S, D] with D = ", d,
                " and S ≥ 1: got ", to_string(eps.shape()),
                ". Pass standard-normal draws, one row per sample");
    check_same_device("vi_diag", "eps", eps, "state.mean", state.mean);
    check_dtype("vi_diag", "eps", eps, state.mean.dtype());
    const std::int64_t n = eps.size(0);
    const double t =
        schedule_value("vi_diag", "temperature", config_.temperature, state.step, false);
    const Tensor sd = exp(state.log_sd);  // [D]

    // ε_s → θ_s, and ∇ℓ(θ_s) stacked as rows of G [S, D].
    Tensor g = Tensor::empty({n, d}, state.mean.dtype(), state.mean.device());
    double sum_log_p = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        Tensor theta = mul(sd, eps.select(0, i));
        axpy_(theta, 1.0, state.mean);
        const ValueAndGrad vg = log_posterior_and_grad(log_posterior_, theta, batch);
        sum_log_p += vg.value.item();
        g.select(0, i).copy_(vg.grad);
    }
    const double nd = static_cast<double>(n);
    // log q(θ_s) = −½‖ε_s‖² − Σρ − (D/2) log 2π, the same value whether or not (μ, σ) are
    // detached.
    const double mean_sq_eps = sum(square(eps)).item() / nd;
    const double log_q = -0.5 * mean_sq_eps - sum(state.log_sd).item() -
                         0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi);
    const double nelbo = -(sum_log_p / nd - t * log_q);

    // U [S, D]: the derivative of each draw's term with respect to θ_s.
    Tensor u = neg(g);
    if (config_.stl) addcdiv_(u, -t, eps, sd);  // −T ε_s / σ: ∇_θ log q at detached (μ, σ)
    if (!grad.defined() || grad.numel() != 2 * d)
        grad = Tensor::empty({2 * d}, state.mean.dtype(), state.mean.device());
    Tensor grad_mean = grad.narrow(0, 0, d);
    Tensor grad_log_sd = grad.narrow(0, d, d);
    grad_mean.copy_(mean(u, {0}));
    grad_log_sd.copy_(mul(mean(mul(u, eps), {0}), sd));
    // Without STL the entropy term −T Σρ of −NELBO is differentiated too: ∂NELBO/∂ρ gets −T.
    if (!config_.stl && t != 0.0) grad_log_sd.copy_(add(grad_log_sd, -t));
    return nelbo;
}

void Transform::update(State& state, const Batch& batch) const {
    POSTR_CHECK(state.params.defined(), "vi_diag: the state is empty. Call init(θ) first");
    const Tensor eps = normal({config_.n_samples, state.mean.numel()}, state.rng, 0.0, 1.0,
                              state.mean.dtype(), state.mean.device());
    state.nelbo = nelbo_and_grad(state, batch, eps, state.grad);
    const AdamOptions options = adam_options(config_, state.step);
    ++state.step;
    adam_step_(state.params, state.grad, state.exp_avg, state.exp_avg_sq, state.step, options);
    POSTR_CHECK(all_finite(state.params), "vi_diag: variational parameters became non-finite at ",
                "step ", state.step, " (NELBO estimate ", state.nelbo, ", learning rate ",
                options.lr, "). Lower the learning rate or check the log-posterior");
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    POSTR_CHECK(state.params.defined(), "vi_diag: the state is empty. Call init(θ) first");
    POSTR_CHECK(n >= 0, "vi_diag: the number of samples must be non-negative: got ", n,
                ". Pass n ≥ 0");
    Tensor out =
        normal({n, state.mean.numel()}, gen, 0.0, 1.0, state.mean.dtype(), state.mean.device());
    out = mul(out, exp(state.log_sd));
    axpy_(out, 1.0, state.mean);
    return out;
}

Transform build(LogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), config);
}

}  // namespace postr::inference::vi_diag
