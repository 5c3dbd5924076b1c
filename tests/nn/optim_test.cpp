// nn/optim: Sgd and Adam minimize a convex quadratic, schedules match PyTorch's closed forms,
// and saved state reproduces the following steps exactly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/optim/adam.h"
#include "postr/nn/optim/lr_schedule.h"
#include "postr/nn/optim/sgd.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

constexpr std::int64_t kD = 8;

// f(θ) = ½(θ − c)ᵀA(θ − c) with A = BᵀB/D + ½I (SPD, condition number about 10) and c random.
struct Quadratic {
    std::vector<double> a, c;
    Quadratic() : a(kD * kD), c(test::random_tensor({kD}, DType::f64, 7).to_vector<double>()) {
        const std::vector<double> b =
            test::random_tensor({kD, kD}, DType::f64, 8).to_vector<double>();
        for (std::int64_t i = 0; i < kD; ++i)
            for (std::int64_t j = 0; j < kD; ++j) {
                double s = i == j ? 0.5 : 0.0;
                for (std::int64_t k = 0; k < kD; ++k) s += b[k * kD + i] * b[k * kD + j] / kD;
                a[i * kD + j] = s;
            }
    }
    // ∇f(θ) = A(θ − c), in θ's dtype.
    Tensor grad(const Tensor& theta) const {
        const std::vector<double> t = theta.to_vector<double>();
        std::vector<double> g(kD, 0.0);
        for (std::int64_t i = 0; i < kD; ++i)
            for (std::int64_t j = 0; j < kD; ++j) g[i] += a[i * kD + j] * (t[j] - c[j]);
        return Tensor::from_vector(g, {kD}).to(theta.dtype());
    }
    double max_error(const Tensor& theta) const {
        const std::vector<double> t = theta.to_vector<double>();
        double e = 0;
        for (std::int64_t i = 0; i < kD; ++i) e = std::max(e, std::fabs(t[i] - c[i]));
        return e;
    }
};

TEST(Sgd, MomentumMinimizesQuadratic) {
    const Quadratic f;
    Tensor theta = Tensor::zeros({kD}, DType::f64);
    nn::Sgd sgd(theta, {0.1, 0.9});
    for (int s = 0; s < 600; ++s) sgd.step(f.grad(theta));
    EXPECT_LT(f.max_error(theta), 1e-6);  // theta shares storage with the optimizer's params
    EXPECT_EQ(sgd.step_count(), 600);
}

TEST(Sgd, NesterovMinimizesQuadratic) {
    const Quadratic f;
    Tensor theta = Tensor::zeros({kD}, DType::f64);
    nn::Sgd sgd(theta, {0.1, 0.9, 0.0, 0.0, true});
    for (int s = 0; s < 600; ++s) sgd.step(f.grad(theta));
    EXPECT_LT(f.max_error(theta), 1e-6);
}

TEST(Adam, MinimizesQuadraticWithDecayingLr) {
    // With a constant lr Adam hovers about lr away from the minimum (its step does not shrink
    // with the gradient), so the lr decays: 0.05·0.5^⌊t/250⌋.
    const Quadratic f;
    Tensor theta = Tensor::zeros({kD}, DType::f64);
    nn::Adam adam(theta, {0.05});
    const nn::StepLR schedule(0.05, 250, 0.5);
    for (int s = 0; s < 4000; ++s) {
        adam.set_lr(schedule(s));
        adam.step(f.grad(theta));
    }
    EXPECT_LT(f.max_error(theta), 1e-6);
}

TEST(Adam, AdamwFactorySetsDecoupledDecay) {
    const nn::Adam adamw =
        nn::Adam::adamw(Tensor::zeros({3}, DType::f32), {1e-3, 0.9, 0.999, 1e-8, 0.01});
    EXPECT_TRUE(adamw.options().decoupled_weight_decay);
    EXPECT_EQ(adamw.options().weight_decay, 0.01);
}

TEST(Sgd, MomentumBufferIsAllocatedLazily) {
    nn::Sgd sgd(Tensor::zeros({4}, DType::f32), {0.1, 0.9});
    EXPECT_EQ(sgd.state().size(), 1u);
    sgd.step(Tensor::ones({4}, DType::f32));
    ASSERT_EQ(sgd.state().size(), 2u);
    EXPECT_EQ(sgd.state()[1].first, "momentum_buffer");
    EXPECT_TRUE(test::all_close(sgd.state()[1].second, Tensor::ones({4}, DType::f32), 0, 0));
    nn::Sgd plain(Tensor::zeros({4}, DType::f32), {0.1});
    plain.step(Tensor::ones({4}, DType::f32));
    EXPECT_EQ(plain.state().size(), 1u);
}

TEST(Sgd, RejectedGradientLeavesStateUnchanged) {
    nn::Sgd sgd(Tensor::zeros({4}, DType::f32), {0.1, 0.9});
    EXPECT_TRUE(test::throws_error([&] { sgd.step(Tensor::ones({5}, DType::f32)); },
                                   {"sgd_step_", "[4]", "[5]"}));
    EXPECT_EQ(sgd.step_count(), 0);
    EXPECT_EQ(sgd.state().size(), 1u);
}

// Runs `steps` steps of opt on the quadratic's gradient at its params.
template <class Opt>
void run(Opt& opt, const Quadratic& f, int steps) {
    for (int s = 0; s < steps; ++s) opt.step(f.grad(opt.params()));
}

