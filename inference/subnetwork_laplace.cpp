#include "postr/inference/subnetwork_laplace.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "postr/core/error.h"
#include "postr/inference/golden_section.h"
#include "postr/inference/jittered_cholesky.h"
#include "postr/io/checkpoint.h"
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

// The mean and the subnetwork Jacobian of one chunk of test inputs.
struct ChunkJacobian {
    Tensor mean;  // [n, C]
    Tensor j;     // J_*S: [n, C, S]
};

ChunkJacobian chunk_jacobian(nn::Module& model, const Tensor& x, const Tensor& index) {
    return {map_outputs(model, x), nn::per_sample_jacobian(model, x, index)};
}

// The mean and the whitened Jacobian W = L⁻¹ J_*Sᵀ of one chunk of test inputs: everything
// the predictive needs, since J Σ Jᵀ = Wᵀ W and J L⁻ᵀ ε = Wᵀ ε.
struct Whitened {
    Tensor mean;  // [n, C]
    Tensor w;     // [S, n, C]
};

Whitened whiten(const ChunkJacobian& chunk, const Tensor& l) {
    const Tensor& j = chunk.j;
    const std::int64_t n = j.size(0), c = j.size(1), s = j.size(2);
    const Tensor w = triangular_solve(l, j.reshape({n * c, s}).t().contiguous(), true);
    return {chunk.mean, w.view({s, n, c})};
}

Whitened whiten(nn::Module& model, const Tensor& x, const Tensor& index, const Tensor& l) {
    return whiten(chunk_jacobian(model, x, index), l);
}

// J Σ Jᵀ = Wᵀ W per input: [n, C, C].
Tensor covariance(const Whitened& f) {
    const Tensor w = f.w.permute({1, 2, 0});  // [n, C, S]
    return matmul(w, w.transpose(1, 2));
}

}  // namespace

SubnetworkLaplace::SubnetworkLaplace(nn::Module& model, const Tensor& index,
                                     SubnetworkLaplaceOptions options)
    : model_(model),
      index_(index),
      options_(options),
      ggn_(model, ggn_options(options), index),
      ggn_sigma_(options.likelihood.sigma) {
    check_prior(options.prior_precision);
    POSTR_CHECK(options.ggn_scale > 0 && std::isfinite(options.ggn_scale),
                "SubnetworkLaplace: ggn_scale must be positive and finite: got ", options.ggn_scale,
                ". Pass N_train / N_fit, or 1");
    const Tensor& theta = model.parameters().theta();
    prior_ = Tensor::full({index.numel()}, options.prior_precision, theta.dtype(), theta.device());
}

void SubnetworkLaplace::accumulate(const Tensor& x, const Tensor& targets) {
    ggn_.accumulate(x, targets);
    cholesky_ = Tensor();
}

void SubnetworkLaplace::set_prior_precision(double prior_precision) {
    check_prior(prior_precision);
    options_.prior_precision = prior_precision;
    prior_.fill_(prior_precision);
    uniform_prior_ = true;
    cholesky_ = Tensor();
}

void SubnetworkLaplace::set_prior_precision(const Tensor& per_weight) {
    POSTR_CHECK(per_weight.defined() && per_weight.shape() == Shape({size()}),
                "SubnetworkLaplace::set_prior_precision: per-weight precisions must have shape [",
                size(), "] (one per subnetwork weight): got ",
                per_weight.defined() ? to_string(per_weight.shape()) : std::string("undefined"),
                ". Expand per-layer values with nn::group_by_layer");
    check_floating("SubnetworkLaplace::set_prior_precision", "per_weight", per_weight);
    const Tensor values = per_weight.to(prior_.device()).to(prior_.dtype());
    POSTR_CHECK(all_finite(values) && postr::min(values).item() > 0,
                "SubnetworkLaplace::set_prior_precision: every precision must be positive and "
                "finite: the smallest is ",
                postr::min(values).item(), ". Pass λ_i > 0");
    prior_.copy_(values);
    uniform_prior_ = postr::max(values).item() == postr::min(values).item();
    options_.prior_precision = postr::max(values).item();
    cholesky_ = Tensor();
}

