#include "postr/inference/ekf.h"

#include <cmath>
#include <utility>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::ekf {
namespace {

constexpr std::int64_t max_hessian_size = 5000;

void check_theta(const char* op, const Tensor& theta) {
    check_defined(op, "theta", theta);
    check_floating(op, "theta", theta);
    check_rank(op, "theta", theta, 1);
}

std::int64_t batch_size(const char* op, const Batch& batch) {
    check_defined(op, "batch.inputs", batch.inputs);
    const std::int64_t b = batch.inputs.dim() > 0 ? batch.inputs.size(0) : 0;
    POSTR_CHECK(b > 0, op, ": the batch is empty: inputs ", to_string(batch.inputs.shape()),
                ". Pass at least one sample");
    return b;
}

Batch row(const Batch& batch, std::int64_t i) {
    return {batch.inputs.narrow(0, i, 1),
            batch.targets.defined() ? batch.targets.narrow(0, i, 1) : Tensor()};
}

// The per-sample gradients G [B, D] of the log-likelihood at θ, and the batch-mean
// log-likelihood (one element).
struct PerSample {
    Tensor gradients;
    Tensor mean_log_likelihood;
};

PerSample per_sample_gradients(const char* op, const LogLikelihood& f, bool per_sample,
                               const Tensor& theta, const Batch& batch) {
    const std::int64_t b = batch_size(op, batch);
    const std::int64_t d = theta.numel();
    if (per_sample) {
        const VarFn g = [&](const Var& t) {
            Var v = f(t, batch);
            POSTR_CHECK(v.dim() == 1 && v.size(0) == b, op,
                        ": with per_sample the log-likelihood must return one value per sample, [",
                        b, "]: got ", to_string(v.shape()),
                        ". Return the per-sample values, or set per_sample = false");
            return v;
        };
        auto [values, jac] = vjp(g, theta, eye(b, theta.dtype(), theta.device()));
        return {jac, mean(values).view({1})};
    }
    Tensor gradients = Tensor::empty({b, d}, theta.dtype(), theta.device());
    Tensor total = Tensor::zeros({1}, theta.dtype(), theta.device());
    for (std::int64_t i = 0; i < b; ++i) {
        const Batch one = row(batch, i);
        const ValueAndGrad vg = value_and_grad([&](const Var& t) { return f(t, one); }, theta);
        POSTR_CHECK(vg.value.numel() == 1, op,
                    ": without per_sample the log-likelihood must return one element: got ",
                    to_string(vg.value.shape()),
                    ". Return the batch mean, or set per_sample = true");
        gradients.select(0, i).copy_(vg.grad);
        axpy_(total, 1.0 / static_cast<double>(b), vg.value.view({1}));
    }
    return {gradients, total};
}

void check_finite_state(const char* op, const Tensor& a, const Tensor& b, std::int64_t step) {
    POSTR_CHECK(all_finite(a) && all_finite(b), op, ": the state became non-finite at step ", step,
                ". Lower lr, check the log-likelihood for NaN/inf, or raise the initial "
                "uncertainty's precision");
}

}  // namespace

namespace diag_fisher {

Transform::Transform(LogLikelihood log_likelihood, Config config)
    : log_likelihood_(std::move(log_likelihood)), config_(config) {
    POSTR_CHECK(config_.lr > 0 && std::isfinite(config_.lr) && config_.transition_sd >= 0 &&
                    std::isfinite(config_.transition_sd) && config_.init_sd > 0 &&
                    std::isfinite(config_.init_sd),
                "ekf::diag_fisher: lr and init_sd must be positive and transition_sd "
                "non-negative: got lr ",
                config_.lr, ", transition_sd ", config_.transition_sd, ", init_sd ",
                config_.init_sd, ". Pass finite values in range");
    POSTR_CHECK(static_cast<bool>(log_likelihood_),
                "ekf::diag_fisher: the log-likelihood function is empty. Pass a callable");
}

State Transform::init(const Tensor& theta) const {
    check_theta("ekf::diag_fisher::init", theta);
    State s;
    s.params = theta.clone();
    s.sd_diag = Tensor::full(theta.shape(), config_.init_sd, theta.dtype(), theta.device());
    s.log_likelihood = Tensor::zeros({1}, theta.dtype(), theta.device());
    return s;
}

void Transform::update(State& state, const Batch& batch) const {
    constexpr const char* op = "ekf::diag_fisher::update";
    check_theta(op, state.params);
    const PerSample ps =
        per_sample_gradients(op, log_likelihood_, config_.per_sample, state.params, batch);
    const double eps = config_.lr;
    // 1/σ⁺² = 1/(σ² + q²) + ε·mean_b g_b²;  μ ← μ + ε σ⁺² ḡ.
    Tensor precision =
        reciprocal(add(square(state.sd_diag), config_.transition_sd * config_.transition_sd));
    axpy_(precision, eps, mean(square(ps.gradients), {0}));
    const Tensor variance = reciprocal(precision);
    addcmul_(state.params, eps, variance, mean(ps.gradients, {0}));
    state.sd_diag.copy_(sqrt(variance));
    state.log_likelihood = ps.mean_log_likelihood;
    ++state.step;
    check_finite_state(op, state.params, state.sd_diag, state.step);
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    POSTR_CHECK(n >= 0,
                "ekf::diag_fisher::sample: the number of samples must be non-negative: "
                "got ",
                n, ". Pass n ≥ 0");
    const std::int64_t d = state.params.numel();
    const Tensor e = normal({n, d}, gen, 0.0, 1.0, state.params.dtype(), state.params.device());
    return add(mul(e, state.sd_diag.view({1, d})), state.params.view({1, d}));
}

Transform build(LogLikelihood log_likelihood, Config config) {
    return Transform(std::move(log_likelihood), config);
}

}  // namespace diag_fisher

