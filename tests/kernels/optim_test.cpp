// Optimizer steps (sgd_step_, adam_step_) on the CPU against naive f64 loops of PyTorch's rules
// written out here: several steps, every option combination, f32 and f64, contiguous and strided
// layouts, the multi-chunk parallel path, and the error messages.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

constexpr int kSteps = 5;

// f64 kernels run the same formula in the same precision; they differ from the reference only
// where a coefficient is precomputed (1 − dampening, lr/(1 − β1^t)): a few ulp per step.
// f32 kernels round every operation to float; over 5 steps of O(1) values that is a few dozen
// float ulp at most, so 20× the one-op tolerance.
double rtol_for(DType t) { return t == DType::f32 ? 20 * test::kRtolF32 : 1e-12; }
double atol_for(DType t) { return t == DType::f32 ? 20 * test::kAtolF32 : 1e-13; }

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype) {
    return Tensor::from_vector(v, shape).to(dtype);
}

// torch.optim.SGD on host vectors, in f64.
struct SgdReference {
    std::vector<double> p, buf;
    bool has_buf = false;
    void step(const std::vector<double>& grad, const SgdOptions& o) {
        if (o.momentum != 0 && !has_buf) buf.assign(p.size(), 0.0);
        for (std::size_t i = 0; i < p.size(); ++i) {
            double g = grad[i] + o.weight_decay * p[i];
            if (o.momentum != 0) {
                buf[i] = has_buf ? o.momentum * buf[i] + (1 - o.dampening) * g : g;
                g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
            }
            p[i] -= o.lr * g;
        }
        has_buf = has_buf || o.momentum != 0;
    }
};

