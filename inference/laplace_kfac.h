// The Kronecker-factored (KFAC) linearized Laplace approximation (Ritter, Botev & Barber, "A
// Scalable Laplace Approximation for Neural Networks", ICLR 2018; laplace-torch's KronLaplace):
// a Gaussian over all of θ, centred at the MAP θ* the user trained, block-diagonal over layers,
//
//   θ ~ N(θ*, P⁻¹),  P_l = s·(G_l ⊗ A_l) + λ_l I   for each Linear / Conv2d layer l,
//                    P_l = s·diag(C_l) + λ_l I      for the other layers (BatchNorm2d),
//
// with G_l ⊗ A_l the layer's Kronecker-factored GGN (or Fisher) from nn/curvature/kfac.h (over
// vec_row([W | b]); its θ order is handled inside), diag(C_l) the diagonal of the other layers'
// curvature blocks, s the dataset-size scaling (ggn_scale) and λ_l the prior precision. Unlike
// laplace-torch's damped variant, P is used exactly: with G = Q_G diag(γ) Q_Gᵀ and
// A = Q_A diag(α) Q_Aᵀ (eigh),
//
//   P_l = (Q_G ⊗ Q_A) diag(s·γ ⊗ α + λ_l) (Q_G ⊗ Q_A)ᵀ,
//
// so sampling, the marginal variances, log det P and the predictive all work in the eigenbasis
// and never form a P×P matrix. (In laplace-torch's column-major vec the same matrix is written
// kron(Q_A, Q_G) diag(λ_A ⊗ λ_G) (...)ᵀ.)
//
// The predictive linearizes the network in θ:
//   f(x*) ~ N(f(x*; θ*), Σ_l J_*l P_l⁻¹ J_*lᵀ),
// with J_*l the per-sample Jacobian restricted to layer l (jacobian.h), rotated into the
// eigenbasis: J_*l (Q_G ⊗ Q_A) diag(1/(sγ⊗α + λ)) (Q_G ⊗ Q_A)ᵀ J_*lᵀ.
//
// Use (model trained and in eval mode):
//   KfacLaplace la(model, {.likelihood = nn::Likelihood::categorical(), .prior_precision = 1});
//   for (batch : train) la.accumulate(batch.images, batch.labels);
//   la.fit();
//   Tensor probs = la.predict_probabilities(test_images);   // probit approximation
//   Tensor draws = la.sample(100, gen);                      // [100, D]
#pragma once

#include <cstdint>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/kfac.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/module.h"

namespace postr::inference {

struct KfacLaplaceOptions {
    nn::Likelihood likelihood = nn::Likelihood::categorical();
    // ggn (exact loss-Hessian factors), ggn_monte_carlo (mc_samples sampled labels, seeded) or
    // empirical_fisher (gradients at the observed targets; accumulate needs them).
    nn::CurvatureType curvature = nn::CurvatureType::ggn;
    std::int64_t mc_samples = 1;
    std::uint64_t seed = 0;
    double prior_precision = 1.0;  // λ > 0 for every layer...
    // ...or one λ_l per parametrised layer (Kronecker layers and diagonal blocks together, in θ
    // order) when not empty; checked against the model at fit().
    std::vector<double> layer_prior_precisions;
    // The accumulated curvature is multiplied by this before the prior is added: N_train / N_fit
    // when it is fitted on a random subset of the training data standing in for all of it.
    double ggn_scale = 1.0;
    // Samples per forward/backward pass (0: at most 64; for predict, fewer when a chunk's
    // Jacobian [n, C, D] would pass 256 MiB).
    std::int64_t chunk_size = 0;
};

class KfacLaplace {
  public:
    // The model is held by reference, at its current θ (the MAP). Throws postr::Error for a
    // non-positive prior precision or ggn_scale, or invalid curvature options.
    KfacLaplace(nn::Module& model, KfacLaplaceOptions options = {});

    // Adds a batch of training data: x [N, ...], targets as the likelihood wants (needed for
    // the empirical Fisher only).
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    // Takes the factors and eigendecomposes A_l and G_l for every layer. Call after
    // accumulating; the prior can change afterwards without refitting. Throws when nothing was
    // accumulated or layer_prior_precisions has the wrong length.
    void fit();
    // Sets one λ for every layer (clearing per-layer values); no refit needed.
    void set_prior_precision(double prior_precision);

    // n draws θ* + P^{-1/2} ε: [n, D] (θ's dtype/device), per layer Q diag(d^{-1/2}) ε with
    // d = sγ⊗α + λ, so the covariance is exactly P⁻¹. Requires fit(); advances gen.
    Tensor sample(std::int64_t n, Generator& gen) const;
    // The marginal variances diag(P⁻¹): [D] (for Wasserstein subnetwork selection).
    Tensor posterior_variance() const;
    // log det P⁻¹ = −Σ log d over every block.
    double posterior_log_determinant() const;
    // The Laplace evidence
    //   log p(D | λ) ≈ log p(D | θ*) − ½ Σ_l λ_l ‖θ*_l‖² + ½ Σ_l P_l log λ_l − ½ log det P,
    // given log_likelihood = log p(D | θ*) (the summed log-likelihood of the training data at
    // θ*; independent of λ, so pass 0 to compare priors). Exact for a linear-Gaussian model
    // whose curvature is exactly Kronecker (one output). Requires fit().
    double log_marginal_likelihood(double log_likelihood = 0.0) const;

    // The linearized predictive in function space for test inputs x [N, ...]: covariance
    // Σ_l J_*l P_l⁻¹ J_*lᵀ per sample (see linearized_predictive.h for class probabilities and
    // regression moments). Requires fit().
    FunctionalPosterior predict(const Tensor& x) const;
    // Class probabilities [N, C] (categorical likelihood) by the probit approximation
    // softmax(μ_c / √(1 + π/8 · Σ_cc)) (as SubnetworkLaplace::predict_probabilities).
    Tensor predict_probabilities(const Tensor& x) const;

    // After fit(): the Kronecker layers' factors (θ order) and the diagonal blocks.
    const std::vector<nn::KroneckerFactors>& factors() const;
    const std::vector<nn::DiagonalBlock>& diagonal_blocks() const;
    // λ of each parametrised layer, Kronecker layers and diagonal blocks together, in θ order.
    std::vector<double> layer_prior_precisions() const;

  private:
    // The eigendecomposition of one Kronecker layer.
    struct Eigen {
        EighResult a, g;
    };
    void check_fitted(const char* op) const;
    // d = sγ⊗α + λ: [O, I'] for Kronecker layer l; or s·diag + λ: [P] for diagonal block b.
    Tensor kron_precision_eigenvalues(std::size_t l) const;
    Tensor diag_precision(std::size_t b) const;
    double prior_of_kron(std::size_t l) const;
    double prior_of_diag(std::size_t b) const;
    std::int64_t chunk_for_prediction(std::int64_t outputs) const;

    nn::Module& model_;
    KfacLaplaceOptions options_;
    nn::KroneckerCurvature curvature_;
    bool fitted_ = false;
    std::vector<nn::KroneckerFactors> factors_;
    std::vector<Eigen> eigen_;
    std::vector<nn::DiagonalBlock> diagonal_;
    // The position of each Kronecker layer / diagonal block among all parametrised layers in θ
    // order (to map layer_prior_precisions onto both lists).
    std::vector<std::size_t> kron_layer_index_, diag_layer_index_;
};

}  // namespace postr::inference
