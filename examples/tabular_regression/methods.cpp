#include "examples/tabular_regression/methods.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iostream>
#include <optional>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/inference/diagonal_linearized_laplace.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/inference/metrics.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"

namespace postr::examples::tabular {
namespace {

bool wants(const MethodConfig& c, const std::string& m) {
    return std::find(c.methods.begin(), c.methods.end(), m) != c.methods.end();
}

// Scores a predictive (standardised units, observation noise included) in the file's units:
// y = mean_y + std_y · z, so the mean maps affinely, the variance scales by std_y², and the
// log-likelihood picks up the Jacobian −log std_y per point.
Result score(const std::string& method, std::int64_t s, double fraction, const Tensor& mean,
             const Tensor& variance, const SplitData& data, double prior_precision, double sigma) {
    const Tensor m = add(mul(mean, data.y_std), data.y_mean);
    const Tensor v = mul(variance, data.y_std * data.y_std);
    return {method,
            s,
            fraction,
            inference::gaussian_log_likelihood(m, v, data.y_test_original),
            inference::rmse(m, data.y_test_original),
            prior_precision,
            sigma * data.y_std};
}

// The diagonal Laplace with λ and σ at the maximum of its evidence
//   log p(D | λ, σ) ≈ −N/2 log(2πσ²) − SSE/(2σ²) − λ/2 ‖θ*‖² + D/2 log λ
//                     − ½ Σ_i log(G_ii(σ) + λ),   G_ii(σ) = G_ii(σ₀) σ₀²/σ²,
// by MacKay's updates γ = Σ_i G_ii/(G_ii + λ), λ ← γ/‖θ*‖², σ² ← SSE/(N − γ) (the diagonal
// Laplace has no noise update of its own; the GGN scales as 1/σ², so no new data pass is
// needed until the final fit).
struct DiagonalFit {
    std::unique_ptr<inference::DiagonalLinearizedLaplace> laplace;
    double lambda = 0, sigma = 0;
};
DiagonalFit fit_diagonal(nn::Sequential& model, const Trained& trained, const SplitData& data,
                         const MethodConfig& config) {
    const double sigma0 = trained.sigma;
    inference::DiagonalLinearizedLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma0);
    options.prior_precision = config.prior_precision;
    inference::DiagonalLinearizedLaplace first(model, options);
    first.accumulate(data.x_train, data.y_train);
    const std::vector<double> g = first.ggn_diagonal().contiguous().to_vector<double>();
    const double norm2 = sum(square(model.parameters().theta())).item();
    const auto n = static_cast<double>(data.x_train.size(0));
    double lambda = config.prior_precision, sigma2 = sigma0 * sigma0;
    for (int it = 0; it < config.hyper_iterations; ++it) {
        double gamma = 0;
        for (double gi : g) {
            const double scaled = gi * sigma0 * sigma0 / sigma2;
            gamma += scaled / (scaled + lambda);
        }
        const double new_lambda = std::max(gamma, 1e-12) / norm2;
        const double new_sigma2 = trained.sum_squared_error / std::max(n - gamma, 1.0);
        const double move = std::max(std::abs(std::log(new_lambda / lambda)),
                                     0.5 * std::abs(std::log(new_sigma2 / sigma2)));
        lambda = new_lambda;
        sigma2 = new_sigma2;
        if (move < 1e-9) break;
    }
    DiagonalFit out;
    out.lambda = lambda;
    out.sigma = std::sqrt(sigma2);
    options.likelihood = nn::Likelihood::gaussian(out.sigma);
    options.prior_precision = lambda;
    out.laplace = std::make_unique<inference::DiagonalLinearizedLaplace>(model, options);
    out.laplace->accumulate(data.x_train, data.y_train);
    out.laplace->fit();
    return out;
}

}  // namespace

