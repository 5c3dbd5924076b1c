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
#include <map>
#include <string>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

struct SubnetworkLaplaceOptions {
    nn::Likelihood likelihood = nn::Likelihood::categorical();
    double prior_precision = 1.0;  // λ > 0 (per-weight precisions: set_prior_precision(Tensor))
    // The accumulated GGN is multiplied by this before the prior is added: N_train / N_fit when
    // the GGN is fitted on a random subset of the training data standing in for all of it.
    double ggn_scale = 1.0;
    // Samples per forward/backward pass for the GGN and the predictive Jacobians (0: at most
    // 64, fewer when a chunk's Jacobian would pass 256 MiB).
    std::int64_t chunk_size = 0;
    // fit(): largest jitter δ·I to retry the Cholesky with when the precision is numerically
    // indefinite (0: fail at once; see jittered_cholesky.h). jitter() reports the δ used.
    double max_jitter = 0.0;
};

// What optimize_hyperparameters tunes and with what data.
struct HyperparameterOptions {
    // i64 [S]: the group (0 … G−1) of each subnetwork weight, one prior precision per group
    // (e.g. nn::group_by_layer); undefined: one λ for all.
    Tensor groups;
    // Gaussian likelihood only: also tune the observation noise σ, from the data fit at the
    // MAP over the data the GGN was accumulated on (both scaled by ggn_scale like the GGN).
    bool learn_noise = false;
    double sum_squared_error = 0.0;     // Σ_n ‖y_n − f(x_n; θ*)‖²
    std::int64_t num_observations = 0;  // N·C
    int max_iterations = 200;
    double tolerance = 1e-9;  // stop when every log-hyperparameter moves less than this
};
struct HyperparameterFit {
    Tensor prior_precisions;  // f64 [G], per group
    double sigma = 0.0;       // the tuned σ (learn_noise), else the likelihood's
    double log_marginal_likelihood = 0.0;
    int iterations = 0;
    bool converged = false;
};

// The gradient of the evidence in the log-hyperparameters (log_marginal_likelihood_gradient).
struct EvidenceGradient {
    Tensor log_prior_precisions;  // f64 [G]: ∂ log p(D) / ∂ log λ_g, per group
    double log_sigma = 0.0;       // ∂ log p(D) / ∂ log σ (learn_noise), else 0
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
    // Factorizes ggn_scale · G_S + diag(λ) (Cholesky; a jitter retry only when max_jitter > 0).
    // Call after accumulating; again after changing the prior or the noise. Throws
    // NotPositiveDefinite naming the failing minor.
    void fit();
    // Changes the prior; the next fit() refactorizes from the stored GGN (no new data pass).
    void set_prior_precision(double prior_precision);
    // Per-weight prior precisions, f64 or θ's dtype [S], all > 0 (per-layer priors: expand a
    // per-group value with the groups of nn::group_by_layer).
    void set_prior_precision(const Tensor& per_weight);
    // Gaussian likelihood: changes σ. The GGN scales as 1/σ², so no new data pass is needed.
    void set_noise_sigma(double sigma);

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
    // The shared λ; throws when per-weight precisions differ (use prior_precisions()).
    double prior_precision() const;
    const Tensor& prior_precisions() const { return prior_; }  // [S]
    const SubnetworkLaplaceOptions& options() const { return options_; }
    // ggn_scale · G_S at the current σ (symmetric, S×S): the precision without the prior.
    Tensor ggn() const;
    // The lower Cholesky factor L of ggn() + diag(λ) (after fit()), and the jitter it needed.
    const Tensor& precision_cholesky() const;
    double jitter() const { return jitter_; }
    // log det Σ_S = −2 Σ log L_ii, for marginal likelihoods.
    double posterior_log_determinant() const;

