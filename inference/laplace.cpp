#include "postr/inference/laplace.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/losses.h"

namespace postr::inference::laplace {
namespace {

// The dense Hessian holds D² values and costs D backward passes; past this it is the wrong tool.
constexpr std::int64_t max_hessian_size = 5000;

nn::CurvatureType curvature_type(Structure s) {
    switch (s) {
        case Structure::diag_empirical_fisher:
        case Structure::dense_empirical_fisher:
            return nn::CurvatureType::empirical_fisher;
        default:
            return nn::CurvatureType::ggn;
    }
}

// Σ_n −log p(y_n | f(x_n; θ)) with its normalising constant, differentiable in θ.
Var summed_negative_log_likelihood(nn::Module& model, const nn::Likelihood& likelihood,
                                   const Var& theta, const Batch& batch) {
    const Var outputs = nn::functional_call(model, theta, Var(batch.inputs));
    if (likelihood.kind == nn::Likelihood::Kind::categorical)
        return nn::cross_entropy(outputs, batch.targets, nn::Reduction::sum);
    return nn::gaussian_nll(outputs, Var(batch.targets), likelihood.sigma * likelihood.sigma,
                            nn::Reduction::sum);
}

// ∇²_θ of the summed negative log-likelihood: the Jacobian of the recorded gradient, pulled back
// with the D unit cotangents in one batched pass. [D, D].
Tensor negative_log_likelihood_hessian(nn::Module& model, const nn::Likelihood& likelihood,
                                       const Tensor& theta, const Batch& batch) {
    const VarFn gradient = [&](const Var& t) {
        const Var nll = summed_negative_log_likelihood(model, likelihood, t, batch);
        return grad({nll}, {t}, {}, true, true)[0];
    };
    Tensor h = jacobian(gradient, theta);
    // Reverse-over-reverse is symmetric only up to rounding; the Cholesky reads one triangle.
    return mul(add(h, h.t()), 0.5);
}

}  // namespace

bool is_dense(Structure structure) {
    return structure == Structure::dense_empirical_fisher || structure == Structure::dense_ggn ||
           structure == Structure::dense_hessian;
}

Transform::Transform(nn::Module& model, Config config) : model_(model), config_(std::move(config)) {
    const PriorPrecision& p = config_.prior_precision;
    if (p.per_parameter.defined()) {
        check_floating("laplace::Transform", "prior_precision", p.per_parameter);
        check_rank("laplace::Transform", "prior_precision", p.per_parameter, 1);
        POSTR_CHECK(all_finite(p.per_parameter) && min(p.per_parameter).item() > 0,
                    "laplace::Transform: prior_precision must be positive and finite everywhere: "
                    "got a minimum of ",
                    min(p.per_parameter).item(), ". Pass λ_i > 0 (inverse prior variances)");
    } else {
        POSTR_CHECK(p.scalar > 0 && std::isfinite(p.scalar),
                    "laplace::Transform: prior_precision must be positive and finite: got ",
                    p.scalar, ". Pass λ > 0 (the inverse prior variance)");
    }
    POSTR_CHECK(config_.num_data >= 0,
                "laplace::Transform: num_data must be the training-set size, or 0 for the data "
                "fed: got ",
                config_.num_data, ". Pass N ≥ 0");
    POSTR_CHECK(config_.jitter >= 0 && std::isfinite(config_.jitter),
                "laplace::Transform: jitter must be non-negative and finite: got ", config_.jitter,
                ". Pass a small positive value, or 0");
}

State Transform::init(const Tensor& theta) const {
    check_defined("laplace::init", "theta", theta);
    check_floating("laplace::init", "theta", theta);
    check_rank("laplace::init", "theta", theta, 1);
    const std::int64_t d = theta.numel();
    POSTR_CHECK(d == model_.parameters().size(),
                "laplace::init: theta must have the model's D elements: got ", d,
                " for D = ", model_.parameters().size(),
                ". Pass model.parameters().theta() at the MAP");
    if (config_.prior_precision.per_parameter.defined())
        check_same_shape("laplace::init", "prior_precision", config_.prior_precision.per_parameter,
                         "theta", theta);
    POSTR_CHECK(config_.structure != Structure::dense_hessian || d <= max_hessian_size,
                "laplace::init: the dense Hessian is limited to D ≤ ", max_hessian_size,
                " parameters (D² memory, D backward passes): got D = ", d,
                ". Use dense_ggn on a subnetwork (SubnetworkLaplace) or a diagonal structure");
    State s;
    s.mean = theta.clone();
    s.curvature = is_dense(config_.structure) ? Tensor::zeros({d, d}, theta.dtype(), theta.device())
                                              : Tensor::zeros({d}, theta.dtype(), theta.device());
    s.log_likelihood = Tensor::zeros({1}, theta.dtype(), theta.device());
    return s;
}

void Transform::update(State& state, const Batch& batch) const {
    check_defined("laplace::update", "state.mean", state.mean);
    check_defined("laplace::update", "batch.inputs", batch.inputs);
    const std::int64_t b = batch.inputs.dim() > 0 ? batch.inputs.size(0) : 0;
    POSTR_CHECK(b > 0, "laplace::update: the batch is empty: inputs ",
                to_string(batch.inputs.shape()), ". Pass at least one sample");
    Tensor& theta = model_.parameters().theta();
    if (!theta.shares_storage_with(state.mean)) theta.copy_(state.mean);

    nn::CurvatureOptions options;
    options.type = curvature_type(config_.structure);
    options.likelihood = config_.likelihood;
    options.chunk_size = config_.chunk_size;
    if (config_.structure == Structure::dense_hessian) {
        axpy_(state.curvature, 1.0,
              negative_log_likelihood_hessian(model_, config_.likelihood, state.mean, batch));
    } else if (is_dense(config_.structure)) {
        nn::DenseCurvature c(model_, options);
        c.accumulate(batch.inputs, batch.targets);
        axpy_(state.curvature, 1.0, c.matrix());
    } else {
        nn::DiagonalCurvature c(model_, options);
        c.accumulate(batch.inputs, batch.targets);
        axpy_(state.curvature, 1.0, c.diagonal());
    }
    {
        NoGradGuard no_graph;
        const Tensor outputs = model_(Var(batch.inputs)).value();
        axpy_(state.log_likelihood, -1.0,
              nn::negative_log_likelihood(config_.likelihood, outputs, batch.targets).view({1}));
    }
    state.num_samples += b;
    ++state.step;
    state.precision = Tensor();
    state.precision_cholesky = Tensor();
    POSTR_CHECK(all_finite(state.curvature) && all_finite(state.log_likelihood),
                "laplace::update: the curvature or log-likelihood became non-finite at batch ",
                state.step, " (", state.num_samples,
                " samples fed). Check the model's outputs and the targets for NaN/inf");
}

double Transform::scale(const State& state) const {
    if (config_.num_data == 0 || state.num_samples == 0) return 1.0;
    return static_cast<double>(config_.num_data) / static_cast<double>(state.num_samples);
}

Tensor Transform::prior_vector(const Tensor& like) const {
    const PriorPrecision& p = config_.prior_precision;
    if (p.per_parameter.defined()) return p.per_parameter.to(like.device()).to(like.dtype());
    return Tensor::full({like.size(0)}, p.scalar, like.dtype(), like.device());
}

void Transform::fit(State& state) const {
    POSTR_CHECK(state.num_samples > 0,
                "laplace::fit: no data fed. Call update(state, batch) on the training batches "
                "first");
    const Tensor lambda = prior_vector(state.mean);
    const double s = scale(state);
    if (!is_dense(config_.structure)) {
        state.precision = add(mul(state.curvature, s), lambda);
        return;
    }
    const std::int64_t d = state.mean.numel();
    Tensor diagonal = lambda;
    if (config_.structure == Structure::dense_hessian) diagonal = add(lambda, config_.jitter);
    const Tensor eye_d = eye(d, state.mean.dtype(), state.mean.device());
    state.precision = add(mul(state.curvature, s), mul(eye_d, diagonal.view({1, d})));
    state.precision_cholesky = cholesky(state.precision);
}

void Transform::check_fitted(const char* op, const State& state) const {
    POSTR_CHECK(state.precision.defined(), op,
                ": the state has no posterior precision (not fitted since the last update). Call "
                "fit(state) first");
}

Tensor Transform::covariance(const State& state) const {
    check_fitted("laplace::covariance", state);
    if (!is_dense(config_.structure)) return reciprocal(state.precision);
    return cholesky_inverse(state.precision_cholesky);
}

Tensor Transform::sample(const State& state, std::int64_t n, Generator& gen) const {
    check_fitted("laplace::sample", state);
    POSTR_CHECK(n >= 0, "laplace::sample: the number of samples must be non-negative: got ", n,
                ". Pass n ≥ 0");
    const std::int64_t d = state.mean.numel();
    const Tensor mean = state.mean.view({1, d});
    if (!is_dense(config_.structure)) {
        const Tensor eps = normal({n, d}, gen, 0.0, 1.0, state.mean.dtype(), state.mean.device());
        return add(mul(eps, rsqrt(state.precision).view({1, d})), mean);
    }
    // x = L⁻ᵀ ε has Cov = L⁻ᵀ L⁻¹ = (L Lᵀ)⁻¹ = P⁻¹: the transpose is what laplace-torch forgot.
    const Tensor eps = normal({d, n}, gen, 0.0, 1.0, state.mean.dtype(), state.mean.device());
    const Tensor x = triangular_solve(state.precision_cholesky, eps, true, true);  // [D, n]
    return add(x.t(), mean);
}

double Transform::log_marginal_likelihood(const State& state) const {
    check_fitted("laplace::log_marginal_likelihood", state);
    const Tensor lambda = prior_vector(state.mean);
    // log N(θ* | 0, diag(1/λ)) = ½ Σ log λ_i − ½ Σ λ_i θ_i² − (D/2) log 2π; the −(D/2) log 2π
    // cancels against the +(D/2) log 2π of the Laplace integral.
    const double log_prior_without_2pi =
        0.5 * sum(log(lambda)).item() - 0.5 * sum(mul(lambda, square(state.mean))).item();
    const double log_det = is_dense(config_.structure)
                               ? cholesky_logdet(state.precision_cholesky).item()
                               : sum(log(state.precision)).item();
    return scale(state) * state.log_likelihood.item() + log_prior_without_2pi - 0.5 * log_det;
}

Transform build(nn::Module& model, Config config) { return Transform(model, std::move(config)); }

}  // namespace postr::inference::laplace
