#include "postr/inference/log_posterior.h"

#include <cmath>
#include <numbers>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/losses.h"

namespace postr::inference {

LogPosterior model_log_posterior(nn::Module& model, const nn::Likelihood& likelihood,
                                 double prior_precision, std::int64_t num_data) {
    POSTR_CHECK(prior_precision > 0 && std::isfinite(prior_precision) && num_data >= 1,
                "model_log_posterior: the prior precision must be positive and the data set "
                "size at least 1: got ",
                prior_precision, " and ", num_data,
                ". Pass λ > 0 and the number of training examples");
    const double n = static_cast<double>(num_data);
    return [&model, likelihood, prior_precision, n](const Var& theta, const Batch& batch) {
        const Var outputs = nn::functional_call(model, theta, Var(batch.inputs));
        const Var log_likelihood =
            likelihood.kind == nn::Likelihood::Kind::categorical
                ? neg(nn::cross_entropy(outputs, batch.targets))
                // Summed over the outputs of a datum, averaged over the batch.
                : mul(nn::gaussian_nll(outputs, Var(batch.targets),
                                       likelihood.sigma * likelihood.sigma, nn::Reduction::sum),
                      -1.0 / static_cast<double>(outputs.size(0)));
        // log N(θ | 0, I/λ) = −λ‖θ‖²/2 + (D/2) log(λ / 2π).
        const double d = static_cast<double>(theta.numel());
        const Var log_prior = add(mul(sum(square(theta)), -0.5 * prior_precision),
                                  0.5 * d * std::log(prior_precision / (2 * std::numbers::pi)));
        return add(log_likelihood, mul(log_prior, 1.0 / n));
    };
}

ValueAndGrad log_posterior_and_grad(const LogPosterior& log_posterior, const Tensor& theta,
                                    const Batch& batch) {
    return value_and_grad([&](const Var& t) { return log_posterior(t, batch); }, theta);
}

}  // namespace postr::inference