    // The Laplace approximation of the log marginal likelihood (evidence) of the subnetwork
    // model, with the other weights fixed at the MAP:
    //   log p(D | λ) ≈ log p(D | θ*) − ½ Σ_i λ_i θ*_i² + ½ Σ_i log λ_i − ½ log det(s·G_S + Λ),
    // given log_likelihood = log p(D | θ*) (the summed log-likelihood of the training data at
    // the MAP; it does not depend on λ, so pass 0 to compare priors). Needs fit().
    double log_marginal_likelihood(double log_likelihood = 0.0) const;
    // Sets one λ to the maximiser of log_marginal_likelihood over [low, high] (golden-section
    // search on log λ, to 1e-6 relative, one Cholesky per evaluation, θ* held fixed as
    // laplace-torch does) and refits. Returns the chosen λ.
    double optimize_prior_precision(double low = 1e-4, double high = 1e6);
    // Maximises the evidence over per-group prior precisions (and σ) by MacKay's fixed-point
    // updates, which zero its gradient in log λ_g (and log σ):
    //   λ_g ← (|g| − λ_g tr_g Σ) / ‖θ*_g‖²,   σ² ← (s·SSE + σ² (S − Σ_i λ_i Σ_ii)) / (s·N·C),
    // one Cholesky and one inverse diagonal per iteration; then refits. With learn_noise the
    // evidence includes the Gaussian data fit −½ s·N·C log(2πσ²) − s·SSE/(2σ²).
    HyperparameterFit optimize_hyperparameters(const HyperparameterOptions& options = {});
    // The gradient of that evidence at the current fit, for gradient-based optimisers
    // (laplace-torch tunes log λ with Adam); optimize_hyperparameters drives it to zero:
    //   ∂/∂ log λ_g = ½ Σ_{i∈g} (1 − λ_i θ*_i² − λ_i Σ_ii),
    //   ∂/∂ log σ   = S − Σ_i λ_i Σ_ii − s·N·C + s·SSE/σ²   (learn_noise only),
    // with the groups, data fit and checks of `options` (max_iterations and tolerance unused).
    // One inverse diagonal of the factor (O(S³)). Needs fit().
    EvidenceGradient log_marginal_likelihood_gradient(
        const HyperparameterOptions& options = {}) const;
    // The prior precision in `grid` (one shared λ) with the lowest predictive NLL on validation
    // data (validation_nll: probit for categorical, Gaussian with noise for regression); sets
    // it, refits and returns it. targets: labels i64 [N] or regression targets [N, C]. The
    // validation Jacobians are formed once, not once per λ, when they fit in 1 GiB.
    double tune_prior_precision_on_validation(const std::vector<double>& grid, const Tensor& x,
                                              const Tensor& targets);

    // Saves the fitted posterior to `path` (safetensors, written atomically): the model's
    // parameters (the MAP) and buffers under their names, so the file is also a model
    // checkpoint, plus "posterior.index", "posterior.ggn", "posterior.prior_precisions",
    // "posterior.cholesky" and the options and `metadata` in the metadata.
    void save(const std::string& path,
              const std::map<std::string, std::string>& metadata = {}) const;
    // Loads a posterior saved by save() onto `model`, which must have the same architecture
    // (parameter names and shapes; a mismatch throws before anything changes). The model's θ
    // and buffers are set to the saved MAP. The result is fitted and ready to predict.
    static SubnetworkLaplace load(nn::Module& model, const std::string& path);

  private:
    std::int64_t chunk_for_prediction() const;
    // The accumulated GGN at the σ it was accumulated with (data plus a loaded matrix).
    Tensor accumulated_ggn() const;
    // −½ Σ λ_i θ_i² + ½ Σ log λ_i: the prior's part of the evidence.
    double prior_evidence() const;

    nn::Module& model_;
    Tensor index_;
    SubnetworkLaplaceOptions options_;
    nn::DenseCurvature ggn_;
    Tensor loaded_ggn_;       // from load(); added to what is accumulated after
    double ggn_sigma_ = 1.0;  // the Gaussian σ the GGN was accumulated with
    Tensor prior_;            // [S], θ's dtype and device
    bool uniform_prior_ = true;
    Tensor cholesky_;  // lower factor of s·G_S + Λ; undefined until fit()
    double jitter_ = 0.0;
};

}  // namespace postr::inference
