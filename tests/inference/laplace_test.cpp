// The Laplace family against conjugate Bayesian linear regression, where the posterior is exactly
// Gaussian: y = Xθ + ε, ε ~ N(0, σ²I), θ ~ N(0, diag(1/λ)), exact precision P = XᵀX/σ² + diag(λ),
// exact mean P⁻¹Xᵀy/σ², evidence log N(y | 0, σ²I + X diag(1/λ) Xᵀ). The GGN and the Hessian of
// this model are both XᵀX/σ², so the dense GGN / Hessian Laplace is exact and the diagonal GGN
// gives diag P exactly. f64 throughout: the exact answers and postr's differ only in summation
// order and one Cholesky (condition number < 1e2 here), so 1e-10 relative holds with margin.
#include "postr/inference/laplace.h"

#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/losses.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

namespace la = inference::laplace;
using inference::Batch;

constexpr double sigma = 0.7;

struct Problem {
    std::int64_t n = 30, d = 3;
    Tensor x, y;       // [n, d], [n, 1]
    Tensor lambda;     // [d]
    Tensor precision;  // exact P [d, d]
    Tensor mean;       // exact posterior mean [d]
    std::unique_ptr<nn::Linear> model;
};

// Correlated columns (x₃ ≈ x₁), so P is far from diagonal and sampling bugs show.
Problem make_problem(const Tensor& lambda) {
    Problem p;
    p.lambda = lambda;
    Tensor x = test::random_tensor({p.n, p.d}, DType::f64, 11);
    x.select(1, 2).copy_(add(x.select(1, 0), mul(x.select(1, 2), 0.3)));
    p.x = x;
    p.y = test::random_tensor({p.n, 1}, DType::f64, 12, -2.0, 2.0);
    p.precision = add(mul(matmul(x.t(), x), 1.0 / (sigma * sigma)),
                      mul(eye(p.d, DType::f64), lambda.view({1, p.d})));
    p.mean = cholesky_solve(mul(matmul(x.t(), p.y), 1.0 / (sigma * sigma)), cholesky(p.precision))
                 .view({p.d});
    p.model = std::make_unique<nn::Linear>(p.d, 1, false);
    p.model->finalize(0, DType::f64);
    p.model->eval();
    return p;
}

Problem make_problem(double lambda) { return make_problem(Tensor::full({3}, lambda, DType::f64)); }

la::Config config(la::Structure structure, la::PriorPrecision prior) {
    la::Config c;
    c.structure = structure;
    c.likelihood = nn::Likelihood::gaussian(sigma);
    c.prior_precision = std::move(prior);
    return c;
}

// Fits over the data in two batches (12 + 18 samples).
la::State fit_all(const la::Transform& t, const Problem& p) {
    la::State s = t.init(p.mean);
    t.update(s, Batch{p.x.narrow(0, 0, 12), p.y.narrow(0, 0, 12)});
    t.update(s, Batch{p.x.narrow(0, 12, 18), p.y.narrow(0, 12, 18)});
    t.fit(s);
    return s;
}

// log N(y | 0, σ²I + X diag(1/λ) Xᵀ).
double exact_evidence(const Problem& p) {
    const Tensor k = add(mul(eye(p.n, DType::f64), sigma * sigma),
                         matmul(div(p.x, p.lambda.view({1, p.d})), p.x.t()));
    const Tensor l = cholesky(k);
    const double quad = sum(mul(p.y, cholesky_solve(p.y, l))).item();
    return -0.5 * quad - 0.5 * cholesky_logdet(l).item() -
           0.5 * static_cast<double>(p.n) * std::log(2 * std::numbers::pi);
}

TEST(Laplace, DenseGgnAndHessianGiveTheExactPosterior) {
    for (la::Structure structure : {la::Structure::dense_ggn, la::Structure::dense_hessian}) {
        SCOPED_TRACE(structure == la::Structure::dense_ggn ? "dense_ggn" : "dense_hessian");
        Problem p = make_problem(2.0);
        const la::Transform t = la::build(*p.model, config(structure, 2.0));
        const la::State s = fit_all(t, p);
        EXPECT_EQ(s.num_samples, 30);
        EXPECT_EQ(s.step, 2);
        EXPECT_TRUE(test::all_close(s.precision, p.precision, 1e-10, 1e-12));
        EXPECT_TRUE(test::all_close(t.covariance(s), cholesky_inverse(cholesky(p.precision)), 1e-10,
                                    1e-12));
        EXPECT_TRUE(test::all_close(s.mean, p.mean, 0, 0));  // the mean is the θ* given
        EXPECT_NEAR(t.log_marginal_likelihood(s), exact_evidence(p), 1e-8);
    }
}

TEST(Laplace, EvidenceWithAPerParameterPriorIsTheClosedForm) {
    Problem p = make_problem(Tensor::from_vector(std::vector<double>{0.5, 2.0, 7.0}, {3}));
    const la::Transform t = la::build(*p.model, config(la::Structure::dense_ggn, p.lambda));
    const la::State s = fit_all(t, p);
    EXPECT_TRUE(test::all_close(s.precision, p.precision, 1e-10, 1e-12));
    EXPECT_NEAR(t.log_marginal_likelihood(s), exact_evidence(p), 1e-8);
}

