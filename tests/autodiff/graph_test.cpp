// The reverse-mode engine: accumulation, shared subexpressions, graph release, no-grad,
// gradients of intermediates, second derivatives, and the checks that guard it.
#include "postr/autodiff/graph.h"

#include <cmath>

#include <gtest/gtest.h>

#include "postr/autodiff/gradcheck.h"
#include "postr/autodiff/ops.h"
#include "postr/autodiff/record.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

Tensor vec(std::vector<double> v) {
    Shape s{static_cast<std::int64_t>(v.size())};
    return Tensor::from_vector(v, s);
}

TEST(Backward, AccumulatesIntoLeavesAcrossCalls) {
    Var x(vec({1, 2, 3}), true);
    sum(mul(x, x)).backward();
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
    sum(mul(x, 3.0)).backward();  // .grad accumulates, as in PyTorch
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
    x.zero_grad();
    EXPECT_FALSE(x.grad().defined());
}

TEST(Backward, SumsCotangentsOfASharedSubexpression) {
    // y = e·e with e = exp(x), used twice: dy/dx = 2e².
    Var x(vec({0.5, -1.0}), true);
    Var e = exp(x);
    sum(mul(e, e)).backward();
    std::vector<double> g = x.grad().to_vector<double>();
    EXPECT_NEAR(g[0], 2 * std::exp(1.0), 1e-14);
    EXPECT_NEAR(g[1], 2 * std::exp(-2.0), 1e-15);
}

TEST(Backward, ReleasedGraphIsAClearError) {
    Var x(vec({1, 2}), true);
    Var y = sum(exp(x));
    y.backward({}, true);  // retained
    y.backward();          // allowed once more, then released
    EXPECT_TRUE(test::throws_error([&] { y.backward(); }, {"backward of", "retain_graph"}));
}

TEST(Backward, NeedsAScalarOrACotangent) {
    Var x(vec({1, 2}), true);
    Var y = mul(x, 2.0);
    EXPECT_TRUE(test::throws_error([&] { y.backward(); }, {"backward", "[2]"}));
    y.backward(vec({1, 10}));
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20}));
    EXPECT_TRUE(test::throws_error([] { Var(vec({1})).backward(); }, {"does not require grad"}));
}

TEST(Backward, NoGradGuardRecordsNothing) {
    Var x(vec({1, 2}), true);
    Var y;
    {
        NoGradGuard guard;
        EXPECT_FALSE(grad_enabled());
        y = exp(x);
    }
    EXPECT_TRUE(grad_enabled());
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(exp(x.detach()).requires_grad());
    EXPECT_TRUE(exp(x).requires_grad());
}

TEST(Backward, OnlyFloatingLeavesCanRequireGrad) {
    Var i(Tensor::zeros({2}, DType::i64));
    EXPECT_TRUE(test::throws_error([&] { i.set_requires_grad(true); }, {"f32 or f64", "i64"}));
    Var x(vec({1}), true);
    Var y = exp(x);
    EXPECT_TRUE(test::throws_error([&] { y.set_requires_grad(true); }, {"only leaves", "exp"}));
}

TEST(Grad, ReturnsGradientsOfIntermediatesAndZerosForUnused) {
    Var x(vec({1, 2}), true), unused(vec({5}), true);
    Var h = mul(x, 3.0);
    Var y = sum(square(h));
    std::vector<Var> g = grad({y}, {h, x, unused});
    EXPECT_EQ(g[0].value().to_vector<double>(), (std::vector<double>{6, 12}));   // 2h
    EXPECT_EQ(g[1].value().to_vector<double>(), (std::vector<double>{18, 36}));  // 2h·3
    EXPECT_EQ(g[2].value().to_vector<double>(), (std::vector<double>{0}));
    EXPECT_FALSE(x.grad().defined());  // grad() leaves .grad alone
}

