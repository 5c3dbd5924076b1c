#include "examples/toy_regression/experiment.h"

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/core/philox.h"
#include "postr/inference/diagonal_linearized_laplace.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/adam.h"

namespace postr::examples::toy {

double true_function(double x) { return std::sin(3 * x); }

Data make_data(std::int64_t n_per_cluster, std::uint64_t seed, bool gap) {
    Generator gen(seed);
    Tensor x;
    if (gap) {
        x = uniform({n_per_cluster, 1}, gen, -kClusterInner, kClusterInner, DType::f64);
    } else {
        const Tensor left =
            uniform({n_per_cluster, 1}, gen, -kClusterOuter, -kClusterInner, DType::f64);
        const Tensor right =
            uniform({n_per_cluster, 1}, gen, kClusterInner, kClusterOuter, DType::f64);
        x = cat(std::vector<Tensor>{left, right}, 0);
    }
    std::vector<double> y = x.contiguous().to_vector<double>();
    for (double& v : y) v = true_function(v);
    const Tensor noise = normal({x.size(0), 1}, gen, 0.0, kNoiseStd, DType::f64);
    return {x, add(Tensor::from_vector(y, {x.size(0), 1}), noise)};
}

Trained train_map(const Data& train, const TrainConfig& config) {
    using ModulePtr = std::shared_ptr<nn::Module>;
    Trained out;
    out.model = std::make_unique<nn::Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Linear>(1, config.hidden), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(config.hidden, config.hidden), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(config.hidden, 1)});
    nn::Sequential& model = *out.model;
    model.finalize(config.seed, DType::f64);
    const auto n = static_cast<double>(train.x.size(0));
    // The prior's gradient λθ/N is Adam's coupled L2 weight decay λ/N.
    AdamOptions weights_options;
    weights_options.lr = config.lr;
    weights_options.weight_decay = config.prior_precision / n;
    nn::Adam weights(model.parameters().theta(), weights_options);
    Tensor log_sigma = Tensor::from_vector(std::vector<double>{std::log(0.5)}, {1});
    AdamOptions noise_options;
    noise_options.lr = config.lr;
    nn::Adam noise(log_sigma, noise_options);
    const Var y(train.y);
    for (std::int64_t step = 0; step < config.epochs; ++step) {
        // Cosine decay from lr to lr/100: a converged MAP, as the Laplace approximation assumes.
        const double progress = static_cast<double>(step) / static_cast<double>(config.epochs);
        const double lr =
            config.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
        weights.set_lr(lr);
        noise.set_lr(lr);
        model.parameters().zero_grad();
        const Var ls(log_sigma, true);
        const Var loss = nn::gaussian_nll(model(Var(train.x)), y, exp(mul(ls, 2.0)));
        loss.backward();
        model.parameters().collect_grads();
        weights.step(model.parameters().grad());
        noise.step(ls.grad());
    }
    model.eval();
    out.sigma = std::exp(log_sigma.item());
    NoGradGuard no_graph;
    out.train_nll = nn::gaussian_nll(model(Var(train.x)), y, out.sigma * out.sigma).value().item();
    return out;
}

Tensor swag_variances(nn::Sequential& model, double sigma, double prior_precision,
                      const Data& train, const SwagConfig& config) {
    Tensor theta = model.parameters().theta();
    const Tensor map = theta.clone();
    const std::int64_t n = train.x.size(0);
    Tensor sum_theta = zeros_like(theta), sum_sq = zeros_like(theta);
    Generator gen(config.seed);
    std::int64_t snapshots = 0;
    for (std::int64_t step = 0; step < config.steps; ++step) {
        const Tensor batch = randint(0, n, {config.batch_size}, gen);
        model.parameters().zero_grad();
        const Var loss = nn::gaussian_nll(model(Var(index_select(train.x, 0, batch))),
                                          Var(index_select(train.y, 0, batch)), sigma * sigma);
        loss.backward();
        model.parameters().collect_grads();
        // θ ← θ − lr (∇ NLL + λθ/N): SGD on the per-datum negative log posterior.
        axpy_(theta, -config.lr, model.parameters().grad());
        axpy_(theta, -config.lr * prior_precision / static_cast<double>(n), theta.clone());
        POSTR_CHECK(all_finite(theta), "toy_regression: SWAG's SGD diverged at step ", step,
                    " (lr ", config.lr, "). Lower the SWAG learning rate");
        if (step >= config.burn_in) {
            axpy_(sum_theta, 1.0, theta);
            axpy_(sum_sq, 1.0, square(theta));
            ++snapshots;
        }
    }
    model.load_flat(map);
    const Tensor mean = mul(sum_theta, 1.0 / static_cast<double>(snapshots));
    return clamp(sub(mul(sum_sq, 1.0 / static_cast<double>(snapshots)), square(mean)), 0.0,
                 std::numeric_limits<double>::infinity());
}

