// Extended Kalman filters on a linear-Gaussian model y = xᵀθ + ε, ε ~ N(0, σ²), with the
// log-likelihood written directly with Var ops. There the observed information −∇² log p is
// xxᵀ/σ² whatever θ, so the dense filter with Curvature::hessian IS the Kalman filter: after
// feeding every observation from the prior N(0, I/λ) it holds the exact conjugate posterior.
// The empirical-Fisher filters (posteriors' rules) are checked against their documented
// recursions computed here by hand from the analytic per-sample gradients
// g_b = x_b (y_b − x_bᵀμ)/σ². f64; each comparison is a few D×D solves apart: 1e-10 relative.
#include "postr/inference/ekf.h"

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

namespace ekf = inference::ekf;
using inference::Batch;

constexpr double sigma = 0.5;
constexpr std::int64_t n = 24, d = 3;

// Per-sample log N(y_b | x_bᵀθ, σ²): [B]; `mean_only` returns their mean (one element).
ekf::LogLikelihood linear_gaussian(bool mean_only) {
    return [mean_only](const Var& theta, const Batch& batch) {
        const std::int64_t b = batch.inputs.size(0);
        const Var r = sub(Var(batch.targets), matmul(Var(batch.inputs), reshape(theta, {d, 1})));
        const Var ll = add(reshape(mul(square(r), -0.5 / (sigma * sigma)), {b}),
                           -0.5 * std::log(2 * std::numbers::pi * sigma * sigma));
        return mean_only ? mean(ll) : ll;
    };
}

struct Data {
    Tensor x = test::random_tensor({n, d}, DType::f64, 3);
    Tensor y = test::random_tensor({n, 1}, DType::f64, 4, -2.0, 2.0);
    Batch batch(std::int64_t start, std::int64_t size) const {
        return {x.narrow(0, start, size), y.narrow(0, start, size)};
    }
};

// Analytic per-sample gradients of log p at μ: [B, d].
Tensor gradients(const Batch& b, const Tensor& mu) {
    const Tensor r = sub(b.targets, matmul(b.inputs, mu.view({d, 1})));
    return mul(b.inputs, mul(r, 1.0 / (sigma * sigma)));
}

Tensor inverse(const Tensor& a) { return cholesky_inverse(cholesky(a)); }

TEST(EkfDenseFisher, HessianCurvatureIsTheKalmanFilterAndEndsAtTheExactPosterior) {
    const Data data;
    const double lambda = 1.5;
    const Tensor exact_precision = add(mul(matmul(data.x.t(), data.x), 1.0 / (sigma * sigma)),
                                       mul(eye(d, DType::f64), lambda));
    const Tensor exact_cov = inverse(exact_precision);
    const Tensor exact_mean =
        matmul(exact_cov, mul(matmul(data.x.t(), data.y), 1.0 / (sigma * sigma))).view({d});
    // One observation at a time with lr = 1, and batches of 6 with lr = 6 (the batch mean's
    // curvature times B is the batch's information).
    for (const std::int64_t b : {1, 6}) {
        SCOPED_TRACE(b);
        ekf::dense_fisher::Config c;
        c.lr = static_cast<double>(b);
        c.init_cov = 1.0 / lambda;
        c.per_sample = true;
        c.curvature = ekf::dense_fisher::Curvature::hessian;
        const auto t = ekf::dense_fisher::build(linear_gaussian(false), c);
        auto s = t.init(Tensor::zeros({d}, DType::f64));
        for (std::int64_t i = 0; i < n; i += b) t.update(s, data.batch(i, b));
        EXPECT_EQ(s.step, n / b);
        EXPECT_TRUE(test::all_close(s.cov, exact_cov, 1e-10, 1e-13));
        EXPECT_TRUE(test::all_close(s.params, exact_mean, 1e-10, 1e-13));
    }
}

