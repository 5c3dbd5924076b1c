// Ensembles over SGHMC's batched chains (see ensemble.h).
#include "postr/inference/ensemble.h"

#include <cmath>
#include <utility>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::ensemble {

namespace {

sghmc::Config chain_config(const Config& config) {
    return {.lr = config.lr,
            .alpha = config.alpha,
            .beta = config.beta,
            .sigma = config.sigma,
            .temperature = config.temperature,
            .momenta = config.momenta};
}

}  // namespace

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : chains_(std::move(log_posterior), chain_config(config)), config_(std::move(config)) {}

bool Transform::is_deep() const {
    return config_.temperature.is_constant() && config_.temperature(0) == 0.0;
}

State Transform::init(const Tensor& thetas, std::uint64_t seed) const {
    check_defined("ensemble", "thetas", thetas);
    POSTR_CHECK(thetas.dim() == 2, "ensemble: thetas is ", to_string(thetas.shape()),
                ". Pass one initial θ per member as [K, D] (or θ₀ [D] with a spread).");
    POSTR_CHECK(thetas.size(0) >= 1,
                "ensemble: thetas has K = 0 members: ", to_string(thetas.shape()),
                ". Pass at least one member.");
    return chains_.init(thetas, seed);
}

State Transform::init(const Tensor& theta0, std::int64_t num_members, double spread, Generator& gen,
                      std::uint64_t seed) const {
    check_defined("ensemble", "theta0", theta0);
    check_floating("ensemble", "theta0", theta0);
    check_rank("ensemble", "theta0", theta0, 1);
    POSTR_CHECK(num_members >= 1, "ensemble: num_members must be >= 1, got ", num_members,
                ". An ensemble has at least one member.");
    POSTR_CHECK(std::isfinite(spread) && spread >= 0.0,
                "ensemble: spread must be >= 0 and finite, got ", spread,
                ". It is the standard deviation of the initial perturbations.");
    const std::int64_t dim = theta0.size(0);
    Tensor thetas =
        normal({num_members, dim}, gen, 0.0, spread, theta0.dtype(), theta0.device());  // [K, D]
    axpy_(thetas, 1.0, theta0.unsqueeze(0).expand({num_members, dim}));
    return init(thetas, seed);
}

void Transform::update(State& state, const Batch& batch) const { chains_.update(state, batch); }

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

Tensor members(const State& state) { return state.theta; }

Tensor predictive(const Tensor& members, const MemberPrediction& predict) {
    const char* op = "ensemble::predictive";
    POSTR_CHECK(static_cast<bool>(predict), op,
                ": predict is not set. Pass a function θ [D] ↦ prediction.");
    check_defined(op, "members", members);
    POSTR_CHECK(members.dim() == 2 && members.size(0) >= 1, op, ": members is ",
                to_string(members.shape()), ". Pass the members' parameters as [K ≥ 1, D].");
    const std::int64_t count = members.size(0);
    Tensor total;
    for (std::int64_t k = 0; k < count; ++k) {
        // One forward pass per member: K separate models, as a deep ensemble has.
        const Tensor prediction = predict(members[k]);
        POSTR_CHECK(prediction.defined(), op, ": member ", k,
                    "'s prediction is undefined. Return a tensor.");
        check_finite(op, "a member's prediction", prediction);
        if (k == 0) {
            check_floating(op, "prediction", prediction);
            total = prediction.clone();
            continue;
        }
        POSTR_CHECK(prediction.shape() == total.shape(), op, ": member ", k, "'s prediction is ",
                    to_string(prediction.shape()), " but member 0's is ", to_string(total.shape()),
                    ". Every member must predict the same shape.");
        check_same_dtype(op, "prediction", prediction, "member 0's prediction", total);
        check_same_device(op, "prediction", prediction, "member 0's prediction", total);
        axpy_(total, 1.0, prediction);
    }
    scale_(total, 1.0 / static_cast<double>(count));
    return total;
}

}  // namespace postr::inference::ensemble
