// The subnetwork linearized Laplace approximation (Daxberger et al., "Bayesian Deep Learning via
// Subnetwork Inference", ICML 2021; DESIGN.md decision 4): a full-covariance Gaussian over S
// chosen weights θ_S of a trained model, every other weight kept at its MAP value,
//   θ_S ~ N(θ_MAP,S, Σ_S),  Σ_S = (G_S + λ I)⁻¹,
// with G_S the GGN of the negative log-likelihood over the subnetwork (dense, S×S, accumulated
// with the curvature fast road, never forming the full Jacobian) and λ the precision of an
// isotropic Gaussian prior. The predictive linearizes the network in θ_S:
//   f(x*) ~ N(f(x*; θ_MAP), J_*S Σ_S J_*Sᵀ),
// evaluated with one triangular solve against the Cholesky factor of the posterior precision
// (kept as a factor, never inverted).
//
// Typical use (model trained and in eval mode; loader batches of training data):
//   Tensor index = nn::select_largest_variance(variances, s);   // or another rule
//   SubnetworkLaplace la(model, index, {.prior_precision = 1.0});
//   for (batch : train) la.accumulate(batch.images, batch.labels);
//   la.fit();
//   Tensor probs = la.predict_probabilities(test_images);       // probit approximation
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

struct SubnetworkLaplaceOptions {
    nn::Likelihood likelihood = nn::Likelihood::categorical();
    double prior_precision = 1.0;  // λ > 0
    // The accumulated GGN is multiplied by this before the prior is added: N_train / N_fit when
    // the GGN is fitted on a random subset of the training data standing in for all of it.
    double ggn_scale = 1.0;
    // Samples per forward/backward pass for the GGN and the predictive Jacobians (0: at most
    // 64, fewer when a chunk's Jacobian would pass 256 MiB).
    std::int64_t chunk_size = 0;
};

class SubnetworkLaplace {
  public:
    // index: i64 [S] positions into the model's θ (any order; see nn/curvature/subnetwork.h
    // for selection rules). The model is held by reference, at its current θ (the MAP).
    // Throws postr::Error for a bad index or a non-positive prior precision.
    SubnetworkLaplace(nn::Module& model, const Tensor& index,
                      SubnetworkLaplaceOptions options = {});

    // Adds a batch of training data to the GGN: x [N, ...], targets as the likelihood wants
    // (unused by the GGN itself, accepted for symmetry with the empirical Fisher).
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    // Factorizes ggn_scale · G_S + λ I (Cholesky). Call after accumulating; again after
    // set_prior_precision. Throws NotPositiveDefinite naming the failing minor.
    void fit();
    // Changes λ; the next fit() refactorizes from the stored GGN (no new data pass).
    void set_prior_precision(double prior_precision);

    // The linearized predictive in function space for test inputs x [N, ...]; the functions of
    // inference/linearized_predictive.h turn it into class probabilities (probit, Laplace
    // bridge, Monte Carlo) or regression moments.
    FunctionalPosterior predict(const Tensor& x) const;
    // Class probabilities [N, C] (categorical likelihood) by the probit approximation (see
    // probit_probabilities).
    Tensor predict_probabilities(const Tensor& x) const;
    // The same by Monte Carlo in function space: the average of softmax(μ + J_*S L⁻ᵀ ε) over
    // `samples` draws per test point (exact in distribution, and cheaper than factorizing each
    // C×C covariance: the whitened Jacobian is already at hand).
    Tensor predict_probabilities_mc(const Tensor& x, std::int64_t samples, Generator& gen) const;
    // Regression (Gaussian likelihood): the predictive mean and variance [N, C] of the function
    // or, with observation_noise, of a new observation (σ² of the likelihood added).
    RegressionPredictive predict_regression(const Tensor& x, bool observation_noise = true) const;

    // n draws of the subnetwork weights θ_S ~ N(θ_MAP,S, Σ_S): [n, S], in the order of index().
    // θ_S = θ_MAP,S + L⁻ᵀ ε with L Lᵀ = Σ_S⁻¹ (the transpose that laplace-torch's subnetwork
    // sampler misses: L⁻¹ ε would have covariance (L Lᵀ)⁻¹ only when L is symmetric).
    Tensor sample(std::int64_t n, Generator& gen) const;

    const Tensor& index() const { return index_; }
    std::int64_t size() const { return index_.numel(); }  // S
    double prior_precision() const { return options_.prior_precision; }
    // G_S (symmetric, S×S) and the lower Cholesky factor L of G_S + λ I (after fit()).
    Tensor ggn() const { return ggn_.matrix(); }
    const Tensor& precision_cholesky() const;
    // log det Σ_S = −2 Σ log L_ii, for marginal likelihoods.
    double posterior_log_determinant() const;

    // The Laplace approximation of the log marginal likelihood (evidence) of the subnetwork
    // model, with the other weights fixed at the MAP:
    //   log p(D | λ) ≈ log p(D | θ*) − ½ λ ‖θ*_S‖² + ½ S log λ − ½ log det(s·G_S + λI),
    // given log_likelihood = log p(D | θ*) (the summed log-likelihood of the training data at
    // the MAP; it does not depend on λ, so pass 0 to compare priors). Needs fit().
    double log_marginal_likelihood(double log_likelihood = 0.0) const;
    // Sets λ to the maximiser of log_marginal_likelihood over [low, high] (golden-section search
    // on log λ, to 1e-6 relative, one Cholesky per evaluation, θ* held fixed as laplace-torch
    // does) and refits. Returns the chosen λ.
    double optimize_prior_precision(double low = 1e-4, double high = 1e6);

  private:
    std::int64_t chunk_for_prediction() const;

    nn::Module& model_;
    Tensor index_;
    SubnetworkLaplaceOptions options_;
    nn::DenseCurvature ggn_;
    Tensor cholesky_;  // lower factor of G_S + λI; undefined until fit()
};

}  // namespace postr::inference
