#include "postr/inference/linearized_predictive.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/inference/metrics.h"
#include "postr/kernels/ops.h"

namespace postr::inference {
namespace {

void check_posterior(const FunctionalPosterior& f, const char* op) {
    POSTR_CHECK(f.mean.defined() && f.covariance.defined() && f.mean.dim() == 2, op,
                ": needs a functional posterior with mean [N, C] and covariance [N, C, C]",
                ". Pass the result of a Laplace approximation's predict(x)");
    const std::int64_t n = f.mean.size(0), c = f.mean.size(1);
    POSTR_CHECK(f.covariance.shape() == Shape({n, c, c}), op, ": covariance shape ",
                to_string(f.covariance.shape()), " does not match the mean ",
                to_string(f.mean.shape()), ". Expected [N, C, C]");
}

}  // namespace

Tensor marginal_variances(const FunctionalPosterior& f) {
    check_posterior(f, "marginal_variances");
    const Tensor cov = f.covariance.contiguous();
    const std::int64_t n = f.mean.size(0), c = f.mean.size(1);
    return cov.as_strided({n, c}, {c * c, c + 1}, cov.offset());
}

Tensor probit_probabilities(const FunctionalPosterior& f) {
    const Tensor variances = marginal_variances(f);
    const Tensor scale = rsqrt(add(mul(variances, std::numbers::pi / 8.0), 1.0));
    return softmax(mul(f.mean, scale), 1);
}

Tensor laplace_bridge_probabilities(const FunctionalPosterior& f) {
    const Tensor variances = marginal_variances(f);
    const std::int64_t c = f.mean.size(1);
    POSTR_CHECK(c >= 2, "laplace_bridge_probabilities: needs at least 2 classes: got C = ", c);
    // The paper's correction: centre the logits (the softmax does not see a shared shift) and
    // rescale by s = Σ_k Σ_kk / √(C/2), which keeps the Dirichlet from being overconfident
    // when the variances are large.
    const Tensor centred = sub(f.mean, mean(f.mean, {1}, true));
    const Tensor s = mul(sum(variances, {1}, true), 1.0 / std::sqrt(c / 2.0));
    const Tensor mu = div(centred, sqrt(s));
    const Tensor var = div(variances, s);
    const double cc = static_cast<double>(c);
    const Tensor sum_exp_neg = sum(exp(neg(mu)), {1}, true);
    const Tensor alpha =
        div(add(mul(mul(exp(mu), sum_exp_neg), 1.0 / (cc * cc)), 1.0 - 2.0 / cc), var);
    return div(alpha, sum(alpha, {1}, true));
}

Tensor monte_carlo_probabilities(const FunctionalPosterior& f, std::int64_t samples,
                                 Generator& gen) {
    check_posterior(f, "monte_carlo_probabilities");
    POSTR_CHECK(samples >= 1, "monte_carlo_probabilities: samples must be at least 1: got ",
                samples);
    const std::int64_t n = f.mean.size(0), c = f.mean.size(1);
    // A rank-deficient Σ (C above the posterior's rank) has no Cholesky factor: a jitter far
    // below any variance that matters makes it positive definite without moving the answer.
    const double largest = max(marginal_variances(f)).item();
    const double jitter = 1e-10 * std::max(largest, 1e-30);
    const Tensor l =
        cholesky(add(f.covariance, mul(eye(c, f.mean.dtype(), f.mean.device()), jitter)));
    const Tensor eps = normal({n, c, samples}, gen, 0.0, 1.0, f.mean.dtype(), f.mean.device());
    const Tensor logits = add(matmul(l, eps).transpose(1, 2), f.mean.unsqueeze(1));  // [N, S, C]
    return mean(softmax(logits, 2), {1});
}

std::int64_t prediction_chunk(std::int64_t bytes_per_sample, std::int64_t requested) {
    if (requested > 0) return requested;
    return std::clamp<std::int64_t>(
        (std::int64_t{256} << 20) / std::max<std::int64_t>(bytes_per_sample, 1), 1, 64);
}

RegressionPredictive regression_predictive(const FunctionalPosterior& f, double noise_variance) {
    POSTR_CHECK(noise_variance >= 0 && std::isfinite(noise_variance),
                "regression_predictive: noise_variance must be finite and ≥ 0: got ",
                noise_variance, ". Pass σ² of the Gaussian likelihood, or 0 for the function");
    return {f.mean, add(marginal_variances(f), noise_variance)};
}

Tensor map_outputs(nn::Module& model, const Tensor& x) {
    NoGradGuard no_graph;
    return model(Var(x)).value();
}

void for_each_chunk(const Tensor& x, std::int64_t chunk,
                    const std::function<void(const Tensor&)>& fn) {
    for (std::int64_t start = 0; start < x.size(0); start += chunk)
        fn(x.narrow(0, start, std::min(chunk, x.size(0) - start)));
}

double validation_nll(const FunctionalPosterior& f, const Tensor& targets,
                      const nn::Likelihood& likelihood) {
    if (likelihood.kind == nn::Likelihood::Kind::categorical)
        return negative_log_likelihood(probit_probabilities(f), targets);
    const RegressionPredictive p = regression_predictive(f, likelihood.sigma * likelihood.sigma);
    return -gaussian_log_likelihood(p.mean, p.variance, targets);
}

void check_prior_grid(const std::vector<double>& grid, const char* op) {
    POSTR_CHECK(!grid.empty(), op,
                ": the grid of prior precisions is empty. Pass candidates such as 1e-2 … 1e4");
    for (double lambda : grid)
        POSTR_CHECK(lambda > 0 && std::isfinite(lambda), op,
                    ": every prior precision in the grid must be positive and finite: got ",
                    lambda);
}

std::size_t argmin(const std::vector<double>& scores) {
    std::size_t best = 0;
    double best_score = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < scores.size(); ++i)
        if (scores[i] < best_score) {
            best_score = scores[i];
            best = i;
        }
    return best;
}

}  // namespace postr::inference