void SubnetworkLaplace::set_noise_sigma(double sigma) {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::gaussian,
                "SubnetworkLaplace::set_noise_sigma: only a Gaussian likelihood has a noise σ");
    options_.likelihood = nn::Likelihood::gaussian(sigma);
    cholesky_ = Tensor();
}

double SubnetworkLaplace::prior_precision() const {
    POSTR_CHECK(uniform_prior_,
                "SubnetworkLaplace::prior_precision: the prior precisions differ per weight. "
                "Read prior_precisions() instead");
    return options_.prior_precision;
}

Tensor SubnetworkLaplace::accumulated_ggn() const {
    POSTR_CHECK(ggn_.num_samples() > 0 || loaded_ggn_.defined(),
                "SubnetworkLaplace::fit: no data accumulated. Call accumulate(x, y) on the "
                "training data first");
    if (ggn_.num_samples() == 0) return loaded_ggn_.clone();
    Tensor g = ggn_.matrix();
    if (loaded_ggn_.defined()) g = add(g, loaded_ggn_);
    return g;
}

Tensor SubnetworkLaplace::ggn() const {
    double scale = options_.ggn_scale;
    if (options_.likelihood.kind == nn::Likelihood::Kind::gaussian) {
        const double ratio = ggn_sigma_ / options_.likelihood.sigma;
        scale *= ratio * ratio;  // the GGN of a Gaussian likelihood is JᵀJ / σ²
    }
    return mul(accumulated_ggn(), scale);
}

void SubnetworkLaplace::fit() {
    Tensor precision = ggn();
    const std::int64_t s = precision.size(0);
    // The prior on the diagonal: a strided view of the contiguous [S, S] matrix.
    Tensor diagonal = precision.as_strided({s}, {s + 1}, precision.offset());
    diagonal.copy_(add(diagonal, prior_));
    const JitteredCholesky factor =
        jittered_cholesky(precision, options_.max_jitter, "SubnetworkLaplace::fit");
    cholesky_ = factor.factor;
    jitter_ = factor.jitter;
}

const Tensor& SubnetworkLaplace::precision_cholesky() const {
    POSTR_CHECK(cholesky_.defined(),
                "SubnetworkLaplace: not fitted (or changed since). Call fit() after accumulate "
                "and after changing the prior or the noise");
    return cholesky_;
}

double SubnetworkLaplace::posterior_log_determinant() const {
    return -cholesky_logdet(precision_cholesky()).item();
}

double SubnetworkLaplace::prior_evidence() const {
    const Tensor theta_s = index_select(model_.parameters().theta(), 0, index_);
    return -0.5 * sum(mul(prior_, square(theta_s))).item() + 0.5 * sum(log(prior_)).item();
}

double SubnetworkLaplace::log_marginal_likelihood(double log_likelihood) const {
    return log_likelihood + prior_evidence() - 0.5 * cholesky_logdet(precision_cholesky()).item();
}

double SubnetworkLaplace::optimize_prior_precision(double low, double high) {
    return maximise_on_log_scale(
        [&](double lambda) {
            set_prior_precision(lambda);
            fit();
            return log_marginal_likelihood();
        },
        low, high, "SubnetworkLaplace::optimize_prior_precision");
}

