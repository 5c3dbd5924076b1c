// optim transforms against the nn optimizers they wrap: the same fused kernels, so the same
// gradients must give bit-identical iterates (tolerance 0). And as a known answer: SGD on the
// negated per-datum log-posterior of conjugate Bayesian linear regression converges to the exact
// posterior mean (the MAP).
#include "postr/inference/optim.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/optim/adam.h"
#include "postr/nn/optim/sgd.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

namespace optim = inference::optim;
using inference::Batch;

// A non-quadratic loss of θ [4] and a batch: Σ log(1 + (Xθ − y)²) + ‖θ‖⁴/4.
Var loss(const Var& theta, const Batch& batch) {
    const Var r = sub(matmul(Var(batch.inputs), reshape(theta, {4, 1})), Var(batch.targets));
    return add(sum(log(add(square(r), 1.0))), mul(square(sum(square(theta))), 0.25));
}

Batch batch_at(std::int64_t k) {
    return {test::random_tensor({8, 4}, DType::f64, 100 + static_cast<std::uint64_t>(k)),
            test::random_tensor({8, 1}, DType::f64, 200 + static_cast<std::uint64_t>(k))};
}

Tensor gradient_at(const Tensor& theta, const Batch& b) {
    return grad([&](const Var& t) { return loss(t, b); }, theta);
}

TEST(Optim, SgdEqualsNnSgdStepForStep) {
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    o.nesterov = true;
    optim::Config c;
    c.method = optim::Method::sgd;
    c.sgd = o;
    const auto t = optim::build(loss, c);
    auto s = t.init(test::random_tensor({4}, DType::f64, 1));
    Tensor reference = test::random_tensor({4}, DType::f64, 1);
    nn::Sgd sgd(reference, o);
    for (std::int64_t k = 0; k < 6; ++k) {
        const Batch b = batch_at(k);
        sgd.step(gradient_at(reference, b));
        t.update(s, b);
        EXPECT_TRUE(test::all_close(s.params, reference, 0, 0)) << "step " << k + 1;
    }
    EXPECT_EQ(s.step, 6);
}

TEST(Optim, AdamAndAdamWEqualNnAdamStepForStep) {
    for (const bool decoupled : {false, true}) {
        SCOPED_TRACE(decoupled ? "adamw" : "adam");
        AdamOptions o;
        o.lr = 0.02;
        o.weight_decay = 0.05;
        o.decoupled_weight_decay = decoupled;
        optim::Config c;
        c.method = decoupled ? optim::Method::adamw : optim::Method::adam;
        c.adam = o;
        c.adam.decoupled_weight_decay = !decoupled;  // ignored: the method decides
        const auto t = optim::build(loss, c);
        auto s = t.init(test::random_tensor({4}, DType::f64, 2));
        Tensor reference = test::random_tensor({4}, DType::f64, 2);
        nn::Adam adam(reference, o);
        for (std::int64_t k = 0; k < 6; ++k) {
            const Batch b = batch_at(k);
            const Tensor g = gradient_at(reference, b);
            adam.step(g);
            t.update(s, b);
            EXPECT_TRUE(test::all_close(s.params, reference, 0, 0)) << "step " << k + 1;
        }
    }
}

TEST(Optim, ScheduledLearningRateAndLossRecord) {
    SgdOptions o;
    o.lr = 123.0;  // overridden by the schedule
    optim::Config c;
    c.method = optim::Method::sgd;
    c.sgd = o;
    c.lr_schedule = [](std::int64_t step) { return 0.1 / static_cast<double>(step); };
    const auto t = optim::build(loss, c);
    auto s = t.init(test::random_tensor({4}, DType::f64, 3));
    Tensor reference = test::random_tensor({4}, DType::f64, 3);
    nn::Sgd sgd(reference, SgdOptions{});
    for (std::int64_t k = 1; k <= 4; ++k) {
        const Batch b = batch_at(k);
        const double expected_loss = loss(Var(reference), b).value().item();
        sgd.set_lr(0.1 / static_cast<double>(k));
        sgd.step(gradient_at(reference, b));
        t.update(s, b);
        EXPECT_TRUE(test::all_close(s.params, reference, 0, 0)) << "step " << k;
        EXPECT_DOUBLE_EQ(s.loss.item(), expected_loss);  // the loss before the step
    }
}

TEST(Optim, SgdOnTheNegatedLogPosteriorFindsTheConjugatePosteriorMean) {
    const std::int64_t n = 40, d = 3;
    const double sigma = 0.6, lambda = 2.0;
    nn::Linear model(d, 1, false);
    model.finalize(0, DType::f64);
    const Tensor x = test::random_tensor({n, d}, DType::f64, 8);
    const Tensor y = test::random_tensor({n, 1}, DType::f64, 9);
    const Tensor precision =
        add(mul(matmul(x.t(), x), 1.0 / (sigma * sigma)), mul(eye(d, DType::f64), lambda));
    const Tensor exact =
        cholesky_solve(mul(matmul(x.t(), y), 1.0 / (sigma * sigma)), cholesky(precision)).view({d});
    // The per-datum objective has Hessian P/N; lr = N / trace(P) ≤ 1/λ_max converges, at a
    // rate ≥ λ_min/trace per step, below 1e-12 in 3000 steps for this conditioning.
    optim::Config c;
    c.method = optim::Method::sgd;
    c.sgd.lr = static_cast<double>(n) / sum(precision.as_strided({d}, {d + 1}, 0)).item();
    const auto t = optim::build(optim::negated(inference::model_log_posterior(
                                    model, nn::Likelihood::gaussian(sigma), lambda, n)),
                                c);
    auto s = t.init(model.parameters().theta());
    EXPECT_TRUE(s.params.shares_storage_with(model.parameters().theta()));
    for (int k = 0; k < 3000; ++k) t.update(s, Batch{x, y});
    EXPECT_TRUE(test::all_close(model.parameters().theta(), exact, 1e-9, 1e-12));
}

TEST(Optim, ErrorsSayWhatToDo) {
    optim::Config c;
    c.method = optim::Method::sgd;
    c.sgd.lr = -1;
    EXPECT_TRUE(test::throws_error([&] { optim::build(loss, c); }, {"optim::Transform", "lr"}));
    c.sgd.lr = 0.1;
    c.lr_schedule = [](std::int64_t) { return std::numeric_limits<double>::quiet_NaN(); };
    const auto t = optim::build(loss, c);
    auto s = t.init(Tensor::zeros({4}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { t.update(s, batch_at(0)); },
                                   {"optim::update", "lr_schedule(1)", "Fix the schedule"}));
    const auto vector_loss = optim::build(
        [](const Var& theta, const Batch&) { return mul(theta, 2.0); }, optim::Config{});
    auto s2 = vector_loss.init(Tensor::zeros({4}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { vector_loss.update(s2, batch_at(0)); },
                                   {"optim::update", "one element"}));
    // A divergent step names the step.
    optim::Config big;
    big.method = optim::Method::sgd;
    big.sgd.lr = 1e308;
    const auto blow = optim::build(loss, big);
    auto s3 = blow.init(Tensor::full({4}, 10.0, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { blow.update(s3, batch_at(0)); },
                                   {"optim::update", "non-finite at step 1"}));
}

}  // namespace
}  // namespace postr
