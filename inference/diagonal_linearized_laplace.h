// The full-network diagonal linearized Laplace approximation: a Gaussian with a diagonal
// covariance over ALL D weights of a trained model,
//   θ ~ N(θ_MAP, diag(σ²)),  σ²_i = 1 / (s·G_ii + λ),
// with G_ii the diagonal of the GGN of the negative log-likelihood (nn::DiagonalCurvature, the
// curvature fast road), s = ggn_scale and λ the precision of an isotropic Gaussian prior; and its
// linearized predictive
//   f(x*) ~ N(f(x*; θ_MAP), J_* diag(σ²) J_*ᵀ),
// evaluated from the per-sample Jacobian over all of θ, a chunk of test inputs at a time (never a
// D×D matrix). The same shape and predictive API as SubnetworkLaplace (subnetwork_laplace.h), so
// the two compare like for like; its marginal variances are what the Wasserstein subnetwork rule
// (nn::select_largest_variance) selects from (Daxberger et al., ICML 2021).
//
// The diagonal ignores every correlation between weights, which is what makes it lose the
// "in-between" uncertainty of a full-covariance Laplace (Foong et al. 2019): see
// examples/toy_regression.
//
// Typical use (model trained and in eval mode):
//   DiagonalLinearizedLaplace la(model, {.likelihood = nn::Likelihood::gaussian(sigma)});
//   for (batch : train) la.accumulate(batch.x, batch.y);
//   la.fit();
//   RegressionPredictive p = la.predict_regression(x_test);
//   Tensor index = nn::select_largest_variance(la.posterior_variances(), s);
#pragma once

#include <cstdint>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

struct DiagonalLinearizedLaplaceOptions {
    nn::Likelihood likelihood = nn::Likelihood::categorical();
    double prior_precision = 1.0;  // λ > 0
    // The accumulated GGN diagonal is multiplied by this before the prior is added: N_train /
    // N_fit when the curvature is fitted on a random subset standing in for the training set.
    double ggn_scale = 1.0;
    // Samples per forward/backward pass for the curvature and the predictive Jacobians (0: at
    // most 64, fewer when a chunk's [n, C, D] Jacobian would pass 256 MiB).
    std::int64_t chunk_size = 0;
};

class DiagonalLinearizedLaplace {
  public:
    // The model is held by reference, at its current θ (the MAP); f32 or f64, any device the
    // curvature fast road supports. Throws postr::Error for a non-positive prior precision or
    // ggn_scale.
    DiagonalLinearizedLaplace(nn::Module& model, DiagonalLinearizedLaplaceOptions options = {});

    // Adds a batch of training data to the GGN diagonal: x [N, ...], targets as the likelihood
    // wants (unused by the GGN, accepted for symmetry with SubnetworkLaplace).
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    // Forms the posterior variances 1/(s·G_ii + λ). Call after accumulating, and again after
    // set_prior_precision. Throws when no data was accumulated.
    void fit();
    // Changes λ; the next fit() recomputes from the stored diagonal (no new data pass).
    void set_prior_precision(double prior_precision);

    // The linearized predictive in function space for test inputs x [N, ...]: mean [N, C] and
    // covariance Σ_d J_ncd σ²_d J_nc'd [N, C, C]. Needs fit().
    FunctionalPosterior predict(const Tensor& x) const;
    // Class probabilities [N, C] by the probit approximation (categorical likelihood).
    Tensor predict_probabilities(const Tensor& x) const;
    // Regression (Gaussian likelihood): mean and variance [N, C] of the function or, with
    // observation_noise, of a new observation (σ² of the likelihood added).
    RegressionPredictive predict_regression(const Tensor& x, bool observation_noise = true) const;

    // The marginal posterior variances σ² = 1/(s·diag G + λ): [D], θ's dtype and device. Needs
    // fit(). The input of the Wasserstein subnetwork rule (nn::select_largest_variance).
    const Tensor& posterior_variances() const;
    // The GGN diagonal accumulated so far (unscaled): [D].
    const Tensor& ggn_diagonal() const { return ggn_.diagonal(); }
    // n draws θ ~ N(θ_MAP, diag σ²): [n, D]. Needs fit().
    Tensor sample(std::int64_t n, Generator& gen) const;

    double prior_precision() const { return options_.prior_precision; }
    // log det Σ = −Σ_i log(s·G_ii + λ).
    double posterior_log_determinant() const;
    // The Laplace approximation of the log marginal likelihood with the diagonal posterior:
    //   log p(D | λ) ≈ log p(D | θ*) − ½ λ ‖θ*‖² + ½ D log λ − ½ Σ_i log(s·G_ii + λ),
    // given log_likelihood = log p(D | θ*) (it does not depend on λ: pass 0 to compare
    // priors). Needs fit().
    double log_marginal_likelihood(double log_likelihood = 0.0) const;
    // Sets λ to the maximiser of log_marginal_likelihood over [low, high] (golden-section search
    // on log λ to 1e-6, θ* held fixed, as SubnetworkLaplace) and refits. Returns the chosen λ.
    double optimize_prior_precision(double low = 1e-4, double high = 1e6);
    // The prior precision in `grid` with the lowest predictive NLL on validation data
    // (validation_nll: probit for categorical, Gaussian with noise for regression); sets it,
    // refits and returns it. targets: labels i64 [N] or regression targets [N, C]. One Jacobian
    // pass over x serves every λ. Needs accumulated data.
    //
    // With a full-network diagonal the evidence-optimal λ is often far too small, the
    // predictive underconfident even in distribution (examples/rotated_fmnist); validation is
    // the rule to prefer there.
    double tune_prior_precision_on_validation(const std::vector<double>& grid, const Tensor& x,
                                              const Tensor& targets);

  private:
    std::int64_t chunk_for_prediction() const;

    nn::Module& model_;
    DiagonalLinearizedLaplaceOptions options_;
    nn::DiagonalCurvature ggn_;
    Tensor variances_;  // [D]; undefined until fit()
};

}  // namespace postr::inference
