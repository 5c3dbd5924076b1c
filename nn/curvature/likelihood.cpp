#include "postr/nn/curvature/likelihood.h"

#include <cmath>
#include <numbers>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::nn {
namespace {

void check_outputs(const char* op, const Tensor& outputs) {
    check_defined(op, "outputs", outputs);
    check_rank(op, "outputs", outputs, 2);
    check_floating(op, "outputs", outputs);
}

void check_targets(const char* op, const Likelihood& likelihood, const Tensor& outputs,
                   const Tensor& targets) {
    check_defined(op, "targets", targets);
    check_same_device(op, "targets", targets, "outputs", outputs);
    if (likelihood.kind == Likelihood::Kind::categorical) {
        POSTR_CHECK(targets.dtype() == DType::i64 && targets.dim() == 1 &&
                        targets.size(0) == outputs.size(0),
                    op, ": categorical targets must be i64 [", outputs.size(0),
                    "] class indices for outputs ", to_string(outputs.shape()), ": got ",
                    to_string(targets.shape()), " ", dtype_name(targets.dtype()),
                    ". Pass one label per sample");
    } else {
        check_same_shape(op, "targets", targets, "outputs", outputs);
        check_same_dtype(op, "targets", targets, "outputs", outputs);
    }
}

// The identity as [C, 1, C] rows, to broadcast against [1, N, C].
Tensor identity_rows(const Tensor& outputs) {
    const std::int64_t c = outputs.size(1);
    return eye(c, outputs.dtype(), outputs.device()).view({c, 1, c});
}

}  // namespace

Likelihood Likelihood::gaussian(double sigma) {
    POSTR_CHECK(sigma > 0 && std::isfinite(sigma),
                "Likelihood::gaussian: sigma must be positive and finite: got ", sigma,
                ". Pass the observation noise standard deviation");
    return {Kind::gaussian, sigma};
}

Tensor loss_hessian_factor(const Likelihood& likelihood, const Tensor& outputs) {
    check_outputs("loss_hessian_factor", outputs);
    const std::int64_t n = outputs.size(0), c = outputs.size(1);
    if (likelihood.kind == Likelihood::Kind::gaussian)
        return mul(identity_rows(outputs).expand({c, n, c}), 1.0 / likelihood.sigma);
    const Tensor p = softmax(outputs, 1);
    // row k of sample n: √p_k (e_k − p).
    const Tensor sqrt_p = sqrt(p).t().view({c, n, 1});
    return mul(sqrt_p, sub(identity_rows(outputs), p.view({1, n, c})));
}

Tensor sampled_loss_gradients(const Likelihood& likelihood, const Tensor& outputs,
                              std::int64_t samples, Generator& gen) {
    check_outputs("sampled_loss_gradients", outputs);
    POSTR_CHECK(samples >= 1, "sampled_loss_gradients: samples must be at least 1: got ", samples,
                ". Pass the number of Monte Carlo draws");
    const std::int64_t n = outputs.size(0), c = outputs.size(1);
    const double scale = 1.0 / std::sqrt(static_cast<double>(samples));
    if (likelihood.kind == Likelihood::Kind::gaussian)
        return normal({samples, n, c}, gen, 0.0, scale / likelihood.sigma, outputs.dtype(),
                      outputs.device());
    // Gumbel-max: argmax(log p + g), g = −log(−log u), is a draw from Categorical(p). u stays
    // inside (0, 1) so g is finite.
    const double tiny = outputs.dtype() == DType::f32 ? 1e-7 : 1e-15;
    const Tensor u =
        uniform({samples, n, c}, gen, tiny, 1.0 - tiny, outputs.dtype(), outputs.device());
    const Tensor gumbel = neg(log(neg(log(u))));
    const Tensor labels = argmax(add(log_softmax(outputs, 1).view({1, n, c}), gumbel), 2);
    const Tensor p = softmax(outputs, 1).view({1, n, c});
    return mul(sub(p, one_hot(labels, c, outputs.dtype()).to(outputs.device())), scale);
}

Tensor loss_output_gradients(const Likelihood& likelihood, const Tensor& outputs,
                             const Tensor& targets) {
    check_outputs("loss_output_gradients", outputs);
    check_targets("loss_output_gradients", likelihood, outputs, targets);
    const std::int64_t n = outputs.size(0), c = outputs.size(1);
    if (likelihood.kind == Likelihood::Kind::gaussian)
        return mul(sub(outputs, targets), 1.0 / (likelihood.sigma * likelihood.sigma))
            .view({1, n, c});
    return sub(softmax(outputs, 1), one_hot(targets, c, outputs.dtype())).view({1, n, c});
}

Tensor loss_hessian_product(const Likelihood& likelihood, const Tensor& outputs, const Tensor& u) {
    check_outputs("loss_hessian_product", outputs);
    POSTR_CHECK(u.dim() >= 2 && u.size(-1) == outputs.size(1) && u.size(-2) == outputs.size(0),
                "loss_hessian_product: u must be [..., N, C] = [..., ", outputs.size(0), ", ",
                outputs.size(1), "]: got ", to_string(u.shape()), ". Pass one vector per sample");
    if (likelihood.kind == Likelihood::Kind::gaussian)
        return mul(u, 1.0 / (likelihood.sigma * likelihood.sigma));
    const Tensor p = softmax(outputs, 1);
    return sub(mul(p, u), mul(p, sum(mul(p, u), {-1}, true)));
}

Tensor negative_log_likelihood(const Likelihood& likelihood, const Tensor& outputs,
                               const Tensor& targets) {
    check_outputs("negative_log_likelihood", outputs);
    check_targets("negative_log_likelihood", likelihood, outputs, targets);
    if (likelihood.kind == Likelihood::Kind::categorical) {
        const Tensor picked = gather(log_softmax(outputs, 1), 1, targets.view({-1, 1}));
        return neg(sum(picked));
    }
    const double s2 = likelihood.sigma * likelihood.sigma;
    const double log_norm = 0.5 * std::log(2 * std::numbers::pi * s2);
    return add(mul(sum(square(sub(targets, outputs))), 0.5 / s2),
               log_norm * static_cast<double>(outputs.numel()));
}

}  // namespace postr::nn