namespace {

// The groups of optimize_hyperparameters as a host vector, checked: [S] i64 in 0 … G−1, every
// group non-empty.
std::vector<std::int64_t> checked_groups(const char* op, const Tensor& groups, std::int64_t s,
                                         std::int64_t& num_groups) {
    if (!groups.defined()) {
        num_groups = 1;
        return std::vector<std::int64_t>(static_cast<std::size_t>(s), 0);
    }
    check_dtype(op, "groups", groups, DType::i64);
    POSTR_CHECK(groups.shape() == Shape({s}), op, ": groups must have shape [", s,
                "] (one per subnetwork weight): got ", to_string(groups.shape()));
    std::vector<std::int64_t> g = groups.to(Device::cpu()).to_vector<std::int64_t>();
    num_groups = s == 0 ? 0 : *std::max_element(g.begin(), g.end()) + 1;
    std::vector<std::int64_t> count(
        static_cast<std::size_t>(std::max<std::int64_t>(num_groups, 0)));
    for (std::int64_t v : g) {
        POSTR_CHECK(v >= 0, op, ": groups must be ≥ 0: got ", v);
        ++count[static_cast<std::size_t>(v)];
    }
    for (std::size_t k = 0; k < count.size(); ++k)
        POSTR_CHECK(count[k] > 0, op, ": group ", k, " has no weights. Number groups 0 … G−1 ",
                    "without gaps");
    return g;
}

void check_noise_options(const char* op, const HyperparameterOptions& o, bool gaussian) {
    POSTR_CHECK(!o.learn_noise || gaussian, op, ": learn_noise needs a Gaussian likelihood");
    POSTR_CHECK(!o.learn_noise || (o.num_observations > 0 && o.sum_squared_error >= 0 &&
                                   std::isfinite(o.sum_squared_error)),
                op, ": learn_noise needs num_observations > 0 and a finite sum_squared_error ≥ 0",
                ": got ", o.num_observations, " and ", o.sum_squared_error);
}

// A tensor's values as f64 on the host.
std::vector<double> host_values(const Tensor& t) {
    return t.to(Device::cpu()).to(DType::f64).contiguous().to_vector<double>();
}

// diag Σ = diag (L Lᵀ)⁻¹ on the host: the one O(S³) step of the evidence's derivatives.
std::vector<double> posterior_variances(const Tensor& l) {
    const Tensor sigma = cholesky_inverse(l).contiguous();
    const std::int64_t s = l.size(0);
    return host_values(sigma.as_strided({s}, {s + 1}, sigma.offset()));
}

}  // namespace