// torch.optim.Adam / AdamW on host vectors, in f64, as the textbook formula.
struct AdamReference {
    std::vector<double> p, m, v;
    std::int64_t t = 0;
    void step(const std::vector<double>& grad, const AdamOptions& o) {
        ++t;
        for (std::size_t i = 0; i < p.size(); ++i) {
            double g = grad[i];
            if (o.decoupled_weight_decay) {
                p[i] *= 1 - o.lr * o.weight_decay;
            } else {
                g += o.weight_decay * p[i];
            }
            m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
            v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
            const double m_hat = m[i] / (1 - std::pow(o.beta1, static_cast<double>(t)));
            const double v_hat = v[i] / (1 - std::pow(o.beta2, static_cast<double>(t)));
            p[i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
        }
    }
};

std::string describe(const SgdOptions& o) {
    return "lr " + std::to_string(o.lr) + ", momentum " + std::to_string(o.momentum) +
           ", dampening " + std::to_string(o.dampening) + ", weight_decay " +
           std::to_string(o.weight_decay) + ", nesterov " + std::to_string(o.nesterov);
}

std::vector<SgdOptions> sgd_cases() {
    std::vector<SgdOptions> cases;
    for (double momentum : {0.0, 0.9})
        for (double dampening : {0.0, 0.3})
            for (double weight_decay : {0.0, 0.05})
                for (bool nesterov : {false, true}) {
                    if (nesterov && (momentum == 0 || dampening != 0)) continue;
                    cases.push_back({0.1, momentum, dampening, weight_decay, nesterov});
                }
    return cases;
}

std::vector<AdamOptions> adam_cases() {
    std::vector<AdamOptions> cases;
    for (bool decoupled : {false, true})
        for (double weight_decay : {0.0, 0.1})
            cases.push_back({0.01, 0.9, 0.999, 1e-8, weight_decay, decoupled});
    cases.push_back({0.05, 0.5, 0.9, 1e-3, 0.02, false});
    return cases;
}

// Runs kSteps SGD steps through sgd_step_ and the reference, every tensor in the layout under
// test (contiguous, or a strided view of a larger buffer).
void check_sgd(const SgdOptions& o, DType dtype, const Shape& shape, bool strided) {
    SCOPED_TRACE(describe(o) + (dtype == DType::f32 ? ", f32" : ", f64") +
                 (strided ? ", strided" : ", contiguous") + ", shape " + to_string(shape));
    auto layout = [&](const Tensor& t) { return strided ? test::strided_copy(t) : t; };
    Tensor param = layout(test::random_tensor(shape, dtype, 1));
    Tensor buf = o.momentum != 0 ? layout(Tensor::zeros(shape, dtype)) : Tensor();
    SgdReference ref{param.to_vector<double>(), {}, false};
    for (int s = 0; s < kSteps; ++s) {
        const Tensor grad = layout(test::random_tensor(shape, dtype, 100 + s));
        sgd_step_(param, grad, buf, o, s == 0);
        ref.step(grad.to_vector<double>(), o);
    }
    EXPECT_TRUE(
        test::all_close(param, values(ref.p, shape, dtype), rtol_for(dtype), atol_for(dtype)));
    if (o.momentum != 0) {
        EXPECT_TRUE(
            test::all_close(buf, values(ref.buf, shape, dtype), rtol_for(dtype), atol_for(dtype)));
    }
}

void check_adam(const AdamOptions& o, DType dtype, const Shape& shape, bool strided) {
    SCOPED_TRACE("lr " + std::to_string(o.lr) + ", weight_decay " + std::to_string(o.weight_decay) +
                 ", decoupled " + std::to_string(o.decoupled_weight_decay) +
                 (dtype == DType::f32 ? ", f32" : ", f64") + (strided ? ", strided" : ""));
    auto layout = [&](const Tensor& t) { return strided ? test::strided_copy(t) : t; };
    Tensor param = layout(test::random_tensor(shape, dtype, 2));
    Tensor m = layout(Tensor::zeros(shape, dtype)), v = layout(Tensor::zeros(shape, dtype));
    const std::size_t n = static_cast<std::size_t>(param.numel());
    AdamReference ref{param.to_vector<double>(), std::vector<double>(n), std::vector<double>(n)};
    for (int s = 0; s < kSteps; ++s) {
        const Tensor grad = layout(test::random_tensor(shape, dtype, 200 + s));
        adam_step_(param, grad, m, v, s + 1, o);
        ref.step(grad.to_vector<double>(), o);
    }
    const double rtol = rtol_for(dtype), atol = atol_for(dtype);
    EXPECT_TRUE(test::all_close(param, values(ref.p, shape, dtype), rtol, atol));
    EXPECT_TRUE(test::all_close(m, values(ref.m, shape, dtype), rtol, atol));
    EXPECT_TRUE(test::all_close(v, values(ref.v, shape, dtype), rtol, atol));
}

TEST(SgdStep, MatchesReferenceForEveryOptionCombination) {
    for (const SgdOptions& o : sgd_cases())
        for (DType dtype : {DType::f32, DType::f64}) check_sgd(o, dtype, {37, 5}, false);
}

TEST(SgdStep, AcceptsStridedLayouts) {
    for (const SgdOptions& o : sgd_cases()) check_sgd(o, DType::f64, {23, 3}, true);
}

TEST(SgdStep, MatchesReferenceAcrossParallelChunks) {
    check_sgd({0.05, 0.9, 0.0, 1e-3, true}, DType::f32, {100003}, false);
}

TEST(SgdStep, FirstStepSetsBufferToDecayedGradient) {
    // PyTorch's first step ignores dampening: buf ← grad + wd·p, whatever buf held before.
    Tensor param = values({1.0, -2.0}, {2}, DType::f64);
    Tensor buf = values({7.0, 7.0}, {2}, DType::f64);
    sgd_step_(param, values({0.5, 0.25}, {2}, DType::f64), buf, {0.1, 0.9, 0.5, 0.1, false}, true);
    EXPECT_TRUE(test::all_close(buf, values({0.6, 0.05}, {2}, DType::f64), 1e-15, 1e-15));
    EXPECT_TRUE(test::all_close(param, values({0.94, -2.005}, {2}, DType::f64), 1e-15, 1e-15));
}

TEST(SgdStep, WithoutMomentumNeedsNoBuffer) {
    Tensor param = values({1.0, 2.0}, {2}, DType::f32);
    Tensor none;
    sgd_step_(param, values({1.0, -1.0}, {2}, DType::f32), none, {0.5}, true);
    EXPECT_TRUE(test::all_close(param, values({0.5, 2.5}, {2}, DType::f32), 0, 0));
    EXPECT_FALSE(none.defined());
}

TEST(SgdStep, EmptyIsANoOp) {
    Tensor param = Tensor::zeros({0}, DType::f32), buf = Tensor::zeros({0}, DType::f32);
    sgd_step_(param, Tensor::zeros({0}, DType::f32), buf, {0.1, 0.9}, true);
    EXPECT_EQ(param.numel(), 0);
}

TEST(AdamStep, MatchesReferenceForAdamAndAdamW) {
    for (const AdamOptions& o : adam_cases())
        for (DType dtype : {DType::f32, DType::f64}) check_adam(o, dtype, {41, 3}, false);
}

TEST(AdamStep, AcceptsStridedLayouts) {
    for (const AdamOptions& o : adam_cases()) check_adam(o, DType::f64, {19, 2}, true);
}

TEST(AdamStep, MatchesReferenceAcrossParallelChunks) {
    check_adam({1e-3, 0.9, 0.999, 1e-8, 1e-2, true}, DType::f32, {70001}, false);
}

TEST(AdamStep, FirstStepMovesEachParameterByAboutLr) {
    // At t = 1, m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
    Tensor param = values({0.0, 0.0}, {2}, DType::f64);
    Tensor m = Tensor::zeros({2}, DType::f64), v = Tensor::zeros({2}, DType::f64);
    adam_step_(param, values({3.0, -0.5}, {2}, DType::f64), m, v, 1, {0.01, 0.9, 0.999, 0.0});
    EXPECT_TRUE(test::all_close(param, values({-0.01, 0.01}, {2}, DType::f64), 1e-12, 0));
}

TEST(SgdStep, RejectsMismatchedArguments) {
    Tensor param = Tensor::zeros({2, 3}, DType::f32), buf = Tensor::zeros({2, 3}, DType::f32);
    const SgdOptions o{0.1, 0.9};
    EXPECT_TRUE(test::throws_error(
        [&] {
            sgd_step_(param, Tensor::zeros({3, 2}, DType::f32), buf, o, true);
        },
        {"sgd_step_", "shapes differ", "[2, 3]", "[3, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            sgd_step_(param, Tensor::zeros({2, 3}, DType::f64), buf, o, true);
        },
        {"sgd_step_", "dtypes differ", "f32", "f64"}));
    Tensor wrong_buf = Tensor::zeros({6}, DType::f32);
    EXPECT_TRUE(test::throws_error(
        [&] {
            sgd_step_(param, Tensor::zeros({2, 3}, DType::f32), wrong_buf, o, true);
        },
        {"sgd_step_", "momentum_buffer", "[2, 3]", "[6]"}));
    Tensor none;
    EXPECT_TRUE(test::throws_error(
        [&] {
            sgd_step_(param, Tensor::zeros({2, 3}, DType::f32), none, o, true);
        },
        {"sgd_step_", "momentum_buffer is undefined", "0.9", "[2, 3]"}));
    Tensor ints = Tensor::zeros({2, 3}, DType::i64);
    EXPECT_TRUE(test::throws_error([&] { sgd_step_(ints, ints, ints, o, true); },
                                   {"sgd_step_", "param", "i64"}));
    Tensor broadcast = Tensor::zeros({1}, DType::f32).expand({4});
    EXPECT_TRUE(test::throws_error(
        [&] { sgd_step_(broadcast, Tensor::zeros({4}, DType::f32), none, {0.1}, true); },
        {"sgd_step_", "param", "share memory", "[4]"}));
}

TEST(SgdStep, RejectsInvalidOptions) {
    Tensor param = Tensor::zeros({3}, DType::f64), buf = Tensor::zeros({3}, DType::f64);
    const Tensor grad = Tensor::zeros({3}, DType::f64);
    auto run = [&](SgdOptions o) { return [&, o] { sgd_step_(param, grad, buf, o, true); }; };
    EXPECT_TRUE(test::throws_error(run({-0.1}), {"sgd_step_", "lr", "-0.1"}));
    EXPECT_TRUE(test::throws_error(run({0.1, -0.5}), {"sgd_step_", "momentum", "-0.5"}));
    EXPECT_TRUE(test::throws_error(run({0.1, 0.9, 0.0, -1.0}), {"sgd_step_", "weight_decay"}));
    EXPECT_TRUE(test::throws_error(run({0.1, 0.0, 0.0, 0.0, true}), {"sgd_step_", "nesterov"}));
    EXPECT_TRUE(
        test::throws_error(run({0.1, 0.9, 0.1, 0.0, true}), {"sgd_step_", "nesterov", "0.1"}));
}

TEST(AdamStep, RejectsMismatchedArgumentsAndInvalidOptions) {
    Tensor param = Tensor::zeros({4}, DType::f32), m = Tensor::zeros({4}, DType::f32),
           v = Tensor::zeros({4}, DType::f32);
    const Tensor grad = Tensor::zeros({4}, DType::f32);
    Tensor m64 = Tensor::zeros({4}, DType::f64), short_v = Tensor::zeros({3}, DType::f32);
    EXPECT_TRUE(test::throws_error([&] { adam_step_(param, grad, m64, v, 1, {}); },
                                   {"adam_step_", "exp_avg", "f32", "f64"}));
    EXPECT_TRUE(test::throws_error([&] { adam_step_(param, grad, m, short_v, 1, {}); },
                                   {"adam_step_", "exp_avg_sq", "[4]", "[3]"}));
    EXPECT_TRUE(test::throws_error([&] { adam_step_(param, grad, m, v, 0, {}); },
                                   {"adam_step_", "step", "0"}));
    auto run = [&](AdamOptions o) { return [&, o] { adam_step_(param, grad, m, v, 1, o); }; };
    EXPECT_TRUE(test::throws_error(run({-1e-3}), {"adam_step_", "lr", "-0.001"}));
    EXPECT_TRUE(test::throws_error(run({1e-3, 1.0}), {"adam_step_", "beta1", "[0, 1)", "1"}));
    EXPECT_TRUE(test::throws_error(run({1e-3, -0.1}), {"adam_step_", "beta1", "-0.1"}));
    EXPECT_TRUE(
        test::throws_error(run({1e-3, 0.9, 1.5}), {"adam_step_", "beta2", "[0, 1)", "1.5"}));
    EXPECT_TRUE(test::throws_error(run({1e-3, 0.9, 0.999, -1.0}), {"adam_step_", "eps", "-1"}));
    EXPECT_TRUE(test::throws_error(run({1e-3, 0.9, 0.999, 1e-8, -0.1}),
                                   {"adam_step_", "weight_decay", "-0.1"}));
}

}  // namespace
}  // namespace postr
