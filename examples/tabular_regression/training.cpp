#include "examples/tabular_regression/training.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/core/philox.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/swag.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/likelihood.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/adam.h"

namespace postr::examples::tabular {

namespace {
std::int64_t steps_per_epoch(std::int64_t n, std::int64_t batch) { return (n + batch - 1) / batch; }
}  // namespace

Trained train_map(const Tensor& x, const Tensor& y, const TrainConfig& config) {
    using ModulePtr = std::shared_ptr<nn::Module>;
    Trained out;
    out.model = std::make_unique<nn::Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Linear>(x.size(1), config.hidden), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(config.hidden, 1)});
    nn::Sequential& model = *out.model;
    model.finalize(config.seed, DType::f64);
    const std::int64_t n = x.size(0);
    const std::int64_t batch = std::min(config.batch_size, n);
    // The prior's gradient λθ/N is Adam's coupled L2 weight decay λ/N.
    AdamOptions weights_options;
    weights_options.lr = config.lr;
    weights_options.weight_decay = config.prior_precision / static_cast<double>(n);
    nn::Adam weights(model.parameters().theta(), weights_options);
    Tensor log_sigma = Tensor::from_vector(std::vector<double>{std::log(0.5)}, {1});
    AdamOptions noise_options;
    noise_options.lr = config.lr;
    nn::Adam noise(log_sigma, noise_options);
    Generator gen(config.seed + 1);
    const std::int64_t steps = config.epochs * steps_per_epoch(n, batch);
    for (std::int64_t step = 0; step < steps; ++step) {
        // Cosine decay from lr to lr/100: a converged MAP, as the Laplace approximation assumes.
        const double progress = static_cast<double>(step) / static_cast<double>(steps);
        const double lr =
            config.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
        weights.set_lr(lr);
        noise.set_lr(lr);
        const Tensor rows = randint(0, n, {batch}, gen);
        model.parameters().zero_grad();
        const Var ls(log_sigma, true);
        const Var loss = nn::gaussian_nll(model(Var(index_select(x, 0, rows))),
                                          Var(index_select(y, 0, rows)), exp(mul(ls, 2.0)));
        loss.backward();
        model.parameters().collect_grads();
        weights.step(model.parameters().grad());
        noise.step(ls.grad());
    }
    POSTR_CHECK(all_finite(model.parameters().theta()),
                "tabular_regression: the MAP training diverged (lr ", config.lr, "). Lower --lr");
    model.eval();
    out.sigma = std::exp(log_sigma.item());
    NoGradGuard no_graph;
    const Tensor residual = sub(model(Var(x)).value(), y);
    out.sum_squared_error = sum(square(residual)).item();
    return out;
}

Tensor swag_variances(nn::Sequential& model, double sigma, double prior_precision, const Tensor& x,
                      const Tensor& y, std::int64_t epochs, std::int64_t batch_size, double lr,
                      std::uint64_t seed) {
    const std::int64_t n = x.size(0);
    const std::int64_t batch = std::min(batch_size, n);
    const std::int64_t steps = epochs * steps_per_epoch(n, batch);
    const Tensor map = model.parameters().theta().clone();
    inference::swag::Config config;
    config.lr = lr;
    config.rank = 0;  // diagonal SWAG
    config.snapshot_start = steps / 5;
    const auto transform = inference::swag::build(
        inference::model_log_posterior(model, nn::Likelihood::gaussian(sigma), prior_precision, n),
        config);
    auto state = transform.init(map);
    Generator gen(seed);
    for (std::int64_t step = 0; step < steps; ++step) {
        const Tensor rows = randint(0, n, {batch}, gen);
        transform.update(state, {index_select(x, 0, rows), index_select(y, 0, rows)});
    }
    model.load_flat(map);
    return inference::swag::variance(state);
}

}  // namespace postr::examples::tabular