TEST(Laplace, DiagonalGgnGivesTheExactMarginalPrecisions) {
    Problem p = make_problem(2.0);
    const la::Transform t = la::build(*p.model, config(la::Structure::diag_ggn, 2.0));
    const la::State s = fit_all(t, p);
    const Tensor diagonal = p.precision.as_strided({3}, {4}, 0).contiguous();
    EXPECT_TRUE(test::all_close(s.precision, diagonal, 1e-10, 1e-12));
    EXPECT_TRUE(test::all_close(t.covariance(s), reciprocal(diagonal), 1e-10, 1e-12));
    // The diagonal evidence by its formula: log p(y|θ*) + log p(θ*) + (D/2) log 2π − ½ Σ log P_ii.
    const Tensor r = sub(p.y, matmul(p.x, p.mean.view({3, 1})));
    const double log_lik = -0.5 * sum(square(r)).item() / (sigma * sigma) -
                           15.0 * std::log(2 * std::numbers::pi * sigma * sigma);
    const double log_prior =
        1.5 * std::log(2.0) - sum(square(p.mean)).item() - 1.5 * std::log(2 * std::numbers::pi);
    const double expected = log_lik + log_prior + 1.5 * std::log(2 * std::numbers::pi) -
                            0.5 * sum(log(diagonal)).item();
    EXPECT_NEAR(t.log_marginal_likelihood(s), expected, 1e-9);
}

TEST(Laplace, EmpiricalFisherIsTheSumOfPerSampleGradientOuterProducts) {
    Problem p = make_problem(2.0);
    // g_i = ∇_θ −log p(y_i | x_i, θ) at θ*, one autodiff pass per sample.
    Tensor g = Tensor::zeros({p.n, p.d}, DType::f64);
    for (std::int64_t i = 0; i < p.n; ++i) {
        const Tensor xi = p.x.narrow(0, i, 1), yi = p.y.narrow(0, i, 1);
        g.select(0, i).copy_(grad(
            [&](const Var& theta) {
                return nn::gaussian_nll(nn::functional_call(*p.model, theta, Var(xi)), Var(yi),
                                        sigma * sigma, nn::Reduction::sum);
            },
            p.mean));
    }
    const Tensor fisher = add(matmul(g.t(), g), mul(eye(p.d, DType::f64), 2.0));
    // The empirical Fisher is not the GGN here: the test would fail if they were swapped.
    ASSERT_FALSE(test::all_close(fisher, p.precision, 1e-3, 0));

    const la::Transform dense =
        la::build(*p.model, config(la::Structure::dense_empirical_fisher, 2.0));
    EXPECT_TRUE(test::all_close(fit_all(dense, p).precision, fisher, 1e-10, 1e-12));
    const la::Transform diag =
        la::build(*p.model, config(la::Structure::diag_empirical_fisher, 2.0));
    EXPECT_TRUE(test::all_close(fit_all(diag, p).precision,
                                fisher.as_strided({3}, {4}, 0).contiguous(), 1e-10, 1e-12));
}

TEST(Laplace, CurvatureFittedOnASubsetIsScaledToTheDataSetSize) {
    Problem p = make_problem(2.0);
    la::Config c = config(la::Structure::dense_ggn, 2.0);
    c.num_data = 30;
    const la::Transform t = la::build(*p.model, c);
    la::State s = t.init(p.mean);
    const Tensor xs = p.x.narrow(0, 0, 10);
    t.update(s, Batch{xs, p.y.narrow(0, 0, 10)});
    t.fit(s);
    EXPECT_DOUBLE_EQ(t.scale(s), 3.0);
    const Tensor expected =
        add(mul(matmul(xs.t(), xs), 3.0 / (sigma * sigma)), mul(eye(3, DType::f64), 2.0));
    EXPECT_TRUE(test::all_close(s.precision, expected, 1e-10, 1e-12));
}

TEST(Laplace, HessianJitterIsAddedToTheDiagonal) {
    Problem p = make_problem(2.0);
    la::Config c = config(la::Structure::dense_hessian, 2.0);
    c.jitter = 0.25;
    const la::Transform t = la::build(*p.model, c);
    EXPECT_TRUE(test::all_close(fit_all(t, p).precision,
                                add(p.precision, mul(eye(3, DType::f64), 0.25)), 1e-10, 1e-12));
}

// f32 runs the same code: the f64 answer to f32 rounding (κ(P) < 1e2, so 1e-4 relative).
TEST(Laplace, RunsInF32) {
    Problem p = make_problem(2.0);
    nn::Linear model(3, 1, false);
    model.finalize(0, DType::f32);
    model.eval();
    for (la::Structure structure : {la::Structure::dense_ggn, la::Structure::diag_ggn}) {
        const la::Transform t = la::build(model, config(structure, 2.0));
        la::State s = t.init(p.mean.to(DType::f32));
        t.update(s, Batch{p.x.to(DType::f32), p.y.to(DType::f32)});
        t.fit(s);
        const Tensor expected = la::is_dense(structure)
                                    ? p.precision
                                    : p.precision.as_strided({3}, {4}, 0).contiguous();
        EXPECT_EQ(s.precision.dtype(), DType::f32);
        EXPECT_TRUE(test::all_close(s.precision.to(DType::f64), expected, 1e-4, 1e-5));
        if (la::is_dense(structure)) {
            EXPECT_NEAR(t.log_marginal_likelihood(s), exact_evidence(p), 1e-3);
        }
    }
}

