#include "postr/inference/vi_dense.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "postr/core/error.h"

namespace postr::inference::vi_dense {

namespace {

AdamOptions adam_options(const Config& c, std::int64_t step) {
    return {.lr = schedule_value("vi_dense", "lr", c.lr, step, true),
            .beta1 = c.beta1,
            .beta2 = c.beta2,
            .eps = c.eps};
}

struct Masks {
    Tensor strict_lower;  // [D, D]: 1 below the diagonal, else 0
    Tensor diagonal;      // [D, D]: the identity
};

Masks masks(std::int64_t d, DType dtype, Device device) {
    const Tensor idx = arange(0.0, static_cast<double>(d), 1.0, dtype, device);
    return {gt(idx.reshape({d, 1}), idx.reshape({1, d})), eye(d, dtype, device)};
}

Tensor scale_tril_from(const Tensor& log_chol, const Masks& m) {
    // exp(R ⊙ I) is 1 off the diagonal (never overflows there) before the mask removes it.
    return add(mul(log_chol, m.strict_lower), mul(exp(mul(log_chol, m.diagonal)), m.diagonal));
}

}  // namespace

Tensor scale_tril(const State& state) {
    POSTR_CHECK(state.params.defined(), "vi_dense: the state is empty. Call init(θ) first");
    return scale_tril_from(state.log_chol,
                           masks(state.mean.numel(), state.mean.dtype(), state.mean.device()));
}

Tensor covariance(const State& state) {
    const Tensor l = scale_tril(state);
    return matmul(l, l.t());
}

Transform::Transform(LogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    POSTR_CHECK(static_cast<bool>(log_posterior_), "vi_dense: log_posterior is empty. Pass a ",
                "function of (θ, batch)");
    // Constants are checked here, once; schedules at each step.
    if (!config_.lr || config_.lr.is_constant())
        schedule_value("vi_dense", "lr", config_.lr, 0, true);
    if (!config_.temperature || config_.temperature.is_constant())
        schedule_value("vi_dense", "temperature", config_.temperature, 0, false);
    POSTR_CHECK(config_.beta1 >= 0 && config_.beta1 < 1 && config_.beta2 >= 0 &&
                    config_.beta2 < 1 && config_.eps >= 0,
                "vi_dense: Adam's betas must lie in [0, 1) and eps be non-negative: got ",
                config_.beta1, ", ", config_.beta2, ", ", config_.eps,
                ". Pass valid Adam hyperparameters");
    POSTR_CHECK(config_.n_samples >= 1, "vi_dense: n_samples must be at least 1: got ",
                config_.n_samples, ". Pass the number of Monte Carlo draws per step");
    POSTR_CHECK(std::isfinite(config_.init_cov) && config_.init_cov > 0, "vi_dense: init_cov ",
                "must be positive: got ", config_.init_cov,
                ". Pass the initial variance of every coordinate");
}

State Transform::init(const Tensor& theta) const {
    check_defined("vi_dense", "theta", theta);
    check_rank("vi_dense", "theta", theta, 1);
    check_floating("vi_dense", "theta", theta);
    const std::int64_t d = theta.numel();
    const DType dtype = theta.dtype();
    const Device device = theta.device();
    const Masks m = masks(d, dtype, device);
    Tensor l0;
    if (config_.init_cov_matrix.defined()) {
        const Tensor& c = config_.init_cov_matrix;
        POSTR_CHECK(c.dim() == 2 && c.size(0) == d && c.size(1) == d, "vi_dense: init_cov_matrix ",
                    "must be [D, D] with D = ", d, ": got ", to_string(c.shape()),
                    ". Pass a covariance over the flat parameter vector");
        l0 = cholesky(c.to(dtype).to(device));
    } else {
        l0 = mul(m.diagonal, std::sqrt(config_.init_cov));
    }
    State s;
    s.params = Tensor::empty({d + d * d}, dtype, device);
    s.mean = s.params.narrow(0, 0, d);
    s.log_chol = s.params.narrow(0, d, d * d).view({d, d});
    s.mean.copy_(theta);
    // R = strictly-lower(L₀) + diag(log L₀,ii); log(L₀ ⊙ I + (1 − I)) is 0 off the diagonal.
    const Tensor log_diag =
        log(add(mul(l0, m.diagonal), sub(Tensor::ones({d, d}, dtype, device), m.diagonal)));
    s.log_chol.copy_(add(mul(l0, m.strict_lower), log_diag));
    s.grad = Tensor::zeros({d + d * d}, dtype, device);
    s.exp_avg = Tensor::zeros({d + d * d}, dtype, device);
    s.exp_avg_sq = Tensor::zeros({d + d * d}, dtype, device);
    s.rng = Generator(config_.seed);
    return s;
}

double Transform::nelbo_and_grad(const State& state, const Batch& batch, const Tensor& eps,
                                 Tensor& grad) const {
    const std::int64_t d = state.mean.numel();
    check_defined("vi_dense", "eps", eps);
    check_rank("vi_dense", "eps", eps, 2);
    POSTR_CHECK(eps.size(1) == d && eps.size(0) >= 1, "vi_dense: eps must be [S, D] with D = ", d,
                " and S ≥ 1: got ", to_string(eps.shape()),
                ". Pass standard-normal draws, one row per sample");
    check_same_device("vi_dense", "eps", eps, "state.mean", state.mean);
    check_dtype("vi_dense", "eps", eps, state.mean.dtype());
    const std::int64_t n = eps.size(0);
    const double t =
        schedule_value("vi_dense", "temperature", config_.temperature, state.step, false);
    const Masks m = masks(d, state.mean.dtype(), state.mean.device());
    const Tensor l = scale_tril_from(state.log_chol, m);  // [D, D]

    // θ_s = μ + L ε_s as rows of Θ = E Lᵀ + μ [S, D]; ∇ℓ(θ_s) as rows of G [S, D].
    Tensor thetas = matmul(eps, l.t());
    axpy_(thetas, 1.0, state.mean);
    Tensor g = Tensor::empty({n, d}, state.mean.dtype(), state.mean.device());
    double sum_log_p = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        const ValueAndGrad vg =
            log_posterior_and_grad(log_posterior_, thetas.select(0, i).contiguous(), batch);
        sum_log_p += vg.value.item();
        g.select(0, i).copy_(vg.grad);
    }
    const double nd = static_cast<double>(n);
    // log q(θ_s) = −½‖ε_s‖² − Σ R_ii − (D/2) log 2π.
    const double log_q = -0.5 * sum(square(eps)).item() / nd -
                         sum(mul(state.log_chol, m.diagonal)).item() -
                         0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi);
    const double nelbo = -(sum_log_p / nd - t * log_q);

    // U [S, D]: each draw's derivative with respect to θ_s.
    Tensor u = neg(g);
    if (config_.stl) {
        // ∇_θ log q at detached μ and L: −L⁻ᵀ L⁻¹ (θ_s − μ) = −L⁻ᵀ ε_s, as columns [D, S].
        const Tensor w = triangular_solve(l, eps.t().contiguous(), /*lower=*/true,
                                          /*transpose=*/true);
        axpy_(u, -t, w.t());
    }
    const Tensor mm = mul(matmul(u.t(), eps), 1.0 / nd);  // M = (1/S) Σ_s u_s ε_sᵀ [D, D]
    if (!grad.defined() || grad.numel() != d + d * d)
        grad = Tensor::empty({d + d * d}, state.mean.dtype(), state.mean.device());
    grad.narrow(0, 0, d).copy_(mean(u, {0}));
    // Chain rule through L_ii = exp(R_ii); the upper triangle gets 0.
    Tensor grad_r = add(mul(mm, m.strict_lower), mul(mul(mm, l), m.diagonal));
    if (!config_.stl && t != 0.0) axpy_(grad_r, -t, m.diagonal);  // the entropy's −T Σ R_ii
    grad.narrow(0, d, d * d).view({d, d}).copy_(grad_r);
    return nelbo;
}