HyperparameterFit SubnetworkLaplace::optimize_hyperparameters(const HyperparameterOptions& o) {
    const char* op = "SubnetworkLaplace::optimize_hyperparameters";
    check_noise_options(op, o, options_.likelihood.kind == nn::Likelihood::Kind::gaussian);
    POSTR_CHECK(o.max_iterations >= 1, op, ": max_iterations must be at least 1");
    const std::int64_t s = size();
    std::int64_t num_groups = 0;
    const std::vector<std::int64_t> group = checked_groups(op, o.groups, s, num_groups);

    // ‖θ*_g‖² and |g| per group, on the host (G is small).
    const std::vector<double> theta_s =
        host_values(index_select(model_.parameters().theta(), 0, index_));
    std::vector<double> norm2(static_cast<std::size_t>(num_groups)), count(norm2.size());
    for (std::int64_t i = 0; i < s; ++i) {
        norm2[static_cast<std::size_t>(group[i])] +=
            theta_s[static_cast<std::size_t>(i)] * theta_s[static_cast<std::size_t>(i)];
        count[static_cast<std::size_t>(group[i])] += 1;
    }
    for (std::size_t k = 0; k < norm2.size(); ++k)
        POSTR_CHECK(norm2[k] > 0, op, ": the MAP weights of group ", k,
                    " are all zero, so the evidence has no finite optimum in its λ. Leave them "
                    "out of the subnetwork or fix λ for them");

    std::vector<double> lambda(norm2.size());
    {
        const std::vector<double> current = host_values(prior_);
        for (std::int64_t i = 0; i < s; ++i)
            lambda[static_cast<std::size_t>(group[i])] = current[static_cast<std::size_t>(i)];
    }
    const double scale = options_.ggn_scale;
    const double n_obs = scale * static_cast<double>(o.num_observations);
    const double sse = scale * o.sum_squared_error;
    auto apply = [&] {
        std::vector<double> per_weight(static_cast<std::size_t>(s));
        for (std::int64_t i = 0; i < s; ++i)
            per_weight[static_cast<std::size_t>(i)] = lambda[static_cast<std::size_t>(group[i])];
        set_prior_precision(Tensor::from_vector(per_weight, {s}));
        fit();
    };

    HyperparameterFit result;
    apply();
    for (int it = 1; it <= o.max_iterations; ++it) {
        result.iterations = it;
        const std::vector<double> diag = posterior_variances(precision_cholesky());
        std::vector<double> trace(norm2.size());
        double effective = 0;  // Σ_i λ_i Σ_ii
        for (std::int64_t i = 0; i < s; ++i) {
            const auto g = static_cast<std::size_t>(group[i]);
            trace[g] += diag[static_cast<std::size_t>(i)];
            effective += lambda[g] * diag[static_cast<std::size_t>(i)];
        }
        double largest_move = 0;
        for (std::size_t k = 0; k < lambda.size(); ++k) {
            // γ_g = |g| − λ_g tr_g Σ ∈ (0, |g|): the weights the data determine.
            const double gamma = std::max(count[k] - lambda[k] * trace[k], 1e-12 * count[k]);
            const double updated = gamma / norm2[k];
            largest_move = std::max(largest_move, std::abs(std::log(updated / lambda[k])));
            lambda[k] = updated;
        }
        if (o.learn_noise) {
            const double sigma2 = options_.likelihood.sigma * options_.likelihood.sigma;
            const double updated = (sse + sigma2 * (static_cast<double>(s) - effective)) / n_obs;
            POSTR_CHECK(updated > 0 && std::isfinite(updated), op,
                        ": the noise update left σ² = ", updated,
                        ". Check sum_squared_error and num_observations");
            largest_move = std::max(largest_move, 0.5 * std::abs(std::log(updated / sigma2)));
            set_noise_sigma(std::sqrt(updated));
        }
        apply();
        if (largest_move < o.tolerance) {
            result.converged = true;
            break;
        }
    }
    result.prior_precisions = Tensor::from_vector(lambda, {num_groups});
    result.sigma = options_.likelihood.sigma;
    double data_fit = 0;
    if (o.learn_noise) {
        const double sigma2 = result.sigma * result.sigma;
        data_fit = -0.5 * n_obs * std::log(2 * std::numbers::pi * sigma2) - sse / (2 * sigma2);
    }
    result.log_marginal_likelihood = log_marginal_likelihood(data_fit);
    return result;
}

EvidenceGradient SubnetworkLaplace::log_marginal_likelihood_gradient(
    const HyperparameterOptions& o) const {
    const char* op = "SubnetworkLaplace::log_marginal_likelihood_gradient";
    check_noise_options(op, o, options_.likelihood.kind == nn::Likelihood::Kind::gaussian);
    const std::int64_t s = size();
    std::int64_t num_groups = 0;
    const std::vector<std::int64_t> group = checked_groups(op, o.groups, s, num_groups);
    const std::vector<double> theta_s =
        host_values(index_select(model_.parameters().theta(), 0, index_));
    const std::vector<double> lambda = host_values(prior_);
    const std::vector<double> diag = posterior_variances(precision_cholesky());
    std::vector<double> by_group(static_cast<std::size_t>(num_groups));
    double effective = 0;  // Σ_i λ_i Σ_ii
    for (std::size_t i = 0; i < static_cast<std::size_t>(s); ++i) {
        by_group[static_cast<std::size_t>(group[i])] +=
            0.5 * (1.0 - lambda[i] * theta_s[i] * theta_s[i] - lambda[i] * diag[i]);
        effective += lambda[i] * diag[i];
    }
    EvidenceGradient g;
    g.log_prior_precisions = Tensor::from_vector(by_group, {num_groups});
    if (o.learn_noise) {
        const double scale = options_.ggn_scale, sigma = options_.likelihood.sigma;
        g.log_sigma = static_cast<double>(s) - effective -
                      scale * static_cast<double>(o.num_observations) +
                      scale * o.sum_squared_error / (sigma * sigma);
    }
    return g;
}

