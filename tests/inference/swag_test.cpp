// SWAG against a hand computation: SGD with momentum on a noisy quadratic, the snapshot schedule,
// the running mean and variance of the collected iterates, the deviation matrix (ring buffer),
// and the sample covariance ½(Σ_diag + D̂ᵀD̂/(K − 1)) of Maddox et al. (2019), eq. (3).
#include "postr/inference/swag.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;
using inference::LogPosterior;
using Matrix = std::vector<std::vector<double>>;

// ℓ(θ; batch) = −½ Σ a_i (θ_i − y_i)², y = batch.targets: a fresh noisy target each step plays
// the mini-batch gradient noise of SGD.
const std::vector<double> kCurvature = {1.0, 4.0, 0.5, 2.0};

LogPosterior noisy_quadratic() {
    const Tensor a = Tensor::from_vector(kCurvature, {4});
    return [a](const Var& theta, const Batch& batch) {
        return mul(sum(mul(square(sub(theta, Var(batch.targets))), Var(a))), -0.5);
    };
}

Matrix noisy_targets(std::int64_t steps, std::uint64_t seed) {
    Generator gen(seed);
    const Tensor y = add(normal({steps, 4}, gen, 0, 0.3, DType::f64),
                         Tensor::from_vector(std::vector<double>{1.0, -0.5, 2.0, 0.0}, {1, 4}));
    Matrix out(static_cast<std::size_t>(steps));
    for (std::int64_t s = 0; s < steps; ++s)
        out[static_cast<std::size_t>(s)] = y[s].to_vector<double>();
    return out;
}

Tensor to_tensor(const std::vector<double>& v) {
    return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())});
}
Tensor to_tensor(const Matrix& m) {
    std::vector<double> flat;
    for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
    return Tensor::from_vector(flat, {static_cast<std::int64_t>(m.size()),
                                      static_cast<std::int64_t>(m.empty() ? 0 : m[0].size())});
}

// The iterates of torch.optim.SGD (momentum, no dampening) descending −ℓ, by hand.
Matrix sgd_iterates(const std::vector<double>& theta0, const Matrix& targets, double lr,
                    double momentum) {
    std::vector<double> theta = theta0, buf(theta0.size(), 0.0);
    Matrix out;
    for (std::size_t s = 0; s < targets.size(); ++s) {
        for (std::size_t i = 0; i < theta.size(); ++i) {
            const double g = kCurvature[i] * (theta[i] - targets[s][i]);
            buf[i] = s == 0 ? g : momentum * buf[i] + g;
            theta[i] -= lr * buf[i];
        }
        out.push_back(theta);
    }
    return out;
}

struct Moments {
    std::vector<double> mean, variance;
    Matrix deviations;  // the last K, oldest first
};

// Algorithm 1 of the paper: running moments; each deviation against the mean including it.
Moments swag_moments(const Matrix& snapshots, std::size_t rank) {
    const std::size_t d = snapshots[0].size();
    std::vector<double> mean(d, 0.0), sq(d, 0.0);
    Matrix devs;
    for (std::size_t n = 0; n < snapshots.size(); ++n) {
        std::vector<double> dev(d);
        for (std::size_t i = 0; i < d; ++i) {
            const double x = snapshots[n][i];
            mean[i] = (static_cast<double>(n) * mean[i] + x) / static_cast<double>(n + 1);
            sq[i] = (static_cast<double>(n) * sq[i] + x * x) / static_cast<double>(n + 1);
            dev[i] = x - mean[i];
        }
        devs.push_back(dev);
        if (devs.size() > rank) devs.erase(devs.begin());
    }
    std::vector<double> var(d);
    for (std::size_t i = 0; i < d; ++i) var[i] = std::max(sq[i] - mean[i] * mean[i], 0.0);
    return {mean, var, devs};
}

// ½ (diag(var) + D̂ᵀD̂ / (k − 1)).
Tensor swag_covariance(const Moments& m, double scale = 0.5) {
    const std::size_t d = m.mean.size(), k = m.deviations.size();
    std::vector<double> cov(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        cov[i * d + i] += m.variance[i];
        for (std::size_t j = 0; j < d; ++j)
            for (std::size_t r = 0; k >= 2 && r < k; ++r)
                cov[i * d + j] +=
                    m.deviations[r][i] * m.deviations[r][j] / static_cast<double>(k - 1);
    }
    for (double& c : cov) c *= scale;
    const auto dd = static_cast<std::int64_t>(d);
    return Tensor::from_vector(cov, {dd, dd});
}