TEST(EkfDenseFisher, HessianCurvatureWithTransitionNoiseIsTheRandomWalkKalmanFilter) {
    const Data data;
    const double q = 0.02;
    ekf::dense_fisher::Config c;
    c.transition_cov = q;
    c.init_cov = 0.8;
    c.curvature = ekf::dense_fisher::Curvature::hessian;
    const auto t = ekf::dense_fisher::build(linear_gaussian(true), c);  // per_sample = false
    auto s = t.init(Tensor::zeros({d}, DType::f64));
    Tensor mu = Tensor::zeros({d}, DType::f64), cov = mul(eye(d, DType::f64), 0.8);
    for (std::int64_t i = 0; i < n; ++i) {
        const Batch b = data.batch(i, 1);
        t.update(s, b);
        // Predict Σ + qI; correct with information xxᵀ/σ² and innovation x (y − xᵀμ)/σ².
        const Tensor precision = add(inverse(add(cov, mul(eye(d, DType::f64), q))),
                                     mul(matmul(b.inputs.t(), b.inputs), 1.0 / (sigma * sigma)));
        cov = inverse(precision);
        mu = add(mu, matmul(cov, gradients(b, mu).view({d, 1})).view({d}));
    }
    EXPECT_TRUE(test::all_close(s.cov, cov, 1e-10, 1e-13));
    EXPECT_TRUE(test::all_close(s.params, mu, 1e-10, 1e-13));
}

TEST(EkfDenseFisher, EmpiricalFisherFollowsItsRecursionAndThePrecisionGrows) {
    const Data data;
    const double lr = 0.7, q = 0.01;
    for (const bool per_sample : {false, true}) {
        SCOPED_TRACE(per_sample);
        ekf::dense_fisher::Config c;
        c.lr = lr;
        c.transition_cov = q;
        c.per_sample = per_sample;
        const auto t = ekf::dense_fisher::build(linear_gaussian(!per_sample), c);
        auto s = t.init(Tensor::zeros({d}, DType::f64));
        Tensor mu = Tensor::zeros({d}, DType::f64), cov = eye(d, DType::f64);
        for (std::int64_t i = 0; i < n; i += 4) {
            const Batch b = data.batch(i, 4);
            t.update(s, b);
            const Tensor g = gradients(b, mu);                  // [4, d]
            const Tensor fisher = mul(matmul(g.t(), g), 0.25);  // (1/B) Σ g gᵀ
            const Tensor predicted_precision = inverse(add(cov, mul(eye(d, DType::f64), q)));
            // The precision grows by the Fisher (posteriors' dense filter subtracts it).
            cov = inverse(add(predicted_precision, mul(fisher, lr)));
            mu = add(mu, mul(matmul(cov, mean(g, {0}).view({d, 1})).view({d}), lr));
        }
        EXPECT_TRUE(test::all_close(s.cov, cov, 1e-10, 1e-13));
        EXPECT_TRUE(test::all_close(s.params, mu, 1e-10, 1e-13));
    }
}

TEST(EkfDiagFisher, FollowsItsDocumentedRecursion) {
    const Data data;
    const double lr = 0.6, q = 0.05;
    for (const bool per_sample : {false, true}) {
        SCOPED_TRACE(per_sample);
        ekf::diag_fisher::Config c;
        c.lr = lr;
        c.transition_sd = q;
        c.per_sample = per_sample;
        c.init_sd = 2.0;
        const auto t = ekf::diag_fisher::build(linear_gaussian(!per_sample), c);
        auto s = t.init(Tensor::zeros({d}, DType::f64));
        Tensor mu = Tensor::zeros({d}, DType::f64), sd = Tensor::full({d}, 2.0, DType::f64);
        for (std::int64_t i = 0; i < n; i += 3) {
            const Batch b = data.batch(i, 3);
            t.update(s, b);
            // 1/σ⁺² = 1/(σ² + q²) + lr·mean_b g_b²;  μ ← μ + lr σ⁺² ḡ.
            const Tensor g = gradients(b, mu);
            const Tensor var =
                reciprocal(add(reciprocal(add(square(sd), q * q)), mul(mean(square(g), {0}), lr)));
            mu = add(mu, mul(mul(var, mean(g, {0})), lr));
            sd = sqrt(var);
        }
        EXPECT_EQ(s.step, 8);
        EXPECT_TRUE(test::all_close(s.sd_diag, sd, 1e-10, 1e-13));
        EXPECT_TRUE(test::all_close(s.params, mu, 1e-10, 1e-13));
        // The recorded log-likelihood is the last batch's mean at the pre-update mean: finite.
        EXPECT_TRUE(std::isfinite(s.log_likelihood.item()));
    }
}

