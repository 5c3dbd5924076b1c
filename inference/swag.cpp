#include "postr/inference/swag.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "postr/core/error.h"

namespace postr::inference::swag {

namespace {

std::int64_t held_rows(const State& state) {
    return std::min(state.num_snapshots, state.deviations.size(0));
}

double lr_at(const Schedule& lr, std::int64_t step) {
    POSTR_CHECK(static_cast<bool>(lr), "swag: lr is unset. Pass a constant or a function of the ",
                "step");
    const double v = lr(step);
    POSTR_CHECK(std::isfinite(v) && v > 0, "swag: lr must be positive and finite: got ", v,
                " at step ", step, ". Check the schedule");
    return v;
}

void check_state(const State& state) {
    POSTR_CHECK(state.params.defined(), "swag: the state is empty. Call init(θ) first");
}

}  // namespace

Tensor variance(const State& state) {
    check_state(state);
    // θ²̄ − θ̄² can dip below zero by rounding when the iterates barely move.
    return clamp(sub(state.sq_mean, square(state.mean)), 0.0,
                 std::numeric_limits<double>::infinity());
}

Tensor deviation_matrix(const State& state) {
    check_state(state);
    const std::int64_t k = held_rows(state);
    const std::int64_t cap = state.deviations.size(0);
    if (cap == 0 || state.num_snapshots <= cap) return state.deviations.narrow(0, 0, k).clone();
    // The ring buffer is full: the oldest row is the one the next snapshot overwrites.
    const std::int64_t oldest = state.num_snapshots % cap;
    if (oldest == 0) return state.deviations.clone();
    return cat(
        {state.deviations.narrow(0, oldest, cap - oldest), state.deviations.narrow(0, 0, oldest)},
        0);
}

Transform::Transform(LogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(config) {
    POSTR_CHECK(static_cast<bool>(log_posterior_), "swag: log_posterior is empty. Pass a ",
                "function of (θ, batch)");
    if (!config_.lr || config_.lr.is_constant()) lr_at(config_.lr, 0);
    POSTR_CHECK(config_.momentum >= 0 && config_.weight_decay >= 0, "swag: momentum and ",
                "weight_decay must be non-negative: got ", config_.momentum, " and ",
                config_.weight_decay, ". Pass values ≥ 0");
    POSTR_CHECK(config_.snapshot_start >= 0, "swag: snapshot_start must be non-negative: got ",
                config_.snapshot_start, ". Pass the number of steps before collecting");
    POSTR_CHECK(config_.snapshot_frequency >= 1,
                "swag: snapshot_frequency must be at least 1: ", "got ", config_.snapshot_frequency,
                ". Pass the steps between snapshots");
    POSTR_CHECK(config_.rank >= 0, "swag: rank must be non-negative: got ", config_.rank,
                ". Pass K deviation rows to keep (0 for diagonal SWAG)");
    POSTR_CHECK(std::isfinite(config_.scale) && config_.scale > 0, "swag: scale must be ",
                "positive: got ", config_.scale, ". The paper's value is 0.5");
}

State Transform::init(const Tensor& theta) const {
    check_defined("swag", "theta", theta);
    check_rank("swag", "theta", theta, 1);
    check_floating("swag", "theta", theta);
    const std::int64_t d = theta.numel();
    State s;
    s.params = theta.clone();
    s.momentum_buffer = Tensor::zeros({d}, theta.dtype(), theta.device());
    s.mean = Tensor::zeros({d}, theta.dtype(), theta.device());
    s.sq_mean = Tensor::zeros({d}, theta.dtype(), theta.device());
    s.deviations = Tensor::zeros({config_.rank, d}, theta.dtype(), theta.device());
    return s;
}

void Transform::collect(State& state, const Tensor& theta) const {
    check_state(state);
    check_same_shape("swag", "theta", theta, "state.mean", state.mean);
    check_same_device("swag", "theta", theta, "state.mean", state.mean);
    check_dtype("swag", "theta", theta, state.mean.dtype());
    const double n = static_cast<double>(state.num_snapshots);
    // Running moments: m ← m·n/(n+1) + θ/(n+1), in place.
    axpby_(state.mean, 1.0 / (n + 1.0), theta, n / (n + 1.0));
    scale_(state.sq_mean, n / (n + 1.0));
    addcmul_(state.sq_mean, 1.0 / (n + 1.0), theta, theta);
    const std::int64_t cap = state.deviations.size(0);
    if (cap > 0) {
        Tensor row = state.deviations.select(0, state.num_snapshots % cap);
        row.copy_(theta);
        axpy_(row, -1.0, state.mean);  // against the mean that already includes θ
    }
    ++state.num_snapshots;
}

void Transform::update(State& state, const Batch& batch) const {
    check_state(state);
    const ValueAndGrad vg = log_posterior_and_grad(log_posterior_, state.params, batch);
    state.log_posterior = vg.value.item();
    Tensor grad = vg.grad;
    scale_(grad, -1.0);  // SGD descends −ℓ
    const SgdOptions options{.lr = lr_at(config_.lr, state.step),
                             .momentum = config_.momentum,
                             .weight_decay = config_.weight_decay,
                             .nesterov = config_.nesterov};
    sgd_step_(state.params, grad, state.momentum_buffer, options, state.step == 0);
    ++state.step;
    POSTR_CHECK(all_finite(state.params), "swag: parameters became non-finite at step ", state.step,
                " (log-posterior ", state.log_posterior, ", learning rate ", options.lr,
                "). Lower the learning rate or check the log-posterior");
    const std::int64_t since = state.step - config_.snapshot_start;
    if (since > 0 && since % config_.snapshot_frequency == 0) collect(state, state.params);
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    check_state(state);
    POSTR_CHECK(state.num_snapshots >= 1, "swag: no snapshot collected yet (step ", state.step,
                ", snapshot_start ", config_.snapshot_start,
                "). Run update() past snapshot_start before sampling");
    POSTR_CHECK(n >= 0, "swag: the number of samples must be non-negative: got ", n,
                ". Pass n ≥ 0");
    const std::int64_t d = state.mean.numel();
    const DType dtype = state.mean.dtype();
    const Device device = state.mean.device();
    // [n, D]: √scale · Σ_diag^{1/2} z₁
    Tensor out = normal({n, d}, gen, 0.0, 1.0, dtype, device);
    out = mul(out, mul(sqrt(variance(state)), std::sqrt(config_.scale)));
    const std::int64_t k = held_rows(state);
    if (k >= 2) {
        // + √(scale / (k − 1)) · z₂ D̂, z₂ [n, k]; row order of D̂ does not matter here.
        const Tensor z2 = normal({n, k}, gen, 0.0, 1.0, dtype, device);
        const Tensor low_rank = matmul(z2, state.deviations.narrow(0, 0, k));
        axpy_(out, std::sqrt(config_.scale / static_cast<double>(k - 1)), low_rank);
    }
    axpy_(out, 1.0, state.mean);
    return out;
}

Tensor Transform::covariance(const State& state) const {
    check_state(state);
    const std::int64_t d = state.mean.numel();
    Tensor cov = mul(eye(d, state.mean.dtype(), state.mean.device()), variance(state));
    const std::int64_t k = held_rows(state);
    if (k >= 2) {
        const Tensor dev = state.deviations.narrow(0, 0, k);
        axpy_(cov, 1.0 / static_cast<double>(k - 1), matmul(dev.t(), dev));
    }
    scale_(cov, config_.scale);
    return cov;
}

Transform build(LogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), config);
}

}  // namespace postr::inference::swag
