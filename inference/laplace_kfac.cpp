#include "postr/inference/laplace_kfac.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <utility>

#include "postr/core/error.h"
#include "postr/nn/curvature/jacobian.h"

namespace postr::inference {
namespace {

void check_prior(const char* op, double prior_precision) {
    POSTR_CHECK(prior_precision > 0 && std::isfinite(prior_precision), op,
                ": the prior precision must be positive and finite: got ", prior_precision,
                ". Pass λ > 0 (the inverse prior variance)");
}

nn::CurvatureOptions curvature_options(const KfacLaplaceOptions& o) {
    nn::CurvatureOptions c;
    c.type = o.curvature;
    c.likelihood = o.likelihood;
    c.mc_samples = o.mc_samples;
    c.seed = o.seed;
    c.chunk_size = o.chunk_size;
    return c;
}

}  // namespace

KfacLaplace::KfacLaplace(nn::Module& model, KfacLaplaceOptions options)
    : model_(model), options_(std::move(options)), curvature_(model, curvature_options(options_)) {
    check_prior("KfacLaplace", options_.prior_precision);
    for (double l : options_.layer_prior_precisions) check_prior("KfacLaplace", l);
    POSTR_CHECK(options_.ggn_scale > 0 && std::isfinite(options_.ggn_scale),
                "KfacLaplace: ggn_scale must be positive and finite: got ", options_.ggn_scale,
                ". Pass N_train / N_fit, or 1");
}

void KfacLaplace::accumulate(const Tensor& x, const Tensor& targets) {
    curvature_.accumulate(x, targets);
    fitted_ = false;
}

void KfacLaplace::set_prior_precision(double prior_precision) {
    check_prior("KfacLaplace::set_prior_precision", prior_precision);
    options_.prior_precision = prior_precision;
    options_.layer_prior_precisions.clear();
}

void KfacLaplace::fit() {
    POSTR_CHECK(curvature_.num_samples() > 0,
                "KfacLaplace::fit: no data accumulated. Call accumulate(x, y) on the training "
                "data first");
    factors_ = curvature_.factors();
    diagonal_ = curvature_.diagonal_blocks();
    eigen_.clear();
    for (const nn::KroneckerFactors& f : factors_) eigen_.push_back({eigh(f.a), eigh(f.g)});
    // Interleave the two lists by θ offset to number the parametrised layers.
    kron_layer_index_.assign(factors_.size(), 0);
    diag_layer_index_.assign(diagonal_.size(), 0);
    std::size_t k = 0, d = 0;
    while (k < factors_.size() || d < diagonal_.size()) {
        const bool take_kron = d == diagonal_.size() ||
                               (k < factors_.size() && factors_[k].offset < diagonal_[d].offset);
        if (take_kron) {
            kron_layer_index_[k] = k + d;
            ++k;
        } else {
            diag_layer_index_[d] = k + d;
            ++d;
        }
    }
    const std::size_t layers = factors_.size() + diagonal_.size();
    POSTR_CHECK(
        options_.layer_prior_precisions.empty() || options_.layer_prior_precisions.size() == layers,
        "KfacLaplace::fit: layer_prior_precisions has ", options_.layer_prior_precisions.size(),
        " values but the model has ", layers,
        " parametrised layers. Pass one λ per layer in θ order, or none");
    fitted_ = true;
}

void KfacLaplace::check_fitted(const char* op) const {
    POSTR_CHECK(fitted_, op, ": not fitted (or data added since). Call fit() after accumulate");
}

const std::vector<nn::KroneckerFactors>& KfacLaplace::factors() const {
    check_fitted("KfacLaplace::factors");
    return factors_;
}

const std::vector<nn::DiagonalBlock>& KfacLaplace::diagonal_blocks() const {
    check_fitted("KfacLaplace::diagonal_blocks");
    return diagonal_;
}

double KfacLaplace::prior_of_kron(std::size_t l) const {
    return options_.layer_prior_precisions.empty()
               ? options_.prior_precision
               : options_.layer_prior_precisions[kron_layer_index_[l]];
}

double KfacLaplace::prior_of_diag(std::size_t b) const {
    return options_.layer_prior_precisions.empty()
               ? options_.prior_precision
               : options_.layer_prior_precisions[diag_layer_index_[b]];
}

std::vector<double> KfacLaplace::layer_prior_precisions() const {
    check_fitted("KfacLaplace::layer_prior_precisions");
    std::vector<double> out(factors_.size() + diagonal_.size());
    for (std::size_t l = 0; l < factors_.size(); ++l) out[kron_layer_index_[l]] = prior_of_kron(l);
    for (std::size_t b = 0; b < diagonal_.size(); ++b) out[diag_layer_index_[b]] = prior_of_diag(b);
    return out;
}

Tensor KfacLaplace::kron_precision_eigenvalues(std::size_t l) const {
    const Eigen& e = eigen_[l];
    // [O, 1] · [1, I'] → [O, I'], d[o, i] = s·γ_o·α_i + λ. Eigenvalues of the PSD factors may
    // come out a few ulp below zero; the prior keeps d positive regardless.
    const Tensor outer = mul(e.g.eigenvalues.unsqueeze(1), e.a.eigenvalues.unsqueeze(0));
    return add(mul(outer, options_.ggn_scale), prior_of_kron(l));
}

Tensor KfacLaplace::diag_precision(std::size_t b) const {
    return add(mul(diagonal_[b].diagonal, options_.ggn_scale), prior_of_diag(b));
}

Tensor KfacLaplace::sample(std::int64_t n, Generator& gen) const {
    check_fitted("KfacLaplace::sample");
    POSTR_CHECK(n >= 0, "KfacLaplace::sample: n must be non-negative: got ", n);
    const Tensor& theta = model_.parameters().theta();
    Tensor out = Tensor::empty({n, theta.size(0)}, theta.dtype(), theta.device());
    out.copy_(theta.unsqueeze(0));
    for (std::size_t l = 0; l < factors_.size(); ++l) {
        const nn::KroneckerFactors& f = factors_[l];
        const Eigen& e = eigen_[l];
        // Q diag(d^{-1/2}) ε in matrix form: Q_G (d^{-1/2} ∘ E) Q_Aᵀ, E: [n, O, I'].
        const Tensor eps = normal({n, f.out_features, f.augmented_in()}, gen, 0.0, 1.0,
                                  theta.dtype(), theta.device());
        const Tensor z = mul(eps, rsqrt(kron_precision_eigenvalues(l)));
        const Tensor m = matmul(matmul(e.g.eigenvectors, z), e.a.eigenvectors.t());
        Tensor block = out.narrow(1, f.offset, f.size);
        axpy_(block, 1.0, f.from_matrix(m));
    }
    for (std::size_t b = 0; b < diagonal_.size(); ++b) {
        const nn::DiagonalBlock& d = diagonal_[b];
        const Tensor eps = normal({n, d.size}, gen, 0.0, 1.0, theta.dtype(), theta.device());
        Tensor block = out.narrow(1, d.offset, d.size);
        axpy_(block, 1.0, mul(eps, rsqrt(diag_precision(b))));
    }
    return out;
}

Tensor KfacLaplace::posterior_variance() const {
    check_fitted("KfacLaplace::posterior_variance");
    const Tensor& theta = model_.parameters().theta();
    Tensor out = Tensor::empty({theta.size(0)}, theta.dtype(), theta.device());
    for (std::size_t l = 0; l < factors_.size(); ++l) {
        const nn::KroneckerFactors& f = factors_[l];
        const Eigen& e = eigen_[l];
        // Σ[(o,i),(o,i)] = Σ_{p,q} Q_G[o,p]² Q_A[i,q]² / d[p,q] = ((Q_G∘Q_G) d⁻¹ (Q_A∘Q_A)ᵀ)[o,i].
        const Tensor v =
            matmul(matmul(square(e.g.eigenvectors), reciprocal(kron_precision_eigenvalues(l))),
                   square(e.a.eigenvectors).t());
        out.narrow(0, f.offset, f.size).copy_(f.from_matrix(v));
    }
    for (std::size_t b = 0; b < diagonal_.size(); ++b)
        out.narrow(0, diagonal_[b].offset, diagonal_[b].size).copy_(reciprocal(diag_precision(b)));
    return out;
}

double KfacLaplace::posterior_log_determinant() const {
    check_fitted("KfacLaplace::posterior_log_determinant");
    double log_det_precision = 0.0;
    for (std::size_t l = 0; l < factors_.size(); ++l)
        log_det_precision += sum(log(kron_precision_eigenvalues(l))).item();
    for (std::size_t b = 0; b < diagonal_.size(); ++b)
        log_det_precision += sum(log(diag_precision(b))).item();
    return -log_det_precision;
}

double KfacLaplace::log_marginal_likelihood(double log_likelihood) const {
    check_fitted("KfacLaplace::log_marginal_likelihood");
    const Tensor& theta = model_.parameters().theta();
    double prior_term = 0.0;
    auto add_block = [&](std::int64_t offset, std::int64_t size, double lambda) {
        const double norm2 = sum(square(theta.narrow(0, offset, size))).item();
        prior_term += -0.5 * lambda * norm2 + 0.5 * static_cast<double>(size) * std::log(lambda);
    };
    for (std::size_t l = 0; l < factors_.size(); ++l)
        add_block(factors_[l].offset, factors_[l].size, prior_of_kron(l));
    for (std::size_t b = 0; b < diagonal_.size(); ++b)
        add_block(diagonal_[b].offset, diagonal_[b].size, prior_of_diag(b));
    return log_likelihood + prior_term + 0.5 * posterior_log_determinant();
}

std::int64_t KfacLaplace::chunk_for_prediction(std::int64_t outputs) const {
    // The [n, C, D] Jacobian and its rotated copies.
    return prediction_chunk(3 * outputs * model_.num_parameters() * 8, options_.chunk_size);
}

FunctionalPosterior KfacLaplace::predict(const Tensor& x) const {
    check_fitted("KfacLaplace::predict");
    check_defined("KfacLaplace::predict", "x", x);
    POSTR_CHECK(x.dim() >= 1 && x.size(0) > 0,
                "KfacLaplace::predict: x must be a non-empty batch [N, ...]: got ",
                to_string(x.shape()));
    // C from one sample's output (the chunk size depends on it).
    const std::int64_t outputs = map_outputs(model_, x.narrow(0, 0, 1)).size(-1);
    std::vector<Tensor> means, covariances;
    for_each_chunk(x, chunk_for_prediction(outputs), [&](const Tensor& xc) {
        const Tensor mean = map_outputs(model_, xc);
        const Tensor j = nn::per_sample_jacobian(model_, xc);  // [n, C, D]
        const std::int64_t n = j.size(0), c = j.size(1);
        Tensor cov = Tensor::zeros({n, c, c}, j.dtype(), j.device());
        for (std::size_t l = 0; l < factors_.size(); ++l) {
            const nn::KroneckerFactors& f = factors_[l];
            const Eigen& e = eigen_[l];
            // Rows of J_l (Q_G ⊗ Q_A) in matrix form: Q_Gᵀ X Q_A for each row X: [n, C, O, I'],
            // scaled by d^{-1/2}, so that W Wᵀ = J_l P_l⁻¹ J_lᵀ.
            const Tensor x_rows = f.to_matrix(j.narrow(2, f.offset, f.size));
            const Tensor rotated = matmul(matmul(e.g.eigenvectors.t(), x_rows), e.a.eigenvectors);
            const Tensor w =
                mul(rotated, rsqrt(kron_precision_eigenvalues(l))).reshape({n, c, f.size});
            cov = add(cov, matmul(w, w.transpose(1, 2)));
        }
        for (std::size_t b = 0; b < diagonal_.size(); ++b) {
            const nn::DiagonalBlock& d = diagonal_[b];
            const Tensor w = mul(j.narrow(2, d.offset, d.size), rsqrt(diag_precision(b)));
            cov = add(cov, matmul(w, w.transpose(1, 2)));
        }
        means.push_back(mean);
        covariances.push_back(cov);
    });
    return {cat(means, 0), cat(covariances, 0)};
}

Tensor KfacLaplace::predict_probabilities(const Tensor& x) const {
    POSTR_CHECK(options_.likelihood.kind == nn::Likelihood::Kind::categorical,
                "KfacLaplace::predict_probabilities: needs a categorical likelihood. Use "
                "predict() for the Gaussian mean and covariance");
    return probit_probabilities(predict(x));
}

}  // namespace postr::inference