double SubnetworkLaplace::tune_prior_precision_on_validation(const std::vector<double>& grid,
                                                             const Tensor& x,
                                                             const Tensor& targets) {
    const char* op = "SubnetworkLaplace::tune_prior_precision_on_validation";
    check_prior_grid(grid, op);
    check_defined(op, "x", x);
    POSTR_CHECK(x.dim() >= 1 && x.size(0) >= 1, op,
                ": x must hold at least one validation sample: got ", to_string(x.shape()));
    // The Jacobians do not depend on λ: form them once and keep them when they fit in 1 GiB
    // (counting 16 outputs of 8 bytes per input: 8,000 inputs at S = 1,000); otherwise form
    // them again per λ.
    const std::int64_t chunk = chunk_for_prediction();
    const std::int64_t bytes = x.size(0) * 16 * size() * static_cast<std::int64_t>(sizeof(double));
    std::vector<ChunkJacobian> kept;
    if (bytes <= (std::int64_t{1} << 30))
        for_each_chunk(x, chunk, [&](const Tensor& xc) {
            kept.push_back(chunk_jacobian(model_, xc, index_));
        });
    std::vector<double> nll;
    for (double lambda : grid) {
        set_prior_precision(lambda);
        fit();
        const Tensor& l = precision_cholesky();
        std::vector<Tensor> means, covariances;
        auto add_chunk = [&](const Whitened& f) {
            means.push_back(f.mean);
            covariances.push_back(covariance(f));
        };
        if (!kept.empty())
            for (const ChunkJacobian& c : kept) add_chunk(whiten(c, l));
        else
            for_each_chunk(x, chunk,
                           [&](const Tensor& xc) { add_chunk(whiten(model_, xc, index_, l)); });
        nll.push_back(
            validation_nll({cat(means, 0), cat(covariances, 0)}, targets, options_.likelihood));
    }
    const double best = grid[argmin(nll)];
    set_prior_precision(best);
    fit();
    return best;
}

namespace {

constexpr const char* kFormat = "postr.subnetwork_laplace";
constexpr const char* kVersion = "1";

std::string number_text(double v) {
    std::ostringstream out;
    out << std::setprecision(17) << v;
    return out.str();
}

const Tensor& entry(const io::CheckpointSection& section, const std::string& name,
                    const std::string& path) {
    for (const auto& [n, t] : section.entries)
        if (n == name) return t;
    throw Error("SubnetworkLaplace::load: \"" + path + "\" has no \"posterior." + name +
                "\" entry. The file is damaged or was not written by SubnetworkLaplace::save");
}

double number(const std::map<std::string, std::string>& metadata, const std::string& key,
              const std::string& path) {
    const auto it = metadata.find(key);
    POSTR_CHECK(it != metadata.end(), "SubnetworkLaplace::load: \"", path,
                "\" lacks the metadata \"", key, "\". Save it again with SubnetworkLaplace::save");
    try {
        return std::stod(it->second);
    } catch (const std::exception&) {
        throw Error("SubnetworkLaplace::load: \"" + path + "\" has a malformed \"" + key +
                    "\": \"" + it->second + "\"");
    }
}

}  // namespace

void SubnetworkLaplace::save(const std::string& path,
                             const std::map<std::string, std::string>& metadata) const {
    const Tensor& l = precision_cholesky();
    std::map<std::string, std::string> meta = metadata;
    meta["posterior.format"] = kFormat;
    meta["posterior.version"] = kVersion;
    meta["posterior.likelihood"] =
        options_.likelihood.kind == nn::Likelihood::Kind::gaussian ? "gaussian" : "categorical";
    meta["posterior.sigma"] = number_text(options_.likelihood.sigma);
    meta["posterior.ggn_sigma"] = number_text(ggn_sigma_);
    meta["posterior.ggn_scale"] = number_text(options_.ggn_scale);
    meta["posterior.chunk_size"] = std::to_string(options_.chunk_size);
    meta["posterior.max_jitter"] = number_text(options_.max_jitter);
    meta["posterior.jitter"] = number_text(jitter_);
    io::save_checkpoint_with_section(path, model_, "posterior",
                                     {{"index", index_},
                                      {"ggn", accumulated_ggn()},
                                      {"prior_precisions", prior_},
                                      {"cholesky", l}},
                                     meta);
}

