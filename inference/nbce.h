// Naive-Bayes pooling of predictive distributions (NBCE, "Naive Bayes-based Context Extension",
// Su 2023, https://github.com/bojone/NBCE): predict a target T from n contexts S_1..S_n that
// together do not fit one model call, by treating the contexts as conditionally independent
// given T. Bayes' rule then gives
//
//   log p(T | S_1..S_n) = Σ_k log p(T | S_k) − (n − 1) log p(T) + const,
//
// which NBCE regularises into (β + 1) · pool_k log p(T | S_k) − β · log p(T), renormalised over
// the vocabulary, where pool is the mean over contexts (Pooling::mean) or the context whose
// predictive distribution has the smallest entropy (Pooling::min_entropy: the most confident
// context, which the reference implementation uses). β = 0 with mean pooling is the plain
// average of log-probabilities (a normalised geometric mean of the predictive distributions).
//
// The default β = 0.25 is the reference's (bojone/NBCE test.py at commit
// 05613da4b83f4de1b6dbce601194264fd36c1336: `beta = 0.25`, the context picked by
// argmax_k Σ_v p log p, i.e. minimum entropy, over the real contexts only). Our implementation
// differs in two documented ways: it applies no top-p truncation before measuring entropies, and
// it requires finite log-probabilities instead of clipping them at −100 (clip them yourself if a
// model returns −inf).
#pragma once

#include "postr/core/tensor.h"

namespace postr::inference::nbce {

enum class Pooling { mean, min_entropy };

struct Config {
    double beta = 0.25;  // β, finite; the weight on −log p(T)
    Pooling pooling = Pooling::mean;
    // true: each input row is renormalised with log_softmax first (so unnormalised logits are
    // accepted and adding a constant to any row changes nothing); false: every row must already
    // be a normalised log-distribution, logsumexp within kNormalisationTolerance of 0.
    bool normalise_inputs = true;
};

// |logsumexp over V| allowed when normalise_inputs is false: rows from an f32 log_softmax over
// V up to ~10^5 round to a few 1e-6; 1e-3 admits sums of such rows yet catches raw logits.
inline constexpr double kNormalisationTolerance = 1e-3;

// context_log_probs [B, n, V]: log p(T | S_k) for batch element b, context k, token v;
// unconditional_log_probs [B, V]: log p(T) with no context. → log-probabilities [B, V], every
// row normalised (logsumexp 0):
//   log_softmax((β + 1) · pool_k log p(T | S_k) − β · log p(T)).
// Tensor ops only (log_softmax, mean, argmin, gather): CPU and CUDA, f32 and f64. Ties in the
// minimum entropy pick the lowest k. Throws postr::Error for undefined or non-floating inputs,
// ranks other than 3 and 2, mismatched B or V, n, B or V of 0, different dtypes or devices,
// non-finite values, a non-finite β, or (normalise_inputs false) a row that is not normalised.
Tensor pool(const Tensor& context_log_probs, const Tensor& unconditional_log_probs,
            const Config& config = {});

// The entropies −Σ_v p log p of each context's predictive distribution, [B, n, V] (log-probs,
// renormalised by log_softmax) → [B, n]. What Pooling::min_entropy minimises.
Tensor context_entropies(const Tensor& context_log_probs);

}  // namespace postr::inference::nbce