TEST(Grad, RejectsMisshapenCotangents) {
    Var x(vec({1, 2, 3}), true);
    Var y = exp(x);
    EXPECT_TRUE(test::throws_error([&] { grad({y}, {x}, {Tensor::ones({2}, DType::f64)}); },
                                   {"grad", "[2]", "[3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            grad({y}, {x}, {Tensor::ones({2, 2, 3}, DType::f64)});
        },
        {"grad", "[2, 2, 3]"}));
}

TEST(Grad, CreateGraphGivesSecondDerivatives) {
    // f = Σ x³: f' = 3x², f'' = 6x.
    Var x(vec({1.5, -2.0}), true);
    Var f = sum(pow(x, 3.0));
    Var g = grad({f}, {x}, {}, true, true)[0];
    EXPECT_TRUE(g.requires_grad());
    std::vector<double> g_values = g.value().to_vector<double>();
    EXPECT_NEAR(g_values[0], 6.75, 1e-14);
    Var h = grad({sum(g)}, {x})[0];
    std::vector<double> hv = h.value().to_vector<double>();
    EXPECT_NEAR(hv[0], 9.0, 1e-13);
    EXPECT_NEAR(hv[1], -12.0, 1e-13);
}

TEST(Grad, SecondDerivativesOfEveryUnaryRuleMatchDifferences) {
    // Differentiating the backward pass exercises each rule's own rules (reverse-over-reverse).
    for (auto fn : std::vector<MultiVarFn>{
             [](const std::vector<Var>& x) { return sum(tanh(x[0])); },
             [](const std::vector<Var>& x) { return sum(sigmoid(mul(x[0], x[0]))); },
             [](const std::vector<Var>& x) { return logsumexp(x[0], {0}); },
             [](const std::vector<Var>& x) { return sum(log_softmax(x[0], 0)); },
             [](const std::vector<Var>& x) { return sum(softplus(exp(x[0]))); }}) {
        MultiVarFn first = [fn](const std::vector<Var>& x) {
            if (x[0].requires_grad()) return grad({fn({x[0]})}, {x[0]}, {}, true, true)[0];
            EnableGradGuard enable;  // differences are evaluated without a graph; this needs one
            Var leaf(x[0].value(), true);
            return grad({fn({leaf})}, {leaf})[0].detach();
        };
        auto r = gradcheck(first, {test::random_tensor({4}, DType::f64, 3)});
        EXPECT_TRUE(r.ok) << r.message;
    }
}

// A deliberately wrong rule (off by 1 + 1e-4) must fail both checks: they can fail.
TEST(Gradcheck, CatchesAWrongRule) {
    MultiVarFn wrong_exp = [](const std::vector<Var>& x) {
        OpRules r;
        r.saves_output = true;
        r.vjp = [](const Var& g, const Var& y) {
            return std::vector<Var>{mul(mul(g, y), 1.0 + 1e-4)};
        };
        r.jvp = [](const std::vector<Var>& t, const Var& y) {
            return mul(mul(t[0], y), 1.0 + 1e-4);
        };
        return record_op("wrong_exp", exp(x[0].value()), {x[0]}, r);
    };
    Tensor x = test::random_tensor({3}, DType::f64, 1);
    EXPECT_FALSE(gradcheck(wrong_exp, {x}).ok);
    EXPECT_FALSE(jvpcheck(wrong_exp, {x}).ok);
    MultiVarFn right_exp = [](const std::vector<Var>& v) { return exp(v[0]); };
    EXPECT_TRUE(gradcheck(right_exp, {x}).ok);
}

TEST(Gradcheck, RefusesF32) {
    MultiVarFn f = [](const std::vector<Var>& v) { return exp(v[0]); };
    EXPECT_TRUE(test::throws_error([&] { gradcheck(f, {Tensor::ones({2})}); },
                                   {"gradcheck", "f32", "expected f64"}));
}

TEST(ForwardMode, UnsupportedAndAbsentTangentsAreClear) {
    Var x(vec({1.0, 2.0}));
    EXPECT_FALSE(exp(x).tangent().defined());  // no tangent in, none out
}

}  // namespace
}  // namespace postr
