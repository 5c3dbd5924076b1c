// KFAC Laplace against known answers: on a linear-Gaussian model with one output the GGN is
// exactly Kronecker (G = N/σ², A = X̃ᵀX̃/N), so the posterior, its marginal variances, log det
// and evidence must equal the conjugate closed forms; on an MLP and a CNN with batch norm the
// predictive, marginal variances and log det must equal a dense computation from the same
// per-layer blocks (built explicitly here); samples reproduce the covariance within Monte Carlo
// error. f64: exact and postr's answers differ only in summation order (1e-10 relative).
#include "postr/inference/laplace_kfac.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::KfacLaplace;
using inference::KfacLaplaceOptions;

constexpr double kRelTol = 1e-10;

double max_abs(const Tensor& t) { return max(abs(t)).item(); }

::testing::AssertionResult close(const Tensor& a, const Tensor& b) {
    return test::all_close(a, b, 0.0, kRelTol * std::max(max_abs(b), 1e-30));
}

// The block-diagonal Σ = P⁻¹ built densely from the fitted layers: (s·(G ⊗ A in θ order) +
// λ_l I)⁻¹ per Kronecker layer, 1/(s·c + λ_l) per diagonal block: [D, D].
Tensor dense_covariance(const KfacLaplace& la, std::int64_t d, double scale) {
    Tensor sigma = Tensor::zeros({d, d}, DType::f64);
    const std::vector<double> priors = la.layer_prior_precisions();
    std::vector<std::pair<std::int64_t, Tensor>> blocks;  // (offset, Σ block)
    for (const auto& f : la.factors()) blocks.emplace_back(f.offset, f.dense_block());
    for (const auto& b : la.diagonal_blocks()) blocks.emplace_back(b.offset, b.diagonal);
    std::sort(blocks.begin(), blocks.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (std::size_t l = 0; l < blocks.size(); ++l) {
        const auto& [offset, curvature] = blocks[l];
        const double lambda = priors[l];
        if (curvature.dim() == 2) {
            const std::int64_t p = curvature.size(0);
            const Tensor precision = add(mul(curvature, scale), mul(eye(p, DType::f64), lambda));
            sigma.narrow(0, offset, p)
                .narrow(1, offset, p)
                .copy_(cholesky_inverse(cholesky(precision)));
        } else {
            const std::int64_t p = curvature.size(0);
            const Tensor inv = reciprocal(add(mul(curvature, scale), lambda));
            sigma.narrow(0, offset, p)
                .narrow(1, offset, p)
                .copy_(mul(eye(p, DType::f64), inv.unsqueeze(0)));
        }
    }
    return sigma;
}

// Sample covariance of draws [n, D] against Σ: each entry within 5.5 standard errors
// √((Σ_ii Σ_jj + Σ_ij²)/n) (Gaussian fourth moments; the seed is fixed, and 5.5 σ leaves the
// chance of a false alarm over a few thousand entries below 1e-4), and the mean within 5.5
// √(Σ_ii/n) of θ*.
void expect_sample_moments(const Tensor& draws, const Tensor& theta, const Tensor& sigma) {
    const std::int64_t n = draws.size(0), d = draws.size(1);
    const Tensor centred = sub(draws, mean(draws, {0}, true));
    const std::vector<double> cov =
        mul(matmul(centred.t(), centred), 1.0 / static_cast<double>(n - 1)).to_vector<double>();
    const std::vector<double> s = sigma.to_vector<double>();
    const std::vector<double> m = mean(draws, {0}).to_vector<double>();
    const std::vector<double> t = theta.to_vector<double>();
    const auto at = [d](std::int64_t i, std::int64_t j) {
        return static_cast<std::size_t>(i * d + j);
    };
    for (std::int64_t i = 0; i < d; ++i) {
        EXPECT_NEAR(m[static_cast<std::size_t>(i)], t[static_cast<std::size_t>(i)],
                    5.5 * std::sqrt(s[at(i, i)] / static_cast<double>(n)))
            << "mean " << i;
        for (std::int64_t j = 0; j < d; ++j) {
            const double se = std::sqrt((s[at(i, i)] * s[at(j, j)] + s[at(i, j)] * s[at(i, j)]) /
                                        static_cast<double>(n));
            EXPECT_NEAR(cov[at(i, j)], s[at(i, j)], 5.5 * se) << "covariance " << i << ", " << j;
        }
    }
}

// Conjugate Bayesian linear regression: y = x̃ᵀθ + ε, ε ~ N(0, σ²), θ ~ N(0, I/λ), with and
// without a bias (x̃ = [x, 1] or x). One output, so KFAC is exact.
TEST(KfacLaplace, ConjugateLinearRegressionIsExact) {
    const std::int64_t n = 30, d = 3;
    const double sigma = 0.6, lambda = 1.5;
    for (bool bias : {false, true}) {
        SCOPED_TRACE(testing::Message() << "bias " << bias);
        nn::Sequential model({std::make_shared<nn::Linear>(d, 1, bias)});
        model.finalize(0, DType::f64);
        model.eval();
        const Tensor x = test::random_tensor({n, d}, DType::f64, 1);
        const Tensor xt = bias ? cat({x, Tensor::ones({n, 1}, DType::f64)}, 1) : x;
        const std::int64_t p = xt.size(1);
        const Tensor theta_true = test::random_tensor({p, 1}, DType::f64, 2);
        const Tensor y =
            add(matmul(xt, theta_true), mul(test::random_tensor({n, 1}, DType::f64, 3), sigma));
        const Tensor precision =
            add(mul(matmul(xt.t(), xt), 1.0 / (sigma * sigma)), mul(eye(p, DType::f64), lambda));
        const Tensor l = cholesky(precision);
        const Tensor covariance = cholesky_inverse(l);
        // MAP = posterior mean Σ X̃ᵀy/σ²; θ's layout is [w, b], as x̃.
        const Tensor theta_star =
            mul(cholesky_solve(matmul(xt.t(), y), l), 1.0 / (sigma * sigma)).reshape({-1});
        model.load_flat(theta_star);

        KfacLaplaceOptions options;
        options.likelihood = nn::Likelihood::gaussian(sigma);
        options.prior_precision = lambda;
        KfacLaplace la(model, options);
        la.accumulate(x.narrow(0, 0, 12), y.narrow(0, 0, 12));
        la.accumulate(x.narrow(0, 12, 18), y.narrow(0, 12, 18));
        la.fit();

        // Σ entry by entry from the predictive: f(e_i) has variance Σ_ii, f(e_i + e_j)
        // Σ_ii + Σ_jj + 2Σ_ij (inputs in x-space; the bias column is always 1).
        EXPECT_TRUE(
            close(la.posterior_variance(), covariance.as_strided({p}, {p + 1}, 0).contiguous()));
        EXPECT_TRUE(close(dense_covariance(la, p, 1.0), covariance));
        const Tensor probes = test::random_tensor({7, d}, DType::f64, 4);
        const Tensor zt = bias ? cat({probes, Tensor::ones({7, 1}, DType::f64)}, 1) : probes;
        const auto f = la.predict(probes);
        EXPECT_TRUE(close(f.mean.reshape({-1}), matmul(zt, theta_star)));
        EXPECT_TRUE(close(f.covariance.reshape({-1}), sum(mul(matmul(zt, covariance), zt), {1})));

        // log det and the evidence against log N(y | 0, σ²I + X̃X̃ᵀ/λ).
        EXPECT_NEAR(la.posterior_log_determinant(), -cholesky_logdet(l).item(),
                    kRelTol * std::abs(cholesky_logdet(l).item()));
        const Tensor k =
            add(mul(matmul(xt, xt.t()), 1.0 / lambda), mul(eye(n, DType::f64), sigma * sigma));
        const Tensor lk = cholesky(k);
        const double closed_form = -0.5 * sum(mul(y, cholesky_solve(y, lk))).item() -
                                   0.5 * cholesky_logdet(lk).item() -
                                   0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
        const Tensor residual = sub(y.reshape({-1}), matmul(xt, theta_star));
        const double log_likelihood =
            -0.5 * sum(square(residual)).item() / (sigma * sigma) -
            0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi * sigma * sigma);
        EXPECT_NEAR(la.log_marginal_likelihood(log_likelihood), closed_form,
                    kRelTol * std::abs(closed_form));

        // The Lᵀ bug would show here: draws must have covariance exactly Σ.
        Generator gen(5);
        const Tensor draws = la.sample(20000, gen);
        ASSERT_EQ(draws.shape(), (Shape{20000, p}));
        expect_sample_moments(draws, theta_star, covariance);
    }
}

