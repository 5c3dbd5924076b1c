#include "postr/inference/subnetwork_laplace.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/jacobian.h"

namespace postr::inference {
namespace {

void check_prior(double prior_precision) {
    POSTR_CHECK(prior_precision > 0 && std::isfinite(prior_precision),
                "SubnetworkLaplace: the prior precision must be positive and finite: got ",
                prior_precision, ". Pass λ > 0 (the inverse prior variance)");
}

nn::CurvatureOptions ggn_options(const SubnetworkLaplaceOptions& o) {
    nn::CurvatureOptions c;
    c.likelihood = o.likelihood;
    c.chunk_size = o.chunk_size;
    return c;
}

// The mean and the whitened Jacobian W = L⁻¹ J_*Sᵀ of one chunk of test inputs: everything
// the predictive needs, since J Σ Jᵀ = Wᵀ W and J L⁻ᵀ ε = Wᵀ ε.
struct Whitened {
    Tensor mean;  // [n, C]
    Tensor w;     // [S, n, C]
};

Whitened whiten(nn::Module& model, const Tensor& x, const Tensor& index, const Tensor& l) {
    Tensor mean;
    {
        NoGradGuard no_graph;
        mean = model(Var(x)).value();
    }
    const Tensor j = nn::per_sample_jacobian(model, x, index);  // [n, C, S]
    const std::int64_t n = j.size(0), c = j.size(1), s = j.size(2);
    const Tensor w = triangular_solve(l, j.reshape({n * c, s}).t().contiguous(), true);
    return {mean, w.view({s, n, c})};
}

// Calls fn(chunk) over consecutive chunks of the test inputs.
void for_each_chunk(const Tensor& x, std::int64_t chunk,
                    const std::function<void(const Tensor&)>& fn) {
    for (std::int64_t start = 0; start < x.size(0); start += chunk)
        fn(x.narrow(0, start, std::min(chunk, x.size(0) - start)));
}

}  // namespace

SubnetworkLaplace::SubnetworkLaplace(nn::Module& model, const Tensor& index,
                                     SubnetworkLaplaceOptions options)
    : model_(model), index_(index), options_(options), ggn_(model, ggn_options(options), index) {
    check_prior(options.prior_precision);
    POSTR_CHECK(options.ggn_scale > 0 && std::isfinite(options.ggn_scale),
                "SubnetworkLaplace: ggn_scale must be positive and finite: got ", options.ggn_scale,
                ". Pass N_train / N_fit, or 1");
}

void SubnetworkLaplace::accumulate(const Tensor& x, const Tensor& targets) {
    ggn_.accumulate(x, targets);
    cholesky_ = Tensor();
}

void SubnetworkLaplace::set_prior_precision(double prior_precision) {
    check_prior(prior_precision);
    options_.prior_precision = prior_precision;
    cholesky_ = Tensor();
}

void SubnetworkLaplace::fit() {
    POSTR_CHECK(ggn_.num_samples() > 0,
                "SubnetworkLaplace::fit: no data accumulated. Call accumulate(x, y) on the "
                "training data first");
    const Tensor g = ggn_.matrix();
    const std::int64_t s = g.size(0);
    cholesky_ = cholesky(add(mul(g, options_.ggn_scale),
                             mul(eye(s, g.dtype(), g.device()), options_.prior_precision)));
}

const Tensor& SubnetworkLaplace::precision_cholesky() const {
    POSTR_CHECK(cholesky_.defined(),
                "SubnetworkLaplace: not fitted (or changed since). Call fit() after accumulate "
                "and after set_prior_precision");
    return cholesky_;
}

double SubnetworkLaplace::posterior_log_determinant() const {
    return -cholesky_logdet(precision_cholesky()).item();
}

double SubnetworkLaplace::log_marginal_likelihood(double log_likelihood) const {
    const double lambda = options_.prior_precision;
    const Tensor theta_s = index_select(model_.parameters().theta(), 0, index_);
    const double norm2 = sum(square(theta_s)).item();
    const double s = static_cast<double>(size());
    return log_likelihood - 0.5 * lambda * norm2 + 0.5 * s * std::log(lambda) -
           0.5 * cholesky_logdet(precision_cholesky()).item();
}

double SubnetworkLaplace::optimize_prior_precision(double low, double high) {
    POSTR_CHECK(low > 0 && high > low && std::isfinite(high),
                "SubnetworkLaplace::optimize_prior_precision: needs 0 < low < high < ∞: got [", low,
                ", ", high, "]. Pass the range of prior precisions to search");
    auto evidence = [&](double log_lambda) {
        set_prior_precision(std::exp(log_lambda));
        fit();
        return log_marginal_likelihood();
    };
    // Golden-section search for the maximum of the (unimodal in practice) evidence in log λ.
    const double ratio = (std::sqrt(5.0) - 1) / 2;
    double a = std::log(low), b = std::log(high);
    double c = b - ratio * (b - a), d = a + ratio * (b - a);
    double fc = evidence(c), fd = evidence(d);
    while (b - a > 1e-6) {
        if (fc > fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = evidence(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = evidence(d);
        }
    }
    evidence(0.5 * (a + b));
    return options_.prior_precision;
}

std::int64_t SubnetworkLaplace::chunk_for_prediction() const {
    if (options_.chunk_size > 0) return options_.chunk_size;
    // The [n, C, S] Jacobian and its whitened copy near 256 MiB (assuming up to 16 outputs),
    // and at most 64 samples so the layers' cotangents stay bounded too (as DenseCurvature).
    const std::int64_t bytes_per_sample = std::max<std::int64_t>(2 * 16 * size() * 8, 1);
    return std::clamp<std::int64_t>((std::int64_t{256} << 20) / bytes_per_sample, 1, 64);
}

FunctionalPosterior SubnetworkLaplace::predict(const Tensor& x) const {
    const Tensor& l = precision_cholesky();
    std::vector<Tensor> means, covariances;
    for_each_chunk(x, chunk_for_prediction(), [&](const Tensor& xc) {
        const Whitened f = whiten(model_, xc, index_, l);
        const Tensor w = f.w.permute({1, 2, 0});  // [n, C, S]
        means.push_back(f.mean);
        covariances.push_back(matmul(w, w.transpose(1, 2)));
    });
    return {cat(means, 0), cat(covariances, 0)};
}

Tensor SubnetworkLaplace::predict_probabilities(const Tensor& x) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::categorical,
                "SubnetworkLaplace::predict_probabilities: needs a categorical likelihood. Use "
                "predict_regression() for a Gaussian likelihood");
    return probit_probabilities(predict(x));
}