namespace dense_fisher {

Transform::Transform(LogLikelihood log_likelihood, Config config)
    : log_likelihood_(std::move(log_likelihood)), config_(config) {
    POSTR_CHECK(config_.lr > 0 && std::isfinite(config_.lr) && config_.transition_cov >= 0 &&
                    std::isfinite(config_.transition_cov) && config_.init_cov > 0 &&
                    std::isfinite(config_.init_cov),
                "ekf::dense_fisher: lr and init_cov must be positive and transition_cov "
                "non-negative: got lr ",
                config_.lr, ", transition_cov ", config_.transition_cov, ", init_cov ",
                config_.init_cov, ". Pass finite values in range");
    POSTR_CHECK(static_cast<bool>(log_likelihood_),
                "ekf::dense_fisher: the log-likelihood function is empty. Pass a callable");
}

State Transform::init(const Tensor& theta) const {
    check_theta("ekf::dense_fisher::init", theta);
    const std::int64_t d = theta.numel();
    POSTR_CHECK(config_.curvature != Curvature::hessian || d <= max_hessian_size,
                "ekf::dense_fisher::init: the Hessian curvature is limited to D ≤ ",
                max_hessian_size, " parameters: got D = ", d,
                ". Use Curvature::empirical_fisher or the diagonal filter");
    State s;
    s.params = theta.clone();
    s.cov = mul(eye(d, theta.dtype(), theta.device()), config_.init_cov);
    s.log_likelihood = Tensor::zeros({1}, theta.dtype(), theta.device());
    return s;
}

void Transform::update(State& state, const Batch& batch) const {
    constexpr const char* op = "ekf::dense_fisher::update";
    check_theta(op, state.params);
    const std::int64_t d = state.params.numel();
    const double eps = config_.lr;
    Tensor mean_gradient, fisher, mean_log_likelihood;
    if (config_.curvature == Curvature::empirical_fisher) {
        const PerSample ps =
            per_sample_gradients(op, log_likelihood_, config_.per_sample, state.params, batch);
        const double b = static_cast<double>(ps.gradients.size(0));
        mean_gradient = mean(ps.gradients, {0});
        fisher = Tensor::zeros({d, d}, state.params.dtype(), state.params.device());
        syrk_(fisher, ps.gradients, 1.0 / b, 0.0);
        symmetrize_lower_(fisher);
        mean_log_likelihood = ps.mean_log_likelihood;
    } else {
        batch_size(op, batch);
        const bool per_sample = config_.per_sample;
        const VarFn mean_ll = [&](const Var& t) {
            const Var v = log_likelihood_(t, batch);
            return per_sample ? mean(v) : v;
        };
        const ValueAndGrad vg = value_and_grad(mean_ll, state.params);
        mean_gradient = vg.grad;
        mean_log_likelihood = vg.value.reshape({1});
        const VarFn gradient = [&](const Var& t) {
            return grad({mean_ll(t)}, {t}, {}, true, true)[0];
        };
        const Tensor h = jacobian(gradient, state.params);
        fisher = mul(add(h, h.t()), -0.5);  // −∇², symmetrized against rounding
    }
    // Σ⁻ = Σ + Q; P = (Σ⁻)⁻¹ + ε F; Σ⁺ = P⁻¹; μ ← μ + ε Σ⁺ ḡ.
    Tensor predicted = state.cov;
    if (config_.transition_cov > 0)
        predicted = add(predicted,
                        mul(eye(d, predicted.dtype(), predicted.device()), config_.transition_cov));
    Tensor precision = cholesky_inverse(cholesky(predicted));
    axpy_(precision, eps, fisher);
    state.cov = cholesky_inverse(cholesky(precision));
    axpy_(state.params, eps, matmul(state.cov, mean_gradient.view({d, 1})).view({d}));
    state.log_likelihood = mean_log_likelihood;
    ++state.step;
    check_finite_state(op, state.params, state.cov, state.step);
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    POSTR_CHECK(n >= 0,
                "ekf::dense_fisher::sample: the number of samples must be non-negative: "
                "got ",
                n, ". Pass n ≥ 0");
    const std::int64_t d = state.params.numel();
    const Tensor l = cholesky(state.cov);
    const Tensor e = normal({n, d}, gen, 0.0, 1.0, state.params.dtype(), state.params.device());
    // Rows x = L ε have Cov = L Lᵀ = Σ.
    return add(matmul(e, l.t()), state.params.view({1, d}));
}

Transform build(LogLikelihood log_likelihood, Config config) {
    return Transform(std::move(log_likelihood), config);
}

}  // namespace dense_fisher

}  // namespace postr::inference::ekf
