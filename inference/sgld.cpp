// SGLD and the chain machinery shared by the SG-MCMC samplers (see sgld.h).
#include "postr/inference/sgld.h"

#include <cmath>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference {
namespace sgmcmc {

ChainLogPosterior::ChainLogPosterior(LogPosterior log_posterior)
    : per_chain_(std::move(log_posterior)) {}

ChainLogPosterior::ChainLogPosterior(BatchedLogPosterior log_posterior)
    : batched_(std::move(log_posterior)) {}

void ChainLogPosterior::value_and_grad(const char* op, const Tensor& theta, const Batch& batch,
                                       Tensor& values, Tensor& grad) const {
    const std::int64_t chains = theta.size(0);
    if (batched_.fn) {
        // Σ_k ℓ_k has gradient row k = ∇ℓ_k because ℓ_k depends on θ[k] only.
        Tensor per_chain;
        ValueAndGrad vg = postr::value_and_grad(
            [&](const Var& t) {
                Var v = batched_.fn(t, batch);
                POSTR_CHECK(v.value().numel() == chains, op, ": batched log-posterior returned ",
                            to_string(v.value().shape()), " for ", chains,
                            " chains. Return one value per chain, shape [K].");
                per_chain = v.value();
                return sum(v);
            },
            theta);
        values.copy_(per_chain.reshape({chains}));
        grad.copy_(vg.grad);
        return;
    }
    POSTR_CHECK(static_cast<bool>(per_chain_), op,
                ": log_posterior is not set. Pass a LogPosterior or a BatchedLogPosterior.");
    // The one per-chain part of an update: ℓ sees one θ [D] at a time.
    for (std::int64_t k = 0; k < chains; ++k) {
        ValueAndGrad vg = log_posterior_and_grad(per_chain_, theta[k], batch);
        POSTR_CHECK(vg.value.numel() == 1, op, ": log_posterior returned ",
                    to_string(vg.value.shape()), " for one chain. Return a one-element value.");
        Tensor value_k = values.narrow(0, k, 1);
        value_k.copy_(vg.value.reshape({1}));
        Tensor grad_k = grad[k];
        grad_k.copy_(vg.grad);
    }
}

Tensor as_chains(const char* op, const Tensor& theta) {
    check_defined(op, "theta", theta);
    check_floating(op, "theta", theta);
    POSTR_CHECK(theta.dim() == 1 || theta.dim() == 2, op, ": theta has rank ", theta.dim(),
                ", shape ", to_string(theta.shape()),
                ". Pass one chain as [D] or K chains as [K, D].");
    POSTR_CHECK(theta.numel() > 0, op, ": theta is empty: ", to_string(theta.shape()),
                ". Pass at least one chain of at least one parameter.");
    check_finite(op, "theta", theta);
    Tensor chains = theta.clone();
    return theta.dim() == 1 ? chains.view({1, theta.size(0)}) : chains;
}

std::vector<Generator> chain_generators(std::uint64_t seed, std::int64_t num_chains) {
    std::vector<Generator> generators;
    generators.reserve(static_cast<std::size_t>(num_chains));
    for (std::int64_t k = 0; k < num_chains; ++k)
        generators.emplace_back(seed + static_cast<std::uint64_t>(k));
    return generators;
}

namespace {

// noise [K, D] ← row k from draw(D, generators[k]): one stream per chain, so chain k's draws do
// not depend on K; the arithmetic that uses them then runs over all K·D elements at once.
template <class Draw>
void draw_rows_(Tensor& noise, std::vector<Generator>& generators, Draw draw) {
    const std::int64_t dim = noise.size(1);
    for (std::size_t k = 0; k < generators.size(); ++k)
        noise[static_cast<std::int64_t>(k)].copy_(draw(dim, generators[k]));
}

}  // namespace

void draw_uniform_(Tensor& noise, std::vector<Generator>& generators) {
    draw_rows_(noise, generators, [&](std::int64_t dim, Generator& gen) {
        return uniform({dim}, gen, -1.0, 1.0, noise.dtype(), noise.device());
    });
}

void draw_normal_(Tensor& noise, std::vector<Generator>& generators) {
    draw_rows_(noise, generators, [&](std::int64_t dim, Generator& gen) {
        return normal({dim}, gen, 0.0, 1.0, noise.dtype(), noise.device());
    });
}

void ornstein_uhlenbeck_(Tensor& momenta, Tensor& noise, std::vector<Generator>& generators,
                         double lr, double temperature, double alpha, double sigma) {
    const double gamma = alpha * (1.0 / (sigma * sigma));
    const double decay = std::exp(-gamma * lr);
    const double noise_scale = std::sqrt(-temperature * std::expm1(-2.0 * gamma * lr)) * sigma;
    if (noise_scale > 0.0) {
        draw_normal_(noise, generators);
        axpby_(momenta, noise_scale, noise, decay);
    } else {
        scale_(momenta, decay);
    }
}

Tensor init_momenta(const char* op, const Tensor& theta, const Tensor& momenta,
                    const std::optional<double>& fill, std::vector<Generator>& generators) {
    if (momenta.defined()) {
        check_same_dtype(op, "momenta", momenta, "theta", theta);
        check_same_device(op, "momenta", momenta, "theta", theta);
        const bool one_row = momenta.dim() == 1 && momenta.size(0) == theta.size(1);
        POSTR_CHECK(one_row || momenta.shape() == theta.shape(), op, ": momenta is ",
                    to_string(momenta.shape()), " but theta holds ", to_string(theta.shape()),
                    " chains. Pass momenta as [D] or [K, D].");
        check_finite(op, "momenta", momenta);
        Tensor m = empty_like(theta);
        m.copy_(one_row ? momenta.unsqueeze(0).expand(theta.shape()) : momenta);
        return m;
    }
    if (fill.has_value()) {
        POSTR_CHECK(std::isfinite(*fill), op, ": the constant initial momenta must be finite: got ",
                    *fill, ". Pass a finite value, or leave it unset for N(0, 1) draws.");
        return Tensor::full(theta.shape(), *fill, theta.dtype(), theta.device());
    }
    Tensor m = empty_like(theta);
    draw_normal_(m, generators);
    return m;
}

void check_schedules(const char* op, const Schedule& lr, const Schedule& temperature) {
    POSTR_CHECK(static_cast<bool>(lr), op, ": lr is not set. Give a constant or a schedule.");
    if (lr.is_constant()) schedule_value(op, "lr", lr, 0, true);
    if (temperature.is_constant()) schedule_value(op, "temperature", temperature, 0, false);
}

void check_coefficient(const char* op, const char* name, double value, bool positive,
                       const char* meaning) {
    POSTR_CHECK(std::isfinite(value) && (positive ? value > 0.0 : value >= 0.0), op, ": ", name,
                " must be ", positive ? "> 0" : ">= 0", " and finite, got ", value, ". ", meaning);
}

void check_finite_at_step(const char* op, const char* name, const Tensor& t, std::int64_t step,
                          double lr) {
    POSTR_CHECK(all_finite(t), op, ": ", name, " became non-finite at step ", step,
                " (learning rate ", lr,
                " may be too large, or the log-posterior's gradient is not finite there). "
                "Lower the learning rate or check the log-posterior.");
}

}  // namespace sgmcmc

namespace sgld {

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("sgld", config_.lr, config_.temperature);
    sgmcmc::check_coefficient("sgld", "beta", config_.beta, false,
                              "beta is an estimate of the gradient-noise variance.");
}

State Transform::init(const Tensor& theta, std::uint64_t seed) const {
    return sgmcmc::init_chains<State>("sgld", theta, seed);
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("sgld", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("sgld", "temperature", config_.temperature, state.step, false);
    const double variance = temperature * lr * (2.0 - temperature * lr * config_.beta);
    POSTR_CHECK(variance >= 0.0, "sgld: noise variance ε T (2 − ε T β) is negative: ε = ", lr,
                ", T = ", temperature, ", β = ", config_.beta, " at step index ", state.step,
                ". Keep ε T β ≤ 2.");

    log_posterior_.value_and_grad("sgld", state.theta, batch, state.log_posterior, state.grad);
    axpy_(state.theta, lr, state.grad);
    if (variance > 0.0) {
        sgmcmc::draw_normal_(state.noise, state.generators);
        axpy_(state.theta, std::sqrt(variance), state.noise);
    }
    ++state.step;
    sgmcmc::check_finite_at_step("sgld", "parameters", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace sgld
}  // namespace postr::inference
