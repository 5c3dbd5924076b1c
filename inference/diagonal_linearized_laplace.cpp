#include "postr/inference/diagonal_linearized_laplace.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "postr/core/error.h"
#include "postr/inference/golden_section.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/jacobian.h"

namespace postr::inference {
namespace {

void check_prior(double prior_precision) {
    POSTR_CHECK(prior_precision > 0 && std::isfinite(prior_precision),
                "DiagonalLinearizedLaplace: the prior precision must be positive and finite: got ",
                prior_precision, ". Pass λ > 0 (the inverse prior variance)");
}

nn::CurvatureOptions ggn_options(const DiagonalLinearizedLaplaceOptions& o) {
    nn::CurvatureOptions c;
    c.likelihood = o.likelihood;
    c.chunk_size = o.chunk_size;
    return c;
}

}  // namespace

DiagonalLinearizedLaplace::DiagonalLinearizedLaplace(nn::Module& model,
                                                     DiagonalLinearizedLaplaceOptions options)
    : model_(model), options_(options), ggn_(model, ggn_options(options)) {
    check_prior(options.prior_precision);
    POSTR_CHECK(options.ggn_scale > 0 && std::isfinite(options.ggn_scale),
                "DiagonalLinearizedLaplace: ggn_scale must be positive and finite: got ",
                options.ggn_scale, ". Pass N_train / N_fit, or 1");
}

void DiagonalLinearizedLaplace::accumulate(const Tensor& x, const Tensor& targets) {
    ggn_.accumulate(x, targets);
    variances_ = Tensor();
}

void DiagonalLinearizedLaplace::set_prior_precision(double prior_precision) {
    check_prior(prior_precision);
    options_.prior_precision = prior_precision;
    variances_ = Tensor();
}

void DiagonalLinearizedLaplace::fit() {
    POSTR_CHECK(ggn_.num_samples() > 0,
                "DiagonalLinearizedLaplace::fit: no data accumulated. Call accumulate(x, y) on "
                "the training data first");
    variances_ =
        reciprocal(add(mul(ggn_.diagonal(), options_.ggn_scale), options_.prior_precision));
}

const Tensor& DiagonalLinearizedLaplace::posterior_variances() const {
    POSTR_CHECK(variances_.defined(),
                "DiagonalLinearizedLaplace: not fitted (or changed since). Call fit() after "
                "accumulate and after set_prior_precision");
    return variances_;
}

double DiagonalLinearizedLaplace::posterior_log_determinant() const {
    return sum(log(posterior_variances())).item();
}

double DiagonalLinearizedLaplace::log_marginal_likelihood(double log_likelihood) const {
    const double lambda = options_.prior_precision;
    const Tensor& theta = model_.parameters().theta();
    const double norm2 = sum(square(theta)).item();
    const double d = static_cast<double>(theta.numel());
    return log_likelihood - 0.5 * lambda * norm2 + 0.5 * d * std::log(lambda) +
           0.5 * posterior_log_determinant();
}

double DiagonalLinearizedLaplace::optimize_prior_precision(double low, double high) {
    return maximise_on_log_scale(
        [&](double lambda) {
            set_prior_precision(lambda);
            fit();
            return log_marginal_likelihood();
        },
        low, high, "DiagonalLinearizedLaplace::optimize_prior_precision");
}

double DiagonalLinearizedLaplace::tune_prior_precision_on_validation(
    const std::vector<double>& grid, const Tensor& x, const Tensor& targets) {
    const char* op = "DiagonalLinearizedLaplace::tune_prior_precision_on_validation";
    check_prior_grid(grid, op);
    POSTR_CHECK(ggn_.num_samples() > 0, op,
                ": no data accumulated. Call accumulate(x, y) on the training data first");
    check_defined(op, "x", x);
    POSTR_CHECK(x.dim() >= 1 && x.size(0) >= 1, op,
                ": x must hold at least one validation sample: got ", to_string(x.shape()));
    // Only the variances depend on λ: each chunk's Jacobian serves every λ of the grid.
    const Tensor scaled_ggn = mul(ggn_.diagonal(), options_.ggn_scale);
    std::vector<Tensor> means;
    std::vector<std::vector<Tensor>> covariances(grid.size());
    const std::int64_t chunk = chunk_for_prediction();
    for_each_chunk(x, chunk, [&](const Tensor& xc) {
        means.push_back(map_outputs(model_, xc));
        const Tensor j = nn::per_sample_jacobian(model_, xc);  // [n, C, D]
        for (std::size_t k = 0; k < grid.size(); ++k) {
            const Tensor w = mul(j, sqrt(reciprocal(add(scaled_ggn, grid[k]))));
            covariances[k].push_back(matmul(w, w.transpose(1, 2)));
        }
    });
    const Tensor mean = cat(means, 0);
    std::vector<double> nll;
    for (const std::vector<Tensor>& c : covariances)
        nll.push_back(validation_nll({mean, cat(c, 0)}, targets, options_.likelihood));
    set_prior_precision(grid[argmin(nll)]);
    fit();
    return options_.prior_precision;
}

std::int64_t DiagonalLinearizedLaplace::chunk_for_prediction() const {
    // The [n, C, D] Jacobian and its scaled copy, assuming up to 16 outputs.
    return prediction_chunk(2 * 16 * model_.parameters().size() * 8, options_.chunk_size);
}

FunctionalPosterior DiagonalLinearizedLaplace::predict(const Tensor& x) const {
    const Tensor& variances = posterior_variances();
    check_defined("DiagonalLinearizedLaplace::predict", "x", x);
    POSTR_CHECK(x.dim() >= 1 && x.size(0) >= 1,
                "DiagonalLinearizedLaplace::predict: x must hold at least one sample: got ",
                to_string(x.shape()), ". Pass [N, ...] with N ≥ 1");
    const Tensor scale = sqrt(variances);  // [D]
    const std::int64_t chunk = chunk_for_prediction();
    std::vector<Tensor> means, covariances;
    for_each_chunk(x, chunk, [&](const Tensor& xc) {
        means.push_back(map_outputs(model_, xc));
        // J diag(σ²) Jᵀ = W Wᵀ with W = J diag(σ): symmetric by construction.
        const Tensor w = mul(nn::per_sample_jacobian(model_, xc), scale);  // [n, C, D]
        covariances.push_back(matmul(w, w.transpose(1, 2)));               // [n, C, C]
    });
    return {cat(means, 0), cat(covariances, 0)};
}

Tensor DiagonalLinearizedLaplace::predict_probabilities(const Tensor& x) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::categorical,
                "DiagonalLinearizedLaplace::predict_probabilities: needs a categorical "
                "likelihood. Use predict_regression() for a Gaussian likelihood");
    return probit_probabilities(predict(x));
}

RegressionPredictive DiagonalLinearizedLaplace::predict_regression(const Tensor& x,
                                                                   bool observation_noise) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::gaussian,
                "DiagonalLinearizedLaplace::predict_regression: needs a Gaussian likelihood. Use "
                "predict_probabilities() for a categorical one");
    const double sigma = options_.likelihood.sigma;
    return regression_predictive(predict(x), observation_noise ? sigma * sigma : 0.0);
}

Tensor DiagonalLinearizedLaplace::sample(std::int64_t n, Generator& gen) const {
    POSTR_CHECK(n >= 0, "DiagonalLinearizedLaplace::sample: n must be ≥ 0: got ", n,
                ". Pass the number of draws");
    const Tensor& variances = posterior_variances();
    const Tensor eps =
        normal({n, variances.numel()}, gen, 0.0, 1.0, variances.dtype(), variances.device());
    return add(mul(eps, sqrt(variances)), model_.parameters().theta());
}

}  // namespace postr::inference
