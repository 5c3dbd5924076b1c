// NBCE pooling (see nbce.h), composed of tensor ops so the same code runs on CPU and CUDA.
#include "postr/inference/nbce.h"

#include <cmath>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference::nbce {

namespace {

constexpr const char* kOp = "nbce::pool";

// Throws unless every row of `log_probs` (over the last dim) has |logsumexp| ≤ the tolerance.
void check_normalised(const char* name, const Tensor& log_probs) {
    const double worst = max(abs(logsumexp(log_probs, {-1}))).item();
    POSTR_CHECK(worst <= kNormalisationTolerance, kOp, ": ", name,
                " has a row that is not a normalised log-distribution: |logsumexp over V| = ",
                worst, " > ", kNormalisationTolerance,
                ". Pass log-probabilities (log_softmax of the logits), or set "
                "normalise_inputs = true.");
}

}  // namespace

Tensor context_entropies(const Tensor& context_log_probs) {
    check_defined("nbce::context_entropies", "context_log_probs", context_log_probs);
    check_floating("nbce::context_entropies", "context_log_probs", context_log_probs);
    check_rank("nbce::context_entropies", "context_log_probs", context_log_probs, 3);
    const Tensor log_p = log_softmax(context_log_probs, -1);  // [B, n, V]
    return neg(sum(mul(exp(log_p), log_p), {-1}));            // [B, n]
}

Tensor pool(const Tensor& context_log_probs, const Tensor& unconditional_log_probs,
            const Config& config) {
    check_defined(kOp, "context_log_probs", context_log_probs);
    check_defined(kOp, "unconditional_log_probs", unconditional_log_probs);
    check_floating(kOp, "context_log_probs", context_log_probs);
    check_rank(kOp, "context_log_probs", context_log_probs, 3);
    check_rank(kOp, "unconditional_log_probs", unconditional_log_probs, 2);
    check_same_dtype(kOp, "unconditional_log_probs", unconditional_log_probs, "context_log_probs",
                     context_log_probs);
    check_same_device(kOp, "unconditional_log_probs", unconditional_log_probs, "context_log_probs",
                      context_log_probs);
    const std::int64_t batch = context_log_probs.size(0), contexts = context_log_probs.size(1),
                       vocab = context_log_probs.size(2);
    POSTR_CHECK(
        unconditional_log_probs.size(0) == batch && unconditional_log_probs.size(1) == vocab, kOp,
        ": unconditional_log_probs is ", to_string(unconditional_log_probs.shape()),
        " but context_log_probs is ", to_string(context_log_probs.shape()),
        " ([B, n, V]). Pass the context-free log-probabilities as [B, V].");
    POSTR_CHECK(batch > 0 && contexts > 0 && vocab > 0, kOp,
                ": context_log_probs is empty: ", to_string(context_log_probs.shape()),
                ". Pass at least one batch element, context and token.");
    POSTR_CHECK(std::isfinite(config.beta), kOp, ": beta must be finite, got ", config.beta,
                ". The reference uses 0.25.");
    check_finite(kOp, "context_log_probs", context_log_probs);
    check_finite(kOp, "unconditional_log_probs", unconditional_log_probs);

    Tensor conditional = context_log_probs;          // [B, n, V]
    Tensor unconditional = unconditional_log_probs;  // [B, V]
    if (config.normalise_inputs) {
        conditional = log_softmax(conditional, -1);
        unconditional = log_softmax(unconditional, -1);
    } else {
        check_normalised("context_log_probs", conditional);
        check_normalised("unconditional_log_probs", unconditional);
    }

    Tensor pooled;  // [B, V]
    if (config.pooling == Pooling::mean) {
        pooled = mean(conditional, {1});
    } else {
        // k*_b = argmin_k H(p(· | S_k)), then row k*_b of each batch element by one gather
        // along the context dim with an index [B, 1, V].
        const Tensor entropies = neg(sum(mul(exp(conditional), conditional), {-1}));  // [B, n]
        const Tensor best = argmin(entropies, 1, true);                               // [B, 1]
        const Tensor index = best.unsqueeze(2).expand({batch, 1, vocab}).contiguous();
        pooled = gather(conditional, 1, index).squeeze(1);
    }
    // (β + 1) · pooled − β · log p(T), then renormalised.
    Tensor scores = mul(pooled, config.beta + 1.0);
    axpy_(scores, -config.beta, unconditional);
    return log_softmax(scores, -1);
}

}  // namespace postr::inference::nbce