Tensor sample_covariance(const Tensor& samples) {
    const Tensor centred = sub(samples, mean(samples, {0}, true));
    return mul(matmul(centred.t(), centred), 1.0 / static_cast<double>(samples.size(0) - 1));
}

TEST(Swag, MomentsEqualTheRunningMomentsOfTheSnapshots) {
    const std::int64_t steps = 31;
    const double lr = 0.1, momentum = 0.5;
    const Matrix targets = noisy_targets(steps, 1);
    const std::vector<double> theta0 = {0.0, 0.0, 0.0, 0.0};
    // Snapshots after steps 6, 8, ..., 30 (13 of them) into a ring of 3: the buffer wraps.
    const auto swag = inference::swag::build(
        noisy_quadratic(),
        {.lr = lr, .momentum = momentum, .snapshot_start = 4, .snapshot_frequency = 2, .rank = 3});
    auto state = swag.init(to_tensor(theta0));
    for (std::int64_t s = 0; s < steps; ++s)
        swag.update(state, {Tensor(), to_tensor(targets[static_cast<std::size_t>(s)])});

    const Matrix iterates = sgd_iterates(theta0, targets, lr, momentum);
    Matrix snapshots;
    for (std::int64_t step = 1; step <= steps; ++step)
        if (step > 4 && (step - 4) % 2 == 0)
            snapshots.push_back(iterates[static_cast<std::size_t>(step - 1)]);
    ASSERT_EQ(state.num_snapshots, 13);
    const Moments expected = swag_moments(snapshots, 3);
    EXPECT_TRUE(test::all_close(state.params, to_tensor(iterates.back()), 1e-13, 1e-14));
    EXPECT_TRUE(test::all_close(state.mean, to_tensor(expected.mean), 1e-13, 1e-14));
    EXPECT_TRUE(test::all_close(inference::swag::variance(state), to_tensor(expected.variance),
                                1e-10, 1e-14));
    EXPECT_TRUE(test::all_close(inference::swag::deviation_matrix(state),
                                to_tensor(expected.deviations), 1e-12, 1e-14));
    EXPECT_TRUE(test::all_close(swag.covariance(state), swag_covariance(expected), 1e-10, 1e-14));
    // The iterates do move (a fixed point would make every check above trivial).
    EXPECT_GT(*std::max_element(expected.variance.begin(), expected.variance.end()), 1e-3);
}

TEST(Swag, SampleCovarianceIsHalfOfDiagonalPlusLowRank) {
    const std::int64_t steps = 60, n = 200000;
    const Matrix targets = noisy_targets(steps, 2);
    const std::vector<double> theta0 = {1.0, -0.5, 2.0, 0.0};
    const auto swag = inference::swag::build(noisy_quadratic(), {.lr = 0.2, .rank = 5});
    auto state = swag.init(to_tensor(theta0));
    for (std::int64_t s = 0; s < steps; ++s)
        swag.update(state, {Tensor(), to_tensor(targets[static_cast<std::size_t>(s)])});
    const Moments m = swag_moments(sgd_iterates(theta0, targets, 0.2, 0.0), 5);
    const Tensor cov = swag_covariance(m);

    Generator gen(3);
    const Tensor samples = swag.sample(state, n, gen);
    ASSERT_EQ(samples.shape(), (Shape{n, 4}));
    // Per-entry standard error of a Gaussian sample covariance: √((Σ_ii Σ_jj + Σ_ij²)/n).
    const Tensor diag = sum(mul(cov, eye(4, DType::f64)), {1});
    const Tensor se = sqrt(mul(add(mul(diag.reshape({-1, 1}), diag.reshape({1, -1})), square(cov)),
                               1.0 / static_cast<double>(n)));
    const Tensor err = abs(sub(sample_covariance(samples), cov));
    // 5 SE for each of the 16 entries.
    EXPECT_EQ(sum(gt(err, mul(se, 5.0))).item(), 0.0) << err.to_string() << se.to_string();
    // Without the ½, or with 1/k instead of 1/(k − 1), the covariance is far off that band.
    EXPECT_GT(max(div(abs(sub(swag_covariance(m, 1.0), cov)), se)).item(), 50.0);
    Moments m_k = m;
    for (auto& row : m_k.deviations)
        for (double& v : row) v *= std::sqrt(4.0 / 5.0);
    EXPECT_GT(max(div(abs(sub(swag_covariance(m_k), cov)), se)).item(), 5.0);
    const Tensor mean_se = sqrt(mul(diag, 1.0 / static_cast<double>(n)));
    EXPECT_EQ(sum(gt(abs(sub(mean(samples, {0}), to_tensor(m.mean))), mul(mean_se, 5.0))).item(),
              0.0);
}