RegressionPredictive SubnetworkLaplace::predict_regression(const Tensor& x,
                                                           bool observation_noise) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::gaussian,
                "SubnetworkLaplace::predict_regression: needs a Gaussian likelihood. Use "
                "predict_probabilities() for a categorical one");
    const double sigma = options_.likelihood.sigma;
    return regression_predictive(predict(x), observation_noise ? sigma * sigma : 0.0);
}

Tensor SubnetworkLaplace::sample(std::int64_t n, Generator& gen) const {
    POSTR_CHECK(n >= 0, "SubnetworkLaplace::sample: n must be ≥ 0: got ", n);
    const Tensor& l = precision_cholesky();
    const Tensor eps = normal({size(), n}, gen, 0.0, 1.0, l.dtype(), l.device());
    const Tensor deviation = triangular_solve(l, eps, true, true);  // L⁻ᵀ ε: [S, n]
    const Tensor theta_s = index_select(model_.parameters().theta(), 0, index_);
    return add(deviation.t(), theta_s);
}

Tensor SubnetworkLaplace::predict_probabilities_mc(const Tensor& x, std::int64_t samples,
                                                   Generator& gen) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::categorical,
                "SubnetworkLaplace::predict_probabilities_mc: needs a categorical likelihood");
    POSTR_CHECK(samples >= 1,
                "SubnetworkLaplace::predict_probabilities_mc: samples must be at "
                "least 1: got ",
                samples);
    const Tensor& l = precision_cholesky();
    std::vector<Tensor> probs;
    for_each_chunk(x, chunk_for_prediction(), [&](const Tensor& xc) {
        const Whitened f = whiten(model_, xc, index_, l);
        const std::int64_t s = f.w.size(0), n = f.w.size(1), c = f.w.size(2);
        // f = μ + J (θ_S − θ_MAP) with θ_S − θ_MAP = L⁻ᵀ ε, i.e. μ + Wᵀ ε.
        const Tensor eps = normal({samples, s}, gen, 0.0, 1.0, l.dtype(), l.device());
        const Tensor logits =
            add(matmul(eps, f.w.reshape({s, n * c})).view({samples, n, c}), f.mean);
        probs.push_back(mean(softmax(logits, 2), {0}));
    });
    return cat(probs, 0);
}

}  // namespace postr::inference