namespace {

// θ positions of the weight matrices (not the biases): the subnetwork candidates, as in the
// paper (2,600 of the 2,701 parameters of the 50-unit MLP).
Tensor weight_positions(const nn::Module& model) {
    std::vector<std::int64_t> positions;
    std::int64_t offset = 0;
    for (const auto& [name, param] : model.named_parameters()) {
        const std::int64_t size = param.value().numel();
        if (name.ends_with("weight"))
            for (std::int64_t i = 0; i < size; ++i) positions.push_back(offset + i);
        offset += size;
    }
    return Tensor::from_vector(positions, {static_cast<std::int64_t>(positions.size())});
}

std::string percent(double fraction) {
    const double p = 100 * fraction;
    return (std::abs(p - std::round(p)) < 1e-9 ? std::to_string(static_cast<int>(std::round(p)))
                                               : std::to_string(p)) +
           "%";
}

}  // namespace

std::vector<MethodResult> fit_methods(nn::Sequential& model, double sigma, const Data& train,
                                      const std::vector<Tensor>& inputs,
                                      const MethodsConfig& config) {
    const nn::Likelihood likelihood = nn::Likelihood::gaussian(sigma);
    const std::int64_t d = model.num_parameters();
    std::vector<MethodResult> results;

    {  // MAP: the network's output with no weight uncertainty (the noise σ is added later).
        MethodResult r{"MAP", 0, 0, {}};
        NoGradGuard no_graph;
        for (const Tensor& x : inputs)
            r.predictions.push_back(
                {model(Var(x)).value(), Tensor::zeros({x.size(0), 1, 1}, DType::f64)});
        results.push_back(std::move(r));
    }

    auto subnetwork = [&](const std::string& name, const Tensor& index) {
        inference::SubnetworkLaplaceOptions options;
        options.likelihood = likelihood;
        options.prior_precision = config.prior_precision;
        inference::SubnetworkLaplace la(model, index, options);
        la.accumulate(train.x, train.y);
        la.fit();
        if (config.tune_prior) la.optimize_prior_precision(1e-3, 1e4);
        MethodResult r{name, index.numel(), la.prior_precision(), {}};
        for (const Tensor& x : inputs) r.predictions.push_back(la.predict(x));
        results.push_back(std::move(r));
    };

    if (config.full) subnetwork("full Laplace", arange(0, static_cast<double>(d), 1, DType::i64));

    inference::DiagonalLinearizedLaplaceOptions diag_options;
    diag_options.likelihood = likelihood;
    diag_options.prior_precision = config.prior_precision;
    inference::DiagonalLinearizedLaplace diagonal(model, diag_options);
    diagonal.accumulate(train.x, train.y);
    diagonal.fit();
    // The Wasserstein rule's marginal variances: diagonal SWAG, or the diagonal Laplace's at the
    // shared prior precision (whether or not the diagonal's own λ is tuned below).
    const Tensor variances =
        config.variances == VarianceEstimate::swag
            ? swag_variances(model, sigma, config.prior_precision, train, config.swag)
            : diagonal.posterior_variances().clone();
    if (config.tune_prior) diagonal.optimize_prior_precision(1e-3, 1e4);
    {
        MethodResult r{"diagonal Laplace", d, diagonal.prior_precision(), {}};
        for (const Tensor& x : inputs) r.predictions.push_back(diagonal.predict(x));
        results.push_back(std::move(r));
    }

    subnetwork("last layer", nn::select_last_layer(model));

    const Tensor candidates = weight_positions(model);
    const std::int64_t num_candidates = candidates.numel();
    std::vector<std::int64_t> sizes;
    for (double f : config.fractions)
        sizes.push_back(
            std::max<std::int64_t>(1, std::llround(f * static_cast<double>(num_candidates))));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const Tensor chosen =
            nn::select_largest_variance(index_select(variances, 0, candidates), sizes[i]);
        subnetwork("Wasserstein " + percent(config.fractions[i]),
                   index_select(candidates, 0, chosen));
    }
    // The output-sensitivity rule (nn/curvature/subnetwork.h): the largest GGN diagonal entries,
    // the weights that carry predictive variance under a diagonal posterior.
    const Tensor ggn_diagonal = diagonal.ggn_diagonal();
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const Tensor chosen =
            nn::select_largest_curvature(index_select(ggn_diagonal, 0, candidates), sizes[i]);
        subnetwork("curvature " + percent(config.fractions[i]),
                   index_select(candidates, 0, chosen));
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const Tensor chosen = nn::select_random(num_candidates, sizes[i], config.seed + 1 + i);
        subnetwork("random " + percent(config.fractions[i]), index_select(candidates, 0, chosen));
    }
    return results;
}

}  // namespace postr::examples::toy