TEST(Swag, RankZeroIsDiagonalSwag) {
    const std::int64_t steps = 40, n = 100000;
    const Matrix targets = noisy_targets(steps, 4);
    const std::vector<double> theta0 = {0.0, 0.0, 0.0, 0.0};
    const auto swag = inference::swag::build(noisy_quadratic(), {.lr = 0.2, .rank = 0});
    auto state = swag.init(to_tensor(theta0));
    for (std::int64_t s = 0; s < steps; ++s)
        swag.update(state, {Tensor(), to_tensor(targets[static_cast<std::size_t>(s)])});
    const Moments m = swag_moments(sgd_iterates(theta0, targets, 0.2, 0.0), 1);
    ASSERT_EQ(inference::swag::deviation_matrix(state).size(0), 0);
    const Tensor variance = to_tensor(m.variance);
    EXPECT_TRUE(test::all_close(swag.covariance(state), mul(eye(4, DType::f64), mul(variance, 0.5)),
                                1e-10, 1e-14));
    Generator gen(5);
    const Tensor samples = swag.sample(state, n, gen);
    // Sample variances against ½σ²: standard error √(2/n)·½σ², 5 of them.
    const Tensor target = mul(variance, 0.5);
    const Tensor err = abs(sub(var(samples, {0}), target));
    EXPECT_EQ(sum(gt(err, mul(target, 5.0 * std::sqrt(2.0 / static_cast<double>(n))))).item(), 0.0)
        << err.to_string();
}

TEST(Swag, ErrorsSayWhatAndWhere) {
    const LogPosterior lp = noisy_quadratic();
    using Config = inference::swag::Config;
    EXPECT_TRUE(test::throws_error([&] { inference::swag::build(lp, Config{.rank = -1}); },
                                   {"swag", "rank", "-1"}));
    EXPECT_TRUE(
        test::throws_error([&] { inference::swag::build(lp, Config{.snapshot_frequency = 0}); },
                           {"swag", "snapshot_frequency", "0"}));
    EXPECT_TRUE(test::throws_error([&] { inference::swag::build(lp, Config{.scale = 0.0}); },
                                   {"swag", "scale"}));
    EXPECT_TRUE(test::throws_error([&] { inference::swag::build(lp, Config{.lr = -1.0}); },
                                   {"swag", "lr", "-1"}));
    const auto swag = inference::swag::build(lp, {.snapshot_start = 5});
    auto state = swag.init(Tensor::zeros({4}, DType::f64));
    swag.update(state, {Tensor(), Tensor::ones({4}, DType::f64)});
    Generator gen(1);
    EXPECT_TRUE(
        test::throws_error([&] { swag.sample(state, 3, gen); }, {"swag", "no snapshot", "step 1"}));
    EXPECT_TRUE(test::throws_error([&] { swag.collect(state, Tensor::zeros({3}, DType::f64)); },
                                   {"swag", "theta", "[3]"}));
    // √θ has a NaN gradient at negative θ: the step that produced it is named.
    const auto bad =
        inference::swag::build([](const Var& t, const Batch&) { return sum(sqrt(t)); }, {});
    auto bad_state = bad.init(Tensor::full({4}, -1.0, DType::f64));
    EXPECT_TRUE(
        test::throws_error([&] { bad.update(bad_state, {}); }, {"swag", "non-finite", "step 1"}));
}

}  // namespace
}  // namespace postr