// ggn_scale multiplies the curvature before the prior: Σ = (s·X̃ᵀX̃/σ² + λI)⁻¹. A new prior
// needs no refit.
TEST(KfacLaplace, ScalesTheCurvatureAndChangesThePriorWithoutRefitting) {
    const std::int64_t n = 10, d = 4;
    const double sigma = 1.3, scale = 3.0;
    nn::Sequential model({std::make_shared<nn::Linear>(d, 1, false)});
    model.finalize(0, DType::f64);
    model.eval();
    const Tensor x = test::random_tensor({n, d}, DType::f64, 6);
    KfacLaplaceOptions options;
    options.likelihood = nn::Likelihood::gaussian(sigma);
    options.ggn_scale = scale;
    KfacLaplace la(model, options);
    la.accumulate(x);
    la.fit();
    for (double lambda : {1.0, 0.25}) {
        la.set_prior_precision(lambda);
        const Tensor precision =
            add(mul(matmul(x.t(), x), scale / (sigma * sigma)), mul(eye(d, DType::f64), lambda));
        EXPECT_TRUE(close(dense_covariance(la, d, scale), cholesky_inverse(cholesky(precision))));
        const Tensor want = cholesky_inverse(cholesky(precision));
        EXPECT_TRUE(close(la.posterior_variance(), want.as_strided({d}, {d + 1}, 0).contiguous()));
    }
}