TEST(Sgd, StateRoundTripReproducesSteps) {
    const Quadratic f;
    const SgdOptions options{0.05, 0.8, 0.1, 0.01};
    nn::Sgd a(Tensor::zeros({kD}, DType::f32), options);
    run(a, f, 3);
    nn::Sgd b(a.params().clone(), options);
    b.load_state(a.state());
    EXPECT_EQ(b.step_count(), 3);
    run(a, f, 4);
    run(b, f, 4);
    EXPECT_TRUE(test::all_close(b.params(), a.params(), 0, 0));
}

TEST(Adam, StateRoundTripReproducesSteps) {
    const Quadratic f;
    const AdamOptions options{0.01, 0.9, 0.99, 1e-8, 0.01, true};
    nn::Adam a(Tensor::zeros({kD}, DType::f64), options);
    run(a, f, 5);
    const nn::OptimizerState saved = a.state();
    nn::Adam b(a.params().clone(), options);
    b.load_state(saved);
    run(a, f, 5);
    run(b, f, 5);
    EXPECT_TRUE(test::all_close(b.params(), a.params(), 0, 0));
    EXPECT_EQ(b.step_count(), 10);
    // state() returns copies: the snapshot did not move with the optimizer.
    EXPECT_EQ(saved[0].second.item(), 5.0);
}

TEST(Adam, LoadStateRejectsBadEntries) {
    nn::Adam adam(Tensor::zeros({3}, DType::f32));
    nn::OptimizerState state = adam.state();
    state.emplace_back("momentum", Tensor::zeros({3}, DType::f32));
    EXPECT_TRUE(test::throws_error([&] { adam.load_state(state); },
                                   {"Adam::load_state", "unknown name", "momentum"}));
    state = adam.state();
    state[1].second = Tensor::zeros({4}, DType::f32);
    EXPECT_TRUE(test::throws_error([&] { adam.load_state(state); },
                                   {"Adam::load_state", "exp_avg", "[4]", "[3]"}));
    state = adam.state();
    state.erase(state.begin());
    EXPECT_TRUE(test::throws_error([&] { adam.load_state(state); }, {"Adam::load_state", "step"}));
}

TEST(Optimizers, RejectInvalidOptions) {
    EXPECT_TRUE(test::throws_error([] { nn::Sgd(Tensor::zeros({2}, DType::f32), {-1.0}); },
                                   {"Sgd", "lr", "-1"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            nn::Adam(Tensor::zeros({2}, DType::f32), {1e-3, 1.0});
        },
        {"Adam", "beta1", "1"}));
    EXPECT_TRUE(test::throws_error([] { nn::Sgd(Tensor::zeros({2}, DType::i64)); },
                                   {"Sgd", "params", "i64"}));
    nn::Sgd sgd(Tensor::zeros({2}, DType::f32));
    EXPECT_TRUE(test::throws_error([&] { sgd.set_lr(-0.5); }, {"Sgd::set_lr", "lr", "-0.5"}));
    EXPECT_EQ(sgd.lr(), 0.01);
    sgd.set_lr(0.5);
    EXPECT_EQ(sgd.lr(), 0.5);
}

TEST(LrSchedule, StepLRMatchesClosedForm) {
    const nn::StepLR s(0.1, 3, 0.5);
    for (std::int64_t t : {0, 1, 2, 3, 5, 6, 10, 100})
        EXPECT_DOUBLE_EQ(s(t), 0.1 * std::pow(0.5, static_cast<double>(t / 3))) << "t = " << t;
    EXPECT_DOUBLE_EQ(s(2), 0.1);
    EXPECT_DOUBLE_EQ(s(3), 0.05);
    EXPECT_DOUBLE_EQ(s(9), 0.0125);
}

TEST(LrSchedule, CosineAnnealingMatchesClosedForm) {
    const nn::CosineAnnealing s(1.0, 10, 0.1);
    EXPECT_DOUBLE_EQ(s(0), 1.0);
    EXPECT_DOUBLE_EQ(s(5), 0.55);
    EXPECT_DOUBLE_EQ(s(10), 0.1);
    EXPECT_DOUBLE_EQ(s(15), 0.55);  // PyTorch's closed form continues the cosine past t_max
    for (std::int64_t t : {1, 3, 7, 9})
        EXPECT_DOUBLE_EQ(s(t), 0.1 + 0.9 * (1 + std::cos(std::numbers::pi * t / 10.0)) / 2)
            << "t = " << t;
}

TEST(LrSchedule, LinearWarmupThenSchedule) {
    const nn::LinearWarmup s(4, 0.25, nn::CosineAnnealing(0.2, 8));
    EXPECT_DOUBLE_EQ(s(0), 0.05);
    EXPECT_DOUBLE_EQ(s(2), 0.2 * (0.25 + 0.75 * 0.5));
    EXPECT_DOUBLE_EQ(s(4), 0.2);
    EXPECT_DOUBLE_EQ(s(8), 0.1);
    EXPECT_DOUBLE_EQ(s(12), 0.0);
}

TEST(LrSchedule, RejectsInvalidArguments) {
    EXPECT_TRUE(test::throws_error([] { nn::StepLR(0.1, 0); }, {"StepLR", "step_size", "0"}));
    EXPECT_TRUE(test::throws_error([] { nn::StepLR(-0.1, 2); }, {"StepLR", "base_lr", "-0.1"}));
    EXPECT_TRUE(
        test::throws_error([] { nn::CosineAnnealing(0.1, 0); }, {"CosineAnnealing", "t_max"}));
    EXPECT_TRUE(test::throws_error([] { nn::StepLR(0.1, 2)(-1); }, {"StepLR", "negative", "-1"}));
    EXPECT_TRUE(test::throws_error([] { nn::LinearWarmup(3, 0.0, nn::StepLR(0.1, 2)); },
                                   {"LinearWarmup", "start_factor", "0"}));
}

}  // namespace
}  // namespace postr