std::vector<Result> fit_and_evaluate(Trained& trained, const SplitData& data,
                                     const MethodConfig& config) {
    nn::Sequential& model = *trained.model;
    const std::int64_t d = model.num_parameters();
    const std::int64_t n = data.x_train.size(0);
    std::vector<Result> results;

    {  // MAP: the network's output and the learned noise, no weight uncertainty.
        const Tensor mean = inference::map_outputs(model, data.x_test);
        const Tensor variance = add(zeros_like(mean), trained.sigma * trained.sigma);
        results.push_back(score("map", 0, 0, mean, variance, data, 0, trained.sigma));
    }

    // Each method in a try block: a failure (e.g. an indefinite precision on odd data) drops
    // that row with a warning instead of the whole run.
    auto guarded = [&](const std::string& what, auto&& body) {
        try {
            body();
        } catch (const std::exception& e) {
            std::cerr << "warning: " << what << " skipped: " << e.what() << "\n";
        }
    };

    auto subnetwork = [&](const std::string& method, const Tensor& index, double fraction) {
        guarded(method + " S=" + std::to_string(index.numel()), [&] {
            inference::SubnetworkLaplaceOptions options;
            options.likelihood = nn::Likelihood::gaussian(trained.sigma);
            options.prior_precision = config.prior_precision;
            options.max_jitter = 1e-6;
            inference::SubnetworkLaplace la(model, index, options);
            la.accumulate(data.x_train, data.y_train);
            la.fit();
            inference::HyperparameterOptions h;
            h.learn_noise = true;
            h.sum_squared_error = trained.sum_squared_error;
            h.num_observations = n;
            h.max_iterations = config.hyper_iterations;
            const inference::HyperparameterFit fit = la.optimize_hyperparameters(h);
            const inference::RegressionPredictive p = la.predict_regression(data.x_test, true);
            results.push_back(score(method, index.numel(), fraction, p.mean, p.variance, data,
                                    fit.prior_precisions.to_vector<double>()[0], fit.sigma));
        });
    };

    const bool need_diagonal = wants(config, "diagonal") || wants(config, "curvature") ||
                               (wants(config, "wasserstein") && config.variances == "laplace");
    std::optional<DiagonalFit> diagonal;
    if (need_diagonal) {
        guarded("diagonal", [&] {
            diagonal = fit_diagonal(model, trained, data, config);
            if (wants(config, "diagonal")) {
                const auto p = diagonal->laplace->predict_regression(data.x_test, true);
                results.push_back(score("diagonal", d, 0, p.mean, p.variance, data,
                                        diagonal->lambda, diagonal->sigma));
            }
        });
    }
    if (wants(config, "last_layer")) subnetwork("last_layer", nn::select_last_layer(model), 0);
    if (wants(config, "full"))
        subnetwork("full", arange(0, static_cast<double>(d), 1, DType::i64), 0);

    nn::Candidates which;
    which.biases = config.include_biases;
    const Tensor candidates = nn::candidate_parameters(model, which);
    const std::int64_t num_candidates = candidates.numel();
    // The subnetwork sizes of the requested fractions, each once: two fractions that round to
    // the same S would otherwise count one fit twice in the summary's standard errors.
    std::vector<std::int64_t> sizes;
    for (double f : config.fractions) {
        const std::int64_t size = std::clamp<std::int64_t>(
            std::llround(f * static_cast<double>(num_candidates)), 1, num_candidates);
        if (std::find(sizes.begin(), sizes.end(), size) == sizes.end()) sizes.push_back(size);
    }
    auto fraction_of = [&](std::int64_t size) {
        return static_cast<double>(size) / static_cast<double>(num_candidates);
    };

    if (wants(config, "wasserstein")) {
        Tensor variances;
        if (config.variances == "swag") {
            guarded("SWAG", [&] {
                variances = swag_variances(model, trained.sigma, config.prior_precision,
                                           data.x_train, data.y_train, config.swag_epochs,
                                           config.batch_size, config.swag_lr, config.seed + 17);
            });
        } else if (diagonal) {
            variances = diagonal->laplace->posterior_variances();
        }
        if (variances.defined()) {
            const Tensor restricted = index_select(variances, 0, candidates);
            for (std::size_t i = 0; i < sizes.size(); ++i)
                subnetwork("wasserstein",
                           nn::select_within(candidates,
                                             nn::select_largest_variance(restricted, sizes[i])),
                           fraction_of(sizes[i]));
        }
    }
    if (wants(config, "curvature") && diagonal) {
        const Tensor restricted = index_select(diagonal->laplace->ggn_diagonal(), 0, candidates);
        for (std::size_t i = 0; i < sizes.size(); ++i)
            subnetwork(
                "curvature",
                nn::select_within(candidates, nn::select_largest_curvature(restricted, sizes[i])),
                fraction_of(sizes[i]));
    }
    if (wants(config, "random")) {
        for (std::size_t i = 0; i < sizes.size(); ++i)
            subnetwork("random",
                       nn::select_within(candidates, nn::select_random(num_candidates, sizes[i],
                                                                       config.seed + 101 + i)),
                       fraction_of(sizes[i]));
    }
    return results;
}

}  // namespace postr::examples::tabular