// A categorical MLP: the predictive covariance, marginal variances and log det equal the dense
// computation J Σ Jᵀ with Σ the block-diagonal inverse of the per-layer precisions, and the
// samples' covariance matches that Σ.
TEST(KfacLaplace, MlpPredictiveMatchesDenseBlocks) {
    auto model = test::curvature_mlp(4, 3, 7);
    const std::int64_t d = model->num_parameters();
    const Tensor x = test::random_tensor({9, 4}, DType::f64, 8);
    const double scale = 2.0;
    KfacLaplaceOptions options;
    options.prior_precision = 0.5;
    options.ggn_scale = scale;
    options.chunk_size = 4;
    KfacLaplace la(*model, options);
    la.accumulate(x);
    la.fit();
    ASSERT_EQ(la.factors().size(), 3u);
    const Tensor sigma = dense_covariance(la, d, scale);

    const Tensor x_test = test::random_tensor({6, 4}, DType::f64, 9);
    const Tensor j = nn::per_sample_jacobian(*model, x_test);  // [6, 3, D]
    const Tensor want = matmul(matmul(j, sigma), j.transpose(1, 2));
    const auto f = la.predict(x_test);
    EXPECT_EQ(f.covariance.shape(), (Shape{6, 3, 3}));
    EXPECT_TRUE(close(f.covariance, want));
    EXPECT_TRUE(close(la.posterior_variance(), sigma.as_strided({d}, {d + 1}, 0).contiguous()));
    const double logdet = -cholesky_logdet(cholesky(sigma)).item();
    EXPECT_NEAR(la.posterior_log_determinant(), -logdet, kRelTol * std::abs(logdet));

    const Tensor probs = la.predict_probabilities(x_test);
    EXPECT_TRUE(test::all_close(sum(probs, {1}), Tensor::ones({6}, DType::f64), 0, 1e-12));

    Generator gen(10);
    expect_sample_moments(la.sample(20000, gen), model->parameters().theta(), sigma);
}

// A CNN with batch norm (Conv2d layers with and without bias, a strided 1×1 downsample,
// BatchNorm2d as diagonal blocks), one prior per layer: the predictive equals the dense
// computation, so the layers' priors land on the right blocks.
TEST(KfacLaplace, CnnWithBatchNormAndLayerPriorsMatchesDenseBlocks) {
    auto model = test::curvature_cnn(2, 11);
    const std::int64_t d = model->num_parameters();
    const Tensor x = test::random_tensor({4, 2, 6, 6}, DType::f64, 12);
    KfacLaplaceOptions options;
    KfacLaplace probe(*model, options);
    probe.accumulate(x);
    probe.fit();
    const std::size_t layers = probe.factors().size() + probe.diagonal_blocks().size();
    for (std::size_t l = 0; l < layers; ++l)
        options.layer_prior_precisions.push_back(0.3 + 0.4 * static_cast<double>(l));
    KfacLaplace la(*model, options);
    la.accumulate(x);
    la.fit();
    EXPECT_EQ(la.layer_prior_precisions(), options.layer_prior_precisions);
    EXPECT_FALSE(la.diagonal_blocks().empty());
    const Tensor sigma = dense_covariance(la, d, 1.0);
    const Tensor x_test = test::random_tensor({3, 2, 6, 6}, DType::f64, 13);
    const Tensor j = nn::per_sample_jacobian(*model, x_test);
    const auto f = la.predict(x_test);
    EXPECT_TRUE(close(f.covariance, matmul(matmul(j, sigma), j.transpose(1, 2))));
    EXPECT_TRUE(close(la.posterior_variance(), sigma.as_strided({d}, {d + 1}, 0).contiguous()));
    // The evidence's prior term uses each layer's λ: compare with a direct sum.
    const std::vector<double> theta = model->parameters().theta().to_vector<double>();
    double prior_term = 0;
    std::vector<std::pair<std::int64_t, std::int64_t>> blocks;
    for (const auto& fct : la.factors()) blocks.emplace_back(fct.offset, fct.size);
    for (const auto& b : la.diagonal_blocks()) blocks.emplace_back(b.offset, b.size);
    std::sort(blocks.begin(), blocks.end());
    for (std::size_t l = 0; l < blocks.size(); ++l) {
        const double lambda = options.layer_prior_precisions[l];
        double norm2 = 0;
        for (std::int64_t i = 0; i < blocks[l].second; ++i)
            norm2 += theta[static_cast<std::size_t>(blocks[l].first + i)] *
                     theta[static_cast<std::size_t>(blocks[l].first + i)];
        prior_term +=
            -0.5 * lambda * norm2 + 0.5 * static_cast<double>(blocks[l].second) * std::log(lambda);
    }
    const double want = -1.0 + prior_term + 0.5 * la.posterior_log_determinant();
    EXPECT_NEAR(la.log_marginal_likelihood(-1.0), want, kRelTol * std::abs(want));
}