// Sample moments within Monte Carlo error: with m independent draws, the sample covariance's
// (i, j) entry has standard deviation √((Σ_ii Σ_jj + Σ_ij²)/m); 5 of those (a 1-in-10⁶ event per
// entry under normality) is the bound. A sampler using L⁻¹ instead of L⁻ᵀ (covariance
// L⁻¹L⁻ᵀ ≠ (LLᵀ)⁻¹) would land far outside it, which the test checks, so the test can fail.
void expect_moments(const Tensor& draws, const Tensor& mean, const Tensor& cov) {
    const std::int64_t m = draws.size(0), d = draws.size(1);
    const Tensor sample_mean = postr::mean(draws, {0});
    const Tensor centred = sub(draws, sample_mean.view({1, d}));
    const Tensor sample_cov = mul(matmul(centred.t(), centred), 1.0 / static_cast<double>(m - 1));
    const Tensor var = cov.as_strided({d}, {d + 1}, 0).contiguous();
    const Tensor mean_tol = mul(sqrt(mul(var, 1.0 / static_cast<double>(m))), 5.0);
    EXPECT_LT(max(sub(abs(sub(sample_mean, mean)), mean_tol)).item(), 0.0)
        << sample_mean.to_string() << " vs " << mean.to_string();
    const Tensor cov_tol =
        mul(sqrt(mul(add(matmul(var.view({d, 1}), var.view({1, d})), square(cov)),
                     1.0 / static_cast<double>(m))),
            5.0);
    EXPECT_LT(max(sub(abs(sub(sample_cov, cov)), cov_tol)).item(), 0.0)
        << sample_cov.to_string() << " vs " << cov.to_string();
}

TEST(Laplace, DenseSamplesReproduceTheCovariance) {
    Problem p = make_problem(2.0);
    const la::Transform t = la::build(*p.model, config(la::Structure::dense_ggn, 2.0));
    const la::State s = fit_all(t, p);
    Generator gen(42);
    const Tensor draws = t.sample(s, 20000, gen);
    ASSERT_EQ(draws.shape(), (Shape{20000, 3}));
    const Tensor cov = t.covariance(s);
    expect_moments(draws, s.mean, cov);
    // The transposition bug's covariance is far outside the tolerance above (entries of cov are
    // O(0.1) and the tolerance O(5e-3)).
    const Tensor l_inv = triangular_solve(s.precision_cholesky, eye(3, DType::f64), true);
    const Tensor wrong = matmul(l_inv, l_inv.t());
    EXPECT_GT(max(abs(sub(wrong, cov))).item(), 0.05);
}

TEST(Laplace, DiagonalSamplesHaveTheMarginalVariances) {
    Problem p = make_problem(2.0);
    const la::Transform t = la::build(*p.model, config(la::Structure::diag_ggn, 2.0));
    const la::State s = fit_all(t, p);
    Generator gen(7);
    const Tensor draws = t.sample(s, 20000, gen);
    const Tensor var = t.covariance(s);
    expect_moments(draws, s.mean, mul(eye(3, DType::f64), var.view({1, 3})));
}

TEST(Laplace, ErrorsSayWhatToDo) {
    Problem p = make_problem(2.0);
    EXPECT_TRUE(test::throws_error(
        [&] { la::build(*p.model, config(la::Structure::dense_ggn, 0.0)); },
        {"laplace::Transform", "prior_precision must be positive", "Pass λ > 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            la::build(*p.model, config(la::Structure::dense_ggn,
                                       Tensor::from_vector(std::vector<double>{1, -1, 1}, {3})));
        },
        {"laplace::Transform", "positive and finite everywhere"}));
    const la::Transform t = la::build(*p.model, config(la::Structure::dense_ggn, 1.0));
    la::State s = t.init(p.mean);
    EXPECT_TRUE(test::throws_error([&] { t.fit(s); }, {"laplace::fit", "no data fed"}));
    t.update(s, Batch{p.x, p.y});
    Generator gen(0);
    EXPECT_TRUE(test::throws_error([&] { t.sample(s, 2, gen); },
                                   {"laplace::sample", "Call fit(state) first"}));
    EXPECT_TRUE(test::throws_error([&] { t.init(Tensor::zeros({4}, DType::f64)); },
                                   {"laplace::init", "D = 3"}));

    nn::Linear big(100, 51, false);  // D = 5100
    big.finalize(0, DType::f32);
    const la::Transform h = la::build(big, config(la::Structure::dense_hessian, 1.0));
    EXPECT_TRUE(test::throws_error([&] { h.init(big.parameters().theta()); },
                                   {"laplace::init", "D ≤ 5000", "D = 5100"}));
}

}  // namespace
}  // namespace postr
