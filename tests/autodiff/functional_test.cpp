// The functional API against known answers: conjugate Bayesian linear regression (exact
// gradient and Hessian), Jacobians of linear maps, batched vjp/jvp, and GGN-vector products of
// a small MLP against an explicitly built Jᵀ H J v, for cross-entropy and Gaussian losses.
#include "postr/autodiff/functional.h"

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

constexpr double kTight = 1e-12;  // f64 results of a few dozen flops: rounding only

// log p(θ | X, y) up to a constant, for y ~ N(Xθ, σ²), θ ~ N(0, α⁻¹I).
struct LinearRegression {
    Tensor x = test::random_tensor({20, 3}, DType::f64, 1);
    Tensor y = test::random_tensor({20}, DType::f64, 2);
    double alpha = 0.7, sigma = 0.4;
    Var log_posterior(const Var& theta) const {
        Var residual = sub(Var(y), matmul(Var(x), theta));
        return neg(add(mul(sum(square(residual)), 0.5 / (sigma * sigma)),
                       mul(sum(square(theta)), 0.5 * alpha)));
    }
    // ∇ = Xᵀ(y − Xθ)/σ² − αθ, and the Hessian −(XᵀX/σ² + αI).
    Tensor gradient(const Tensor& theta) const {
        Tensor r = sub(y, matmul(x, theta));
        return sub(mul(matmul(x.t(), r), 1.0 / (sigma * sigma)), mul(theta, alpha));
    }
    Tensor hessian() const {
        return neg(
            add(mul(matmul(x.t(), x), 1.0 / (sigma * sigma)), mul(eye(3, DType::f64), alpha)));
    }
};

TEST(ValueAndGrad, ConjugateLinearRegressionGradientIsExact) {
    LinearRegression m;
    Tensor theta = test::random_tensor({3}, DType::f64, 3);
    auto [value, g] = value_and_grad([&](const Var& t) { return m.log_posterior(t); }, theta);
    EXPECT_EQ(value.numel(), 1);
    EXPECT_TRUE(test::all_close(g, m.gradient(theta), kTight, kTight));
    EXPECT_TRUE(test::throws_error([&] { grad([](const Var& t) { return exp(t); }, theta); },
                                   {"value_and_grad", "one element", "[3]"}));
}

TEST(HessianVectorProduct, EqualsTheExactHessianTimesV) {
    LinearRegression m;
    Tensor theta = test::random_tensor({3}, DType::f64, 4),
           v = test::random_tensor({3}, DType::f64, 5);
    Tensor hv = hessian_vector_product([&](const Var& t) { return m.log_posterior(t); }, theta, v);
    EXPECT_TRUE(test::all_close(hv, matmul(m.hessian(), v), kTight, 1e-10));
}

TEST(HessianVectorProduct, NonQuadraticMatchesDifferencesOfTheGradient) {
    auto f = [](const Var& t) { return sum(mul(tanh(t), exp(mul(t, 0.3)))); };
    Tensor x = test::random_tensor({4}, DType::f64, 6), v = test::random_tensor({4}, DType::f64, 7);
    Tensor hv = hessian_vector_product(f, x, v);
    const double h = 1e-5;
    Tensor fd = mul(sub(grad(f, add(x, mul(v, h))), grad(f, add(x, mul(v, -h)))), 0.5 / h);
    EXPECT_TRUE(test::all_close(hv, fd, 1e-7, 1e-9));  // central differences: O(h²) ≈ 1e-10
}

TEST(Jacobian, OfALinearMapIsItsMatrix) {
    Tensor a = test::random_tensor({2, 3}, DType::f64, 8);
    Tensor x = test::random_tensor({3}, DType::f64, 9);
    Tensor j = jacobian([&](const Var& t) { return matmul(Var(a), t); }, x);
    EXPECT_TRUE(test::all_close(j, a, 0, 0));
}

TEST(Vjp, BatchedCotangentsEqualRowsOfTheJacobian) {
    auto f = [](const Var& t) { return softmax(mul(t, t), 0); };
    Tensor x = test::random_tensor({4}, DType::f64, 10);
    Tensor j = jacobian(f, x);  // [4, 4]
    Tensor u = test::random_tensor({5, 4}, DType::f64, 11);
    auto [value, pulled] = vjp(f, x, u);  // [5, 4]
    EXPECT_TRUE(test::all_close(pulled, matmul(u, j), kTight, kTight));
    EXPECT_TRUE(test::throws_error(
        [&] {
            vjp(f, x, Tensor::ones({4, 4, 4}, DType::f64));
        },
        {"vjp", "[4, 4, 4]", "[K, ...that shape]"}));
}

