// The point of Daxberger et al. (ICML 2021, Figure 1), checked numerically on the 1-D toy
// regression of examples/toy_regression: with inputs in two clusters, [−2, −1] ∪ [1, 2], a small
// Wasserstein subnetwork (3% of the weights) and the full-covariance linearized Laplace keep
// the "in-between" uncertainty — the function's predictive std between the clusters is several
// times its std inside them — while the diagonal Laplace over all weights and the last-layer
// Laplace lose it (ratio near 1). Same data, model (MLP 1 → 50 → 50 → 1, ReLU, f64), MAP
// training with learned noise, λ = 1 and diagonal-SWAG variances as the example at its default
// settings with seeds 1-5 (a 121-point grid here); the training and SWAG code is duplicated
// here (tests link only the library). ≈ 3 s in Release.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/philox.h"
#include "postr/inference/diagonal_linearized_laplace.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/adam.h"

namespace postr {
namespace {

constexpr double kPrior = 1.0;  // λ of the weight prior, in training and in every Laplace

struct Data {
    Tensor x, y;  // [N, 1]
};

// x uniform on [−2, −1] ∪ [1, 2] (n per cluster), y = sin(3x) + N(0, 0.1²).
Data make_data(std::int64_t n, std::uint64_t seed) {
    Generator gen(seed);
    const Tensor left = uniform({n, 1}, gen, -2.0, -1.0, DType::f64);
    const Tensor right = uniform({n, 1}, gen, 1.0, 2.0, DType::f64);
    const Tensor x = cat(std::vector<Tensor>{left, right}, 0);
    std::vector<double> y = x.contiguous().to_vector<double>();
    for (double& v : y) v = std::sin(3 * v);
    return {x,
            add(Tensor::from_vector(y, {2 * n, 1}), normal({2 * n, 1}, gen, 0.0, 0.1, DType::f64))};
}

// MAP with learned noise: full-batch Adam on the mean Gaussian NLL + λ‖θ‖²/(2N), jointly over θ
// and log σ, cosine-decayed learning rate. Returns σ.
double train_map(nn::Sequential& model, const Data& train, std::int64_t epochs) {
    const double n = static_cast<double>(train.x.size(0)), lr = 1e-2;
    AdamOptions weight_options;
    weight_options.lr = lr;
    weight_options.weight_decay = kPrior / n;
    nn::Adam weights(model.parameters().theta(), weight_options);
    Tensor log_sigma = Tensor::from_vector(std::vector<double>{std::log(0.5)}, {1});
    AdamOptions noise_options;
    noise_options.lr = lr;
    nn::Adam noise(log_sigma, noise_options);
    for (std::int64_t step = 0; step < epochs; ++step) {
        const double progress = static_cast<double>(step) / static_cast<double>(epochs);
        const double rate = lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
        weights.set_lr(rate);
        noise.set_lr(rate);
        model.parameters().zero_grad();
        const Var ls(log_sigma, true);
        nn::gaussian_nll(model(Var(train.x)), Var(train.y), exp(mul(ls, 2.0))).backward();
        model.parameters().collect_grads();
        weights.step(model.parameters().grad());
        noise.step(ls.grad());
    }
    model.eval();
    return std::exp(log_sigma.item());
}

// Diagonal SWAG variances: 600 minibatch (16) SGD steps (lr 1e-3) from the MAP, moments of the
// iterates after 100 steps of burn-in; θ restored to the MAP.
Tensor swag_variances(nn::Sequential& model, double sigma, const Data& train, std::uint64_t seed) {
    Tensor theta = model.parameters().theta();
    const Tensor map = theta.clone();
    const std::int64_t n = train.x.size(0);
    Tensor sum_theta = zeros_like(theta), sum_sq = zeros_like(theta);
    Generator gen(seed);
    const double lr = 1e-3;
    for (std::int64_t step = 0; step < 600; ++step) {
        const Tensor batch = randint(0, n, {16}, gen);
        model.parameters().zero_grad();
        nn::gaussian_nll(model(Var(index_select(train.x, 0, batch))),
                         Var(index_select(train.y, 0, batch)), sigma * sigma)
            .backward();
        model.parameters().collect_grads();
        axpy_(theta, -lr, model.parameters().grad());
        axpy_(theta, -lr * kPrior / static_cast<double>(n), theta.clone());
        if (step >= 100) {
            axpy_(sum_theta, 1.0, theta);
            axpy_(sum_sq, 1.0, square(theta));
        }
    }
    model.load_flat(map);
    const Tensor mean = mul(sum_theta, 1.0 / 500);
    return clamp(sub(mul(sum_sq, 1.0 / 500), square(mean)), 0.0,
                 std::numeric_limits<double>::infinity());
}

// θ positions of the weight matrices (the subnetwork candidates: the paper excludes biases).
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

// (mean function std on the grid between the clusters) / (mean inside them).
double in_between_ratio(const inference::FunctionalPosterior& f, const Tensor& grid) {
    const std::vector<double> x = grid.contiguous().view({grid.numel()}).to_vector<double>();
    const std::vector<double> var =
        f.covariance.contiguous().view({grid.numel()}).to_vector<double>();
    double inside = 0, between = 0;
    int n_inside = 0, n_between = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double ax = std::abs(x[i]), sd = std::sqrt(std::max(var[i], 0.0));
        if (ax >= 1 && ax <= 2) {
            inside += sd;
            ++n_inside;
        } else if (ax < 1) {
            between += sd;
            ++n_between;
        }
    }
    return (between / n_between) / (inside / n_inside);
}

// The in-between ratio of each posterior for one seed of data, initialization and SWAG.
struct Ratios {
    double full, wasserstein, curvature, last_layer, diagonal;
};

Ratios in_between_ratios(std::uint64_t seed) {
    const Data train = make_data(40, seed);
    using ModulePtr = std::shared_ptr<nn::Module>;
    nn::Sequential model(
        std::vector<ModulePtr>{std::make_shared<nn::Linear>(1, 50), std::make_shared<nn::ReLU>(),
                               std::make_shared<nn::Linear>(50, 50), std::make_shared<nn::ReLU>(),
                               std::make_shared<nn::Linear>(50, 1)});
    model.finalize(seed, DType::f64);
    const double sigma = train_map(model, train, 3000);
    EXPECT_GT(sigma, 0.05) << "seed " << seed;  // the learned noise is near the true 0.1
    EXPECT_LT(sigma, 0.15) << "seed " << seed;
    const nn::Likelihood likelihood = nn::Likelihood::gaussian(sigma);
    const Tensor grid = add(mul(arange(0, 121, 1, DType::f64), 0.05), -3.0).view({121, 1});

    auto subnetwork_ratio = [&](const Tensor& index) {
        inference::SubnetworkLaplace la(model, index,
                                        {.likelihood = likelihood, .prior_precision = kPrior});
        la.accumulate(train.x);
        la.fit();
        return in_between_ratio(la.predict(grid), grid);
    };
    Ratios r{};
    const std::int64_t d = model.num_parameters();
    r.full = subnetwork_ratio(arange(0, static_cast<double>(d), 1, DType::i64));
    r.last_layer = subnetwork_ratio(nn::select_last_layer(model));
    inference::DiagonalLinearizedLaplace diagonal(
        model, {.likelihood = likelihood, .prior_precision = kPrior});
    diagonal.accumulate(train.x);
    diagonal.fit();
    r.diagonal = in_between_ratio(diagonal.predict(grid), grid);
    const Tensor candidates = weight_positions(model);  // 2,600 weights
    const Tensor variances =
        index_select(swag_variances(model, sigma, train, seed + 3000), 0, candidates);
    r.wasserstein = subnetwork_ratio(
        index_select(candidates, 0, nn::select_largest_variance(variances, 78)));  // 3%
    // The output-sensitivity rule (largest GGN diagonal) at the same size.
    r.curvature = subnetwork_ratio(index_select(
        candidates, 0,
        nn::select_largest_curvature(index_select(diagonal.ggn_diagonal(), 0, candidates), 78)));
    return r;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

TEST(InBetweenUncertainty, SmallWassersteinSubnetworkKeepsItDiagonalAndLastLayerLoseIt) {
    // One seed is not enough: 3,000 Adam steps in f64 amplify the last-bit differences between
    // BLAS kernels (AVX2 vs AVX-512 builds of OpenBLAS) into a different MAP, and the ratios of
    // one seed moved by up to 45% between two x86 machines (Wasserstein 4.64 vs 2.95 at seed
    // 1). The medians over five seeds are what the paper's claim is about and what is stable.
    std::vector<double> full, wasserstein, curvature, last_layer, diagonal;
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        const Ratios r = in_between_ratios(seed);
        full.push_back(r.full);
        wasserstein.push_back(r.wasserstein);
        curvature.push_back(r.curvature);
        last_layer.push_back(r.last_layer);
        diagonal.push_back(r.diagonal);
    }
    // Measured medians (Release, AMD EPYC, 2026-12-07): full 6.72, Wasserstein 3% 4.21,
    // curvature 3% 4.74, last layer 1.27, diagonal 0.67; per seed, Wasserstein ranged 2.95-5.23
    // and the last layer 1.00-1.33. The thresholds sit between the two groups with a margin of
    // ≥ 40% on each side, while a subnetwork that lost the in-between uncertainty (ratio ≈ 1
    // like the last layer; ≈ 0 for dead weights, what the Wasserstein rule picks from
    // diagonal-Laplace variances) or a diagonal that gained it would fail.
    const double diag_median = median(diagonal), last_median = median(last_layer);
    EXPECT_GT(median(full), 4.0);
    EXPECT_GT(median(wasserstein), 2.5);
    EXPECT_GT(median(curvature), 2.5);
    EXPECT_LT(diag_median, 1.2);
    EXPECT_LT(last_median, 1.8);
    EXPECT_GT(median(wasserstein), 2.0 * std::max(diag_median, last_median));
}

}  // namespace
}  // namespace postr
