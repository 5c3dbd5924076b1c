// SVGD (see svgd.h): per step the K gradients, a K×K kernel matrix and two K×K×D products.
#include "postr/inference/svgd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::svgd {

namespace {

// Liu & Wang's median heuristic: med² / log(K + 1) over the distinct pairs' squared distances
// (host side: K(K − 1)/2 numbers); 1 when there is no pair or all particles coincide.
double median_bandwidth(const Tensor& sq_dist) {
    const std::int64_t k = sq_dist.size(0);
    if (k < 2) return 1.0;
    const std::vector<double> all =
        sq_dist.to(DType::f64).to(Device::cpu()).contiguous().to_vector<double>();
    std::vector<double> pairs;
    pairs.reserve(static_cast<std::size_t>(k * (k - 1) / 2));
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = i + 1; j < k; ++j)
            pairs.push_back(all[static_cast<std::size_t>(i * k + j)]);
    const std::size_t n = pairs.size(), mid = n / 2;
    std::nth_element(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(mid), pairs.end());
    double med = pairs[mid];
    if (n % 2 == 0) {
        med = 0.5 * (med + *std::max_element(pairs.begin(),
                                             pairs.begin() + static_cast<std::ptrdiff_t>(mid)));
    }
    const double h = med / std::log(static_cast<double>(k) + 1.0);
    return h > 0.0 && std::isfinite(h) ? h : 1.0;
}

}  // namespace

Transform::Transform(sgmcmc::ChainLogPosterior log_posterior, Config config)
    : log_posterior_(std::move(log_posterior)), config_(std::move(config)) {
    sgmcmc::check_schedules("svgd", config_.lr, config_.temperature);
    POSTR_CHECK(!config_.bandwidth.has_value() ||
                    (std::isfinite(*config_.bandwidth) && *config_.bandwidth > 0.0),
                "svgd: bandwidth must be > 0 and finite, got ", config_.bandwidth.value_or(0.0),
                ". Leave it unset for the median heuristic.");
}

State Transform::init(const Tensor& theta) const {
    State state;
    state.theta = sgmcmc::as_chains("svgd", theta);
    const std::int64_t k = state.theta.size(0);
    state.log_posterior = Tensor::full({k}, std::numeric_limits<double>::quiet_NaN(),
                                       state.theta.dtype(), state.theta.device());
    state.grad = empty_like(state.theta);
    state.work = empty_like(state.theta);
    return state;
}

void Transform::update(State& state, const Batch& batch) const {
    const double lr = schedule_value("svgd", "lr", config_.lr, state.step, true);
    const double temperature =
        schedule_value("svgd", "temperature", config_.temperature, state.step, false);
    const std::int64_t k = state.num_particles();
    const auto kd = static_cast<double>(k);

    log_posterior_.value_and_grad("svgd", state.theta, batch, state.log_posterior, state.grad);

    // Squared distances from the centred particles (centring loses nothing and keeps the
    // expansion ‖a‖² + ‖b‖² − 2 a·b from cancelling when the particles sit far from 0).
    state.work.copy_(state.theta);
    axpy_(state.work, -1.0, mean(state.theta, {0}, true));
    const Tensor gram = matmul(state.work, state.work.t());  // [K, K]
    const Tensor sq_norm = sum(square(state.work), {1});     // [K]
    Tensor sq_dist = add(sq_norm.view({k, 1}), sq_norm.view({1, k}));
    axpy_(sq_dist, -2.0, gram);
    sq_dist = clamp(sq_dist, 0.0, std::numeric_limits<double>::infinity());
    const double h = config_.bandwidth.has_value() ? *config_.bandwidth : median_bandwidth(sq_dist);
    const Tensor kernel = exp(mul(sq_dist, -1.0 / h));  // [K, K], symmetric
    const double repulsion = 2.0 * temperature / h;

    // φ = (1/K) [k (G − (2T/h) Θ) + (2T/h) diag(k 1) Θ]; G is not needed afterwards.
    axpy_(state.grad, -repulsion, state.theta);
    gemm_(state.work, kernel, state.grad);
    const Tensor row_sums = sum(kernel, {1}).view({k, 1});
    addcmul_(state.theta, lr * repulsion / kd, row_sums, state.theta);
    axpy_(state.theta, lr / kd, state.work);
    state.bandwidth = h;
    ++state.step;
    sgmcmc::check_finite_at_step("svgd", "particles", state.theta, state.step, lr);
}

Transform build(sgmcmc::ChainLogPosterior log_posterior, Config config) {
    return Transform(std::move(log_posterior), std::move(config));
}

}  // namespace postr::inference::svgd