// f32 runs the same computation: the marginal variances and the predictive agree with f64
// within f32 rounding amplified by the eigendecompositions (1e-3 relative: the factors' eigen-
// values span a few decades here, and eigenvectors carry ε_f32·‖A‖/gap).
TEST(KfacLaplace, SinglePrecisionAgreesWithDouble) {
    auto m64 = test::curvature_mlp(4, 3, 14);
    auto m32 = test::curvature_mlp(4, 3, 14);
    m32->to(DType::f32);
    const Tensor x = test::random_tensor({12, 4}, DType::f64, 15);
    const Tensor x_test = test::random_tensor({5, 4}, DType::f64, 16);
    KfacLaplace l64(*m64), l32(*m32);
    l64.accumulate(x);
    l32.accumulate(x.to(DType::f32));
    l64.fit();
    l32.fit();
    const Tensor v32 = l32.posterior_variance();
    EXPECT_EQ(v32.dtype(), DType::f32);
    const Tensor v64 = l64.posterior_variance();
    EXPECT_TRUE(test::all_close(v32.to(DType::f64), v64, 1e-3, 0));
    const auto f64 = l64.predict(x_test);
    const auto f32 = l32.predict(x_test.to(DType::f32));
    EXPECT_TRUE(test::all_close(f32.covariance.to(DType::f64), f64.covariance, 0,
                                1e-3 * max_abs(f64.covariance)));
    EXPECT_NEAR(l32.log_marginal_likelihood(), l64.log_marginal_likelihood(),
                1e-4 * std::abs(l64.log_marginal_likelihood()));
    Generator gen(17);
    EXPECT_EQ(l32.sample(3, gen).dtype(), DType::f32);
}

TEST(KfacLaplace, RejectsBadUse) {
    nn::Sequential model({std::make_shared<nn::Linear>(2, 1)});
    model.finalize(0, DType::f64);
    model.eval();
    KfacLaplaceOptions bad;
    bad.prior_precision = 0;
    EXPECT_TRUE(test::throws_error([&] { KfacLaplace la(model, bad); },
                                   {"KfacLaplace", "prior precision", "0"}));
    KfacLaplaceOptions bad_scale;
    bad_scale.ggn_scale = -1;
    EXPECT_TRUE(test::throws_error([&] { KfacLaplace la(model, bad_scale); },
                                   {"KfacLaplace", "ggn_scale"}));
    KfacLaplaceOptions gaussian;
    gaussian.likelihood = nn::Likelihood::gaussian(1.0);
    KfacLaplace la(model, gaussian);
    EXPECT_TRUE(test::throws_error([&] { la.fit(); }, {"KfacLaplace::fit", "no data"}));
    Generator gen(1);
    EXPECT_TRUE(
        test::throws_error([&] { la.sample(2, gen); }, {"KfacLaplace::sample", "not fitted"}));
    la.accumulate(Tensor::ones({3, 2}, DType::f64));
    la.fit();
    EXPECT_TRUE(test::throws_error(
        [&] {
            la.predict_probabilities(Tensor::ones({1, 2}, DType::f64));
        },
        {"predict_probabilities", "categorical"}));
    EXPECT_TRUE(
        test::throws_error([&] { la.set_prior_precision(-2); }, {"set_prior_precision", "-2"}));
    KfacLaplaceOptions wrong_layers = gaussian;
    wrong_layers.layer_prior_precisions = {1.0, 2.0};
    KfacLaplace lw(model, wrong_layers);
    lw.accumulate(Tensor::ones({3, 2}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { lw.fit(); },
                                   {"KfacLaplace::fit", "2 values", "1 parametrised layers"}));
}

}  // namespace
}  // namespace postr
