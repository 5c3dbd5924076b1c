// Kronecker-factored curvature (KFAC) of the negative log-likelihood for the Linear and Conv2d
// layers of a model, by the fast road (one forward pass on a CurvatureTape, one backward pass of
// K cotangent rows per sample to every layer's output; DESIGN.md decision 2).
//
// For a layer with weight W: [O, I] (Conv2d: [O, C_in, kH, kW] seen as [O, I], I = C_in·kH·kW)
// and optional bias b: [O], write M = [W | b]: [O, I'] (I' = I + 1 with a bias, else I). The
// layer's block of the curvature, over vec_row(M) (M read row-major), is approximated by
//
//     block ≈ G ⊗ A,   A = (1/N) Σ_n Σ_t a_{n,t} a_{n,t}ᵀ   [I', I'],
//                      G = (1/T) Σ_n Σ_k Σ_t g_{n,k,t} g_{n,k,t}ᵀ   [O, O],
//
// a_{n,t} the layer's input (Linear: x_n; Conv2d: the unfolded input patch at output position
// t, in the weight's (c, kh, kw) order) with a 1 appended when there is a bias; g_{n,k,t} the
// k-th cotangent row at the layer's output (position t): the rows of the loss-Hessian factor
// (exact GGN: C rows per sample), K sampled loss gradients / √K (Monte Carlo GGN), or the
// gradient at the observed target (empirical Fisher; see likelihood.h); N the samples
// accumulated and T the output positions per sample (1 for Linear).
//
// Normalisation: the product G ⊗ A equals laplace-torch's Kronecker factors (KFLR/KFAC with
// full-batch M = N: its A averages over samples, its G sums), so it approximates the GGN of the
// SUMMED loss Σ_n ℓ_n; it is exact when N = 1 and T = 1, and whenever G's per-sample part does not
// depend on n (one output of a Gaussian likelihood: G = N/σ², G ⊗ A = XᵀX/σ²). For Conv2d this is
// KFC (Grosse & Martens 2016), equal in product to KFAC-expand (Eschenhagen et al. 2023):
// spatial positions are treated as extra, independent samples, A sums over them and G averages.
//
// θ order: postr's block is vec_row(W) then b (weight row-major, then bias), which is not
// vec_row(M) when there is a bias; to_matrix/from_matrix convert, and dense_block() returns the
// approximation in θ order.
//
// Other parametrised layers (BatchNorm2d's scale and shift) get the diagonal of their GGN block
// instead (the same numbers as DiagonalCurvature, from the same backward pass).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/tape.h"
#include "postr/nn/module.h"

namespace postr::nn {

// One Kronecker-factored layer. Tensors on θ's device and dtype.
struct KroneckerFactors {
    const Module* layer = nullptr;
    std::int64_t offset = 0;        // first index of the layer's block in θ
    std::int64_t size = 0;          // P = O·I (+ O with a bias)
    std::int64_t out_features = 0;  // O
    std::int64_t in_features = 0;   // I (Conv2d: C_in·kH·kW), without the bias column
    bool has_bias = false;
    Tensor a;  // A: [I', I'], symmetric
    Tensor g;  // G: [O, O], symmetric

    std::int64_t augmented_in() const { return in_features + (has_bias ? 1 : 0); }  // I'
    // θ-ordered block values [..., P] → M = [W | b]: [..., O, I'] (a fresh tensor).
    Tensor to_matrix(const Tensor& block) const;
    // M: [..., O, I'] → θ-ordered [..., P] (a fresh tensor).
    Tensor from_matrix(const Tensor& m) const;
    // G ⊗ A rearranged to θ order: [P, P] (for tests and small layers: P² memory).
    Tensor dense_block() const;
};

// A layer without Kronecker factors (BatchNorm2d): the diagonal of its curvature block.
struct DiagonalBlock {
    const Module* layer = nullptr;
    std::int64_t offset = 0, size = 0;
    Tensor diagonal;  // [size], Σ over the samples accumulated
};

// Kronecker product: a [m, n], b [p, q] → [m·p, n·q], (a ⊗ b)[i·p + k, j·q + l] = a_ij b_kl.
Tensor kronecker_product(const Tensor& a, const Tensor& b);

// The factors of every Linear and Conv2d layer (in θ order), accumulated batch by batch:
//   KroneckerCurvature kfac(model, {.type = CurvatureType::ggn, .likelihood = ...});
//   for (batch : train) kfac.accumulate(batch.x, batch.y);
//   for (const KroneckerFactors& f : kfac.factors()) ...   // G ⊗ A per layer
// Models as in ggn.h (Linear, Conv2d, BatchNorm2d layers; evaluation mode).
class KroneckerCurvature {
  public:
    // Throws postr::Error for invalid options (mc_samples < 1, negative chunk_size).
    KroneckerCurvature(Module& model, CurvatureOptions options = {});
    // Adds a batch: x [N, ...]; targets as the likelihood wants (needed for the empirical
    // Fisher only). Throws when the model's layers change between calls, for a model the fast
    // road does not know, or when targets are missing for the empirical Fisher.
    void accumulate(const Tensor& x, const Tensor& targets = Tensor());
    // The normalised factors (fresh tensors: accumulation can go on). Throws before any data.
    std::vector<KroneckerFactors> factors() const;
    // The diagonal blocks of the layers without factors (BatchNorm2d), in θ order.
    std::vector<DiagonalBlock> diagonal_blocks() const;
    std::int64_t num_samples() const { return num_samples_; }

  private:
    struct Accumulator {
        KroneckerFactors meta;  // a and g unset
        Tensor a_lower;         // Σ a aᵀ on and below the diagonal
        Tensor g_lower;         // Σ g gᵀ / T on and below the diagonal
    };

    // Adds one layer's chunk: its factors' sums (Linear, Conv2d) or its diagonal (others), from
    // the cotangents at its output [K, N, ...out]. `creating`: the first chunk ever.
    void add_layer(const LayerRecord& layer, const Tensor& cotangent, bool creating);

    Module& model_;
    CurvatureOptions options_;
    Generator gen_;
    std::map<std::int64_t, Accumulator> kron_;  // by offset
    std::map<std::int64_t, DiagonalBlock> diag_;
    std::int64_t num_samples_ = 0;
};

}  // namespace postr::nn
