// DiagonalNormal: the log-density against the closed form written out on the host, and sampling
// against its known moments.
#include "postr/inference/diagonal_normal.h"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::DiagonalNormal;

DiagonalNormal example(DType dtype = DType::f64) {
    return {Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3}).to(dtype),
            Tensor::from_vector(std::vector<double>{0.3, 1.5, 2.0}, {3}).to(dtype)};
}

double host_log_density(const std::vector<double>& x, const std::vector<double>& mu,
                        const std::vector<double>& sd) {
    double total = 0.0;
    for (std::size_t d = 0; d < x.size(); ++d) {
        const double z = (x[d] - mu[d]) / sd[d];
        total += -0.5 * z * z - std::log(sd[d]) - 0.5 * std::log(2.0 * std::numbers::pi);
    }
    return total;
}

TEST(DiagonalNormal, LogDensityMatchesClosedFormBatched) {
    const DiagonalNormal dist = example();
    const std::vector<double> mu = dist.mean.to_vector<double>(), sd = dist.sd.to_vector<double>();
    const Tensor x = test::random_tensor({2, 4, 3}, DType::f64, 5, -3.0, 3.0);
    const Tensor got = dist.log_density(x);
    ASSERT_EQ(got.shape(), (Shape{2, 4}));
    const std::vector<double> xv = x.to_vector<double>(), gv = got.to_vector<double>();
    for (std::size_t i = 0; i < 8; ++i) {
        const std::vector<double> row(xv.begin() + static_cast<std::ptrdiff_t>(3 * i),
                                      xv.begin() + static_cast<std::ptrdiff_t>(3 * i + 3));
        // A sum of 3 terms of size ≤ 50: rounding is ~1e-14 absolute.
        EXPECT_NEAR(gv[i], host_log_density(row, mu, sd), 1e-12) << "row " << i;
    }
    // x [D] → a rank-0 result.
    const Tensor one = dist.log_density(dist.mean);
    EXPECT_EQ(one.dim(), 0);
    EXPECT_NEAR(one.item(), host_log_density(mu, mu, sd), 1e-12);
    // f32: the same numbers to f32 rounding (relative 1e-6 over 3 terms).
    const DiagonalNormal dist32 = example(DType::f32);
    EXPECT_TRUE(
        test::all_close(dist32.log_density(x.to(DType::f32)).to(DType::f64), got, 1e-5, 1e-5));
}

TEST(DiagonalNormal, FromPrecisionIsOneOverRootPrecision) {
    const Tensor precision = Tensor::from_vector(std::vector<double>{4.0, 0.25, 100.0}, {3});
    const DiagonalNormal dist =
        DiagonalNormal::from_precision(Tensor::zeros({3}, DType::f64), precision);
    EXPECT_TRUE(test::all_close(
        dist.sd, Tensor::from_vector(std::vector<double>{0.5, 2.0, 0.1}, {3}), 1e-15, 0.0));
    EXPECT_TRUE(test::all_close(dist.variance(), reciprocal(precision), 1e-15, 0.0));
}

TEST(DiagonalNormal, SampleMomentsMatch) {
    const DiagonalNormal dist = example();
    const std::int64_t n = 20000;
    Generator gen(17);
    const Tensor draws = dist.sample(n, gen);
    ASSERT_EQ(draws.shape(), (Shape{n, 3}));
    const std::vector<double> mu = dist.mean.to_vector<double>(), sd = dist.sd.to_vector<double>();
    const std::vector<double> m = mean(draws, {0}).to_vector<double>();
    const std::vector<double> v = var(draws, {0}).to_vector<double>();
    for (std::size_t d = 0; d < 3; ++d) {
        // 5 standard errors: σ/√n for the mean, σ²·√(2/(n−1)) for the variance (normal data).
        EXPECT_NEAR(m[d], mu[d], 5.0 * sd[d] / std::sqrt(static_cast<double>(n)));
        EXPECT_NEAR(v[d], sd[d] * sd[d], 5.0 * sd[d] * sd[d] * std::sqrt(2.0 / (n - 1.0)));
    }
    // Exactly μ + σ ε with ε the generator's normals [n, D].
    Generator again(17);
    const Tensor eps = normal({n, 3}, again, 0.0, 1.0, DType::f64);
    EXPECT_TRUE(test::all_close(draws, add(mul(eps, dist.sd), dist.mean), 0.0, 0.0));
    Generator empty(1);
    EXPECT_EQ(dist.sample(0, empty).shape(), (Shape{0, 3}));
}

TEST(DiagonalNormal, BadInputsThrow) {
    const DiagonalNormal dist = example();
    Generator gen(0);
    DiagonalNormal bad_sd{dist.mean, Tensor::from_vector(std::vector<double>{1.0, 0.0, 1.0}, {3})};
    EXPECT_TRUE(test::throws_error([&] { bad_sd.sample(2, gen); },
                                   {"DiagonalNormal::sample", "sd must be > 0"}));
    DiagonalNormal short_sd{dist.mean, Tensor::ones({2}, DType::f64)};
    EXPECT_TRUE(test::throws_error([&] { short_sd.log_density(dist.mean); },
                                   {"DiagonalNormal::log_density", "sd"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            dist.log_density(Tensor::zeros({4, 2}, DType::f64));
        },
        {"DiagonalNormal::log_density", "D = 3"}));
    EXPECT_TRUE(test::throws_error([&] { dist.log_density(Tensor::zeros({3}, DType::f32)); },
                                   {"DiagonalNormal::log_density"}));
    EXPECT_TRUE(test::throws_error([&] { dist.sample(-1, gen); }, {"n must be >= 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            DiagonalNormal::from_precision(
                dist.mean, Tensor::from_vector(std::vector<double>{1.0, -2.0, 1.0}, {3}));
        },
        {"from_precision", "precision must be > 0"}));
}

}  // namespace
}  // namespace postr