// Sample covariance within 5 standard errors √((Σ_ii Σ_jj + Σ_ij²)/m) of Σ.
TEST(EkfDenseFisher, SamplesReproduceTheCovariance) {
    const Data data;
    ekf::dense_fisher::Config c;
    c.per_sample = true;
    c.curvature = ekf::dense_fisher::Curvature::hessian;
    const auto t = ekf::dense_fisher::build(linear_gaussian(false), c);
    auto s = t.init(Tensor::zeros({d}, DType::f64));
    t.update(s, data.batch(0, 2));
    // The sampler reads only μ and Σ: give it a strongly correlated Σ, where reading the factor
    // the wrong way round (Lᵀ L instead of L Lᵀ) is far outside the tolerance below.
    s.cov = Tensor::from_vector(std::vector<double>{1.0, 0.9, 0.7, 0.9, 1.0, 0.9, 0.7, 0.9, 1.0},
                                {3, 3});
    Generator gen(5);
    const std::int64_t m = 20000;
    const Tensor draws = t.sample(s, m, gen);
    const Tensor centred = sub(draws, s.params.view({1, d}));
    const Tensor sample_cov = mul(matmul(centred.t(), centred), 1.0 / static_cast<double>(m));
    const Tensor var = s.cov.as_strided({d}, {d + 1}, 0).contiguous();
    const Tensor tol = mul(sqrt(mul(add(matmul(var.view({d, 1}), var.view({1, d})), square(s.cov)),
                                    1.0 / static_cast<double>(m))),
                           5.0);
    EXPECT_LT(max(sub(abs(sub(sample_cov, s.cov)), tol)).item(), 0.0)
        << sample_cov.to_string() << " vs " << s.cov.to_string();
    // A sampler multiplying by Lᵀ instead of L would have covariance Lᵀ L, far from Σ here.
    const Tensor l = cholesky(s.cov);
    EXPECT_GT(max(abs(sub(matmul(l.t(), l), s.cov))).item(), 10 * max(tol).item());
}

TEST(Ekf, ErrorsSayWhatToDo) {
    ekf::diag_fisher::Config bad;
    bad.lr = 0;
    EXPECT_TRUE(test::throws_error([&] { ekf::diag_fisher::build(linear_gaussian(true), bad); },
                                   {"ekf::diag_fisher", "lr ", "Pass finite values"}));
    ekf::dense_fisher::Config c;
    c.per_sample = true;
    const auto t = ekf::dense_fisher::build(linear_gaussian(true), c);  // returns one element
    auto s = t.init(Tensor::zeros({d}, DType::f64));
    const Data data;
    EXPECT_TRUE(test::throws_error([&] { t.update(s, data.batch(0, 4)); },
                                   {"ekf::dense_fisher::update", "one value per sample, [4]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            t.update(s, Batch{Tensor::zeros({0, d}, DType::f64), {}});
        },
        {"ekf::dense_fisher::update", "the batch is empty"}));
    ekf::dense_fisher::Config h;
    h.curvature = ekf::dense_fisher::Curvature::hessian;
    EXPECT_TRUE(test::throws_error(
        [&] { ekf::dense_fisher::build(linear_gaussian(true), h).init(Tensor::zeros({5001})); },
        {"ekf::dense_fisher::init", "D ≤ 5000", "D = 5001"}));
}

}  // namespace
}  // namespace postr