void Transform::update(State& state, const Batch& batch) const {
    POSTR_CHECK(state.params.defined(), "vi_dense: the state is empty. Call init(θ) first");
    const Tensor eps = normal({config_.n_samples, state.mean.numel()}, state.rng, 0.0, 1.0,
                              state.mean.dtype(), state.mean.device());
    state.nelbo = nelbo_and_grad(state, batch, eps, state.grad);
    const AdamOptions options = adam_options(config_, state.step);
    ++state.step;
    adam_step_(state.params, state.grad, state.exp_avg, state.exp_avg_sq, state.step, options);
    POSTR_CHECK(all_finite(state.params), "vi_dense: variational parameters became non-finite ",
                "at step ", state.step, " (NELBO estimate ", state.nelbo, ", learning rate ",
                options.lr, "). Lower the learning rate or check the log-posterior");
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    POSTR_CHECK(n >= 0, "vi_dense: the number of samples must be non-negative: got ", n,
                ". Pass n ≥ 0");
    const Tensor l = scale_tril(state);
    const Tensor eps =
        normal({n, state.mean.numel()}, gen, 0.0, 1.0, state.mean.dtype(), state.mean.device());
    // Row i is μ + L ε_i, i.e. μᵀ + ε_iᵀ Lᵀ: covariance L Lᵀ (multiplying by L instead would
    // give Lᵀ L, the wrong matrix).
    Tensor out = matmul(eps, l.t());
    axpy_(out, 1.0, state.mean);
    return out;
}

Transform build(LogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::vi_dense
