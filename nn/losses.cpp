#include "postr/nn/losses.h"

#include <cmath>
#include <numbers>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

namespace {
Var reduce(const Var& per_element, Reduction reduction) {
    return reduction == Reduction::sum ? sum(per_element) : mean(per_element);
}

void check_same(const char* op, const char* a_name, const Var& a, const char* b_name,
                const Var& b) {
    check_defined(op, a_name, a.defined() ? a.value() : Tensor());
    check_defined(op, b_name, b.defined() ? b.value() : Tensor());
    check_same_shape(op, a_name, a.value(), b_name, b.value());
    check_same_dtype(op, a_name, a.value(), b_name, b.value());
}
}  // namespace

Var cross_entropy(const Var& logits, const Tensor& labels, Reduction reduction) {
    check_defined("cross_entropy", "logits", logits.defined() ? logits.value() : Tensor());
    check_defined("cross_entropy", "labels", labels);
    check_rank("cross_entropy", "logits", logits.value(), 2);
    check_floating("cross_entropy", "logits", logits.value());
    check_dtype("cross_entropy", "labels", labels, DType::i64);
    check_rank("cross_entropy", "labels", labels, 1);
    const std::int64_t n = logits.size(0), c = logits.size(1);
    POSTR_CHECK(labels.size(0) == n, "cross_entropy: labels and logits disagree on N: logits is ",
                to_string(logits.shape()), ", labels is ", to_string(labels.shape()),
                ". Pass one label per row of logits");
    POSTR_CHECK(n > 0, "cross_entropy: the batch is empty: logits is ", to_string(logits.shape()),
                ". Pass at least one sample");
    const Tensor labels_here = labels.to(logits.device());
    const double lo = min(labels_here).item(), hi = max(labels_here).item();
    POSTR_CHECK(lo >= 0 && hi < static_cast<double>(c),
                "cross_entropy: labels out of range: got values in [", lo, ", ", hi, "], C is ", c,
                ". Labels must be in [0, C)");
    Var picked = gather(log_softmax(logits, 1), 1, labels_here.reshape({n, 1}));  // [N, 1]
    return neg(reduce(picked, reduction));
}

Var gaussian_nll(const Var& mean, const Var& target, double variance, Reduction reduction) {
    POSTR_CHECK(variance > 0 && std::isfinite(variance),
                "gaussian_nll: variance must be positive and finite: got ", variance,
                ". Pass the noise variance σ², not log σ²");
    check_same("gaussian_nll", "mean", mean, "target", target);
    check_floating("gaussian_nll", "mean", mean.value());
    // ½ (y − μ)²/σ² + ½ log(2πσ²), the constant added once per element.
    Var sq = mul(square(sub(target, mean)), 0.5 / variance);
    Var per = add(sq, 0.5 * std::log(2.0 * std::numbers::pi * variance));
    return reduce(per, reduction);
}

Var gaussian_nll(const Var& mean, const Var& target, const Var& variance, Reduction reduction) {
    check_same("gaussian_nll", "mean", mean, "target", target);
    check_floating("gaussian_nll", "mean", mean.value());
    check_defined("gaussian_nll", "variance", variance.defined() ? variance.value() : Tensor());
    check_same_dtype("gaussian_nll", "mean", mean.value(), "variance", variance.value());
    const Shape b = broadcast_shapes("gaussian_nll", mean.shape(), variance.shape());
    POSTR_CHECK(b == mean.shape(), "gaussian_nll: variance does not broadcast to mean: mean is ",
                to_string(mean.shape()), ", variance is ", to_string(variance.shape()),
                ". Pass a scalar variance or one per element");
    Var sq = div(square(sub(target, mean)), variance);
    Var per = mul(add(add(sq, log(variance)), std::log(2.0 * std::numbers::pi)), 0.5);
    // With a broadcast variance, `per` has mean's shape already (checked above).
    return reduce(per, reduction);
}

Var mse(const Var& prediction, const Var& target, Reduction reduction) {
    check_same("mse", "prediction", prediction, "target", target);
    check_floating("mse", "prediction", prediction.value());
    return reduce(square(sub(prediction, target)), reduction);
}

}  // namespace postr::nn