SubnetworkLaplace SubnetworkLaplace::load(nn::Module& model, const std::string& path) {
    io::CheckpointSection section = io::load_checkpoint_with_section(path, model, "posterior");
    const auto& meta = section.metadata;
    const auto format = meta.find("posterior.format");
    POSTR_CHECK(format != meta.end() && format->second == kFormat, "SubnetworkLaplace::load: \"",
                path, "\" is not a subnetwork Laplace posterior (format \"",
                format == meta.end() ? std::string("none") : format->second, "\")");
    const auto version = meta.find("posterior.version");
    POSTR_CHECK(version != meta.end() && version->second == kVersion, "SubnetworkLaplace::load: \"",
                path, "\" has format version \"",
                version == meta.end() ? std::string("none") : version->second,
                "\"; this build reads version ", kVersion);
    const Tensor& theta = model.parameters().theta();
    auto on_model = [&](const Tensor& t) { return t.to(theta.device()).to(theta.dtype()); };

    SubnetworkLaplaceOptions options;
    const auto likelihood = meta.find("posterior.likelihood");
    options.likelihood = likelihood != meta.end() && likelihood->second == "gaussian"
                             ? nn::Likelihood::gaussian(number(meta, "posterior.sigma", path))
                             : nn::Likelihood::categorical();
    options.ggn_scale = number(meta, "posterior.ggn_scale", path);
    options.chunk_size = static_cast<std::int64_t>(number(meta, "posterior.chunk_size", path));
    options.max_jitter = number(meta, "posterior.max_jitter", path);

    const Tensor index = entry(section, "index", path).to(theta.device());
    const std::int64_t s = index.numel();
    const Tensor& ggn = entry(section, "ggn", path);
    const Tensor& prior = entry(section, "prior_precisions", path);
    const Tensor& l = entry(section, "cholesky", path);
    POSTR_CHECK(index.dtype() == DType::i64 && index.dim() == 1 && ggn.shape() == Shape({s, s}) &&
                    prior.shape() == Shape({s}) && l.shape() == Shape({s, s}),
                "SubnetworkLaplace::load: \"", path, "\" has inconsistent shapes: index ",
                to_string(index.shape()), ", ggn ", to_string(ggn.shape()), ", prior_precisions ",
                to_string(prior.shape()), ", cholesky ", to_string(l.shape()),
                ". The file is damaged");
    SubnetworkLaplace la(model, index, options);  // checks the index against the model
    la.ggn_sigma_ = options.likelihood.kind == nn::Likelihood::Kind::gaussian
                        ? number(meta, "posterior.ggn_sigma", path)
                        : 1.0;
    la.loaded_ggn_ = on_model(ggn);
    la.set_prior_precision(prior);
    la.cholesky_ = on_model(l);
    la.jitter_ = number(meta, "posterior.jitter", path);
    return la;
}

std::int64_t SubnetworkLaplace::chunk_for_prediction() const {
    // The [n, C, S] Jacobian and its whitened copy, assuming up to 16 outputs.
    return prediction_chunk(2 * 16 * size() * 8, options_.chunk_size);
}

FunctionalPosterior SubnetworkLaplace::predict(const Tensor& x) const {
    const Tensor& l = precision_cholesky();
    std::vector<Tensor> means, covariances;
    for_each_chunk(x, chunk_for_prediction(), [&](const Tensor& xc) {
        const Whitened f = whiten(model_, xc, index_, l);
        means.push_back(f.mean);
        covariances.push_back(covariance(f));
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