TEST(Jvp, BatchedTangentsEqualColumnsOfTheJacobian) {
    auto f = [](const Var& t) { return logsumexp(reshape(t, {2, 2}), {1}); };
    Tensor x = test::random_tensor({4}, DType::f64, 12);
    Tensor j = jacobian(f, x);  // [2, 4]
    Tensor v = test::random_tensor({3, 4}, DType::f64, 13);
    auto [value, jv] = jvp(f, x, v);  // [3, 2]
    EXPECT_TRUE(test::all_close(jv, matmul(v, j.t()), kTight, kTight));
    EXPECT_TRUE(test::all_close(value, f(Var(x)).value(), 0, 0));
}

// A 3-4-2 tanh MLP over a flat θ (weight then bias, layer by layer, row-major).
struct TinyMlp {
    Tensor inputs = test::random_tensor({5, 3}, DType::f64, 14);
    static constexpr std::int64_t kD = 4 * 3 + 4 + 2 * 4 + 2;
    Var operator()(const Var& theta) const {
        Var w1 = reshape(slice(theta, 0, 0, 12), {4, 3}), b1 = slice(theta, 0, 12, 16);
        Var w2 = reshape(slice(theta, 0, 16, 24), {2, 4}), b2 = slice(theta, 0, 24, 26);
        Var h = tanh(add(matmul(Var(inputs), transpose(w1, 0, 1)), b1));
        return add(matmul(h, transpose(w2, 0, 1)), b2);  // logits [5, 2]
    }
};

// Jᵀ H J v with J from jacobian() and H built by hand.
Tensor explicit_ggn_vp(const TinyMlp& f, const Tensor& theta, const Tensor& h, const Tensor& v) {
    Tensor j = jacobian(f, theta).reshape({10, TinyMlp::kD});
    return matmul(j.t(), matmul(h, matmul(j, v)));
}

TEST(GgnVectorProduct, CrossEntropyMatchesExplicitJtHJ) {
    TinyMlp f;
    Tensor theta = test::random_tensor({TinyMlp::kD}, DType::f64, 15);
    Tensor v = test::random_tensor({TinyMlp::kD}, DType::f64, 16);
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1, 0, 1}, {5, 1});
    auto loss = [&](const Var& z) { return neg(sum(gather(log_softmax(z, 1), 1, labels))); };
    // Per sample the Hessian of cross-entropy in the logits is diag(p) − p pᵀ.
    Tensor p = softmax(f(Var(theta)).value(), 1).contiguous();
    std::vector<double> pv = p.to_vector<double>(), hv(100, 0.0);
    for (int n = 0; n < 5; ++n)
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                hv[static_cast<std::size_t>((2 * n + a) * 10 + 2 * n + b)] =
                    (a == b ? pv[2 * n + a] : 0.0) - pv[2 * n + a] * pv[2 * n + b];
    Tensor h = Tensor::from_vector(hv, {10, 10});
    Tensor got = ggn_vector_product(f, loss, theta, v);
    EXPECT_TRUE(test::all_close(got, explicit_ggn_vp(f, theta, h, v), 1e-11, 1e-12));
}

TEST(GgnVectorProduct, GaussianMatchesExplicitJtHJ) {
    TinyMlp f;
    Tensor theta = test::random_tensor({TinyMlp::kD}, DType::f64, 17);
    Tensor v = test::random_tensor({TinyMlp::kD}, DType::f64, 18);
    Tensor targets = test::random_tensor({5, 2}, DType::f64, 19);
    const double sigma = 0.3;
    auto loss = [&](const Var& z) {
        return mul(sum(square(sub(z, Var(targets)))), 0.5 / (sigma * sigma));
    };
    Tensor h = mul(eye(10, DType::f64), 1.0 / (sigma * sigma));
    Tensor got = ggn_vector_product(f, loss, theta, v);
    EXPECT_TRUE(test::all_close(got, explicit_ggn_vp(f, theta, h, v), 1e-11, 1e-11));
}

}  // namespace
}  // namespace postr
