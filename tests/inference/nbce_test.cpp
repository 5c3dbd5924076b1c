// NBCE pooling: a small case computed by hand on the host, the minimum-entropy selection, β = 0
// as plain mean pooling, invariance to per-row constants, and input validation.
//
// Tolerance 1e-12 in f64: every result is a log_softmax of a few O(1) terms over V ≤ 5, whose
// rounding is a few ulp of numbers of size ≤ 10 (~1e-15).
#include "postr/inference/nbce.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::nbce::Config;
using inference::nbce::Pooling;

std::vector<double> host_log_softmax(std::vector<double> s) {
    double m = s[0];
    for (double v : s) m = std::max(m, v);
    double z = 0.0;
    for (double v : s) z += std::exp(v - m);
    for (double& v : s) v = v - m - std::log(z);
    return s;
}

std::vector<double> logs(const std::vector<double>& p) {
    std::vector<double> out;
    for (double v : p) out.push_back(std::log(v));
    return out;
}

// B = 1, n = 2, V = 3: log p(T|S_1), log p(T|S_2), log p(T).
const std::vector<double> kP1 = {0.7, 0.2, 0.1}, kP2 = {0.3, 0.3, 0.4}, kPu = {0.5, 0.25, 0.25};

Tensor contexts_1x2x3() {
    std::vector<double> v = logs(kP1);
    for (double x : logs(kP2)) v.push_back(x);
    return Tensor::from_vector(v, {1, 2, 3});
}
Tensor unconditional_1x3() { return Tensor::from_vector(logs(kPu), {1, 3}); }

TEST(Nbce, MeanPoolingMatchesHandComputedCase) {
    const double beta = 0.25;
    std::vector<double> scores(3);
    for (int v = 0; v < 3; ++v)
        scores[v] =
            (beta + 1.0) * 0.5 * (std::log(kP1[v]) + std::log(kP2[v])) - beta * std::log(kPu[v]);
    const Tensor expected = Tensor::from_vector(host_log_softmax(scores), {1, 3});
    const Tensor got = inference::nbce::pool(contexts_1x2x3(), unconditional_1x3());
    EXPECT_TRUE(test::all_close(got, expected, 1e-12, 1e-12));
    EXPECT_NEAR(logsumexp(got, {-1}).item(), 0.0, 1e-14);
    // The normalisation check accepts these normalised rows and gives the same answer.
    Config strict;
    strict.normalise_inputs = false;
    EXPECT_TRUE(
        test::all_close(inference::nbce::pool(contexts_1x2x3(), unconditional_1x3(), strict),
                        expected, 1e-12, 1e-12));
    // β = 1, by hand: 2·mean − log p(T).
    for (int v = 0; v < 3; ++v)
        scores[v] = (std::log(kP1[v]) + std::log(kP2[v])) - std::log(kPu[v]);
    EXPECT_TRUE(
        test::all_close(inference::nbce::pool(contexts_1x2x3(), unconditional_1x3(), {.beta = 1.0}),
                        Tensor::from_vector(host_log_softmax(scores), {1, 3}), 1e-12, 1e-12));
}

TEST(Nbce, MinEntropyPicksTheMostConfidentContextPerBatchElement) {
    // B = 2, n = 3, V = 4. Element 0: context 2 is the sharpest; element 1: context 0.
    const std::vector<std::vector<double>> p = {
        {0.25, 0.25, 0.25, 0.25}, {0.4, 0.3, 0.2, 0.1}, {0.01, 0.01, 0.97, 0.01},   // b = 0
        {0.9, 0.05, 0.03, 0.02},  {0.3, 0.3, 0.2, 0.2}, {0.25, 0.25, 0.25, 0.25}};  // b = 1
    const std::vector<double> pu = {0.1, 0.2, 0.3, 0.4};
    std::vector<double> flat, uflat;
    for (const auto& row : p)
        for (double x : logs(row)) flat.push_back(x);
    for (int b = 0; b < 2; ++b)
        for (double x : logs(pu)) uflat.push_back(x);
    const Tensor ctx = Tensor::from_vector(flat, {2, 3, 4});
    const Tensor unc = Tensor::from_vector(uflat, {2, 4});

    // Entropies by hand, and the argmin.
    const std::vector<double> h = inference::nbce::context_entropies(ctx).to_vector<double>();
    for (std::size_t i = 0; i < p.size(); ++i) {
        double e = 0.0;
        for (double x : p[i]) e -= x * std::log(x);
        EXPECT_NEAR(h[i], e, 1e-12) << "context " << i;
    }
    const double beta = 0.25;
    std::vector<double> expected;
    for (int b = 0; b < 2; ++b) {
        const auto& chosen = p[b == 0 ? 2 : 3];
        std::vector<double> s(4);
        for (int v = 0; v < 4; ++v)
            s[v] = (beta + 1.0) * std::log(chosen[v]) - beta * std::log(pu[v]);
        for (double x : host_log_softmax(s)) expected.push_back(x);
    }
    const Tensor got = inference::nbce::pool(ctx, unc, {.pooling = Pooling::min_entropy});
    EXPECT_TRUE(test::all_close(got, Tensor::from_vector(expected, {2, 4}), 1e-12, 1e-12));
    // And it differs from mean pooling (so the selection is what is being tested).
    EXPECT_FALSE(test::all_close(inference::nbce::pool(ctx, unc), got, 1e-3, 1e-3));
}

TEST(Nbce, BetaZeroIsRenormalisedMeanOfLogProbabilities) {
    const Tensor ctx = log_softmax(test::random_tensor({3, 4, 5}, DType::f64, 2, -3.0, 3.0), -1);
    const Tensor unc = log_softmax(test::random_tensor({3, 5}, DType::f64, 3, -3.0, 3.0), -1);
    const Tensor got = inference::nbce::pool(ctx, unc, {.beta = 0.0});
    EXPECT_TRUE(test::all_close(got, log_softmax(mean(ctx, {1}), -1), 1e-12, 1e-12));
    // With β = 0 the context-free prediction plays no part.
    const Tensor other = log_softmax(test::random_tensor({3, 5}, DType::f64, 4, -3.0, 3.0), -1);
    EXPECT_TRUE(
        test::all_close(inference::nbce::pool(ctx, other, {.beta = 0.0}), got, 1e-12, 1e-12));
}

TEST(Nbce, InvariantToAddingAConstantPerRow) {
    const Tensor ctx = log_softmax(test::random_tensor({2, 3, 6}, DType::f64, 5, -2.0, 2.0), -1);
    const Tensor unc = log_softmax(test::random_tensor({2, 6}, DType::f64, 6, -2.0, 2.0), -1);
    // Different constants for every (b, k) row and every b of the context-free rows: logits.
    const Tensor shift_ctx = test::random_tensor({2, 3, 1}, DType::f64, 7, -50.0, 50.0);
    const Tensor shift_unc = test::random_tensor({2, 1}, DType::f64, 8, -50.0, 50.0);
    for (Pooling pooling : {Pooling::mean, Pooling::min_entropy}) {
        const Tensor base = inference::nbce::pool(ctx, unc, {.pooling = pooling});
        // Shifts of ±50 cost a few ulp(50) ≈ 1e-14 in the renormalisation.
        EXPECT_TRUE(test::all_close(
            inference::nbce::pool(add(ctx, shift_ctx), add(unc, shift_unc), {.pooling = pooling}),
            base, 1e-12, 1e-12));
    }
}

TEST(Nbce, Float32) {
    const Tensor ctx = log_softmax(test::random_tensor({2, 3, 7}, DType::f64, 9, -2.0, 2.0), -1);
    const Tensor unc = log_softmax(test::random_tensor({2, 7}, DType::f64, 10, -2.0, 2.0), -1);
    for (Pooling pooling : {Pooling::mean, Pooling::min_entropy}) {
        const Tensor got =
            inference::nbce::pool(ctx.to(DType::f32), unc.to(DType::f32), {.pooling = pooling});
        EXPECT_EQ(got.dtype(), DType::f32);
        // f32 rounding of O(1) log-probabilities: ~1e-6.
        EXPECT_TRUE(test::all_close(
            got.to(DType::f64), inference::nbce::pool(ctx, unc, {.pooling = pooling}), 1e-5, 1e-5));
    }
}

TEST(Nbce, BadInputsThrow) {
    const Tensor ctx = contexts_1x2x3(), unc = unconditional_1x3();
    using inference::nbce::pool;
    EXPECT_TRUE(test::throws_error([&] { pool(unc, unc); }, {"nbce::pool", "context_log_probs"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            pool(ctx, Tensor::zeros({1, 4}, DType::f64));
        },
        {"nbce::pool", "[1, 4]", "[1, 2, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            pool(ctx, Tensor::zeros({2, 3}, DType::f64));
        },
        {"nbce::pool", "[2, 3]"}));
    EXPECT_TRUE(test::throws_error([&] { pool(ctx, unc.to(DType::f32)); }, {"nbce::pool"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            pool(Tensor::zeros({1, 0, 3}, DType::f64), unc);
        },
        {"nbce::pool", "empty"}));
    EXPECT_TRUE(test::throws_error([&] { pool(ctx, unc, {.beta = NAN}); },
                                   {"nbce::pool", "beta must be finite"}));
    Tensor with_inf = ctx.clone();
    with_inf.fill_(-INFINITY);
    EXPECT_TRUE(test::throws_error([&] { pool(with_inf, unc); }, {"nbce::pool", "non-finite"}));
    Config strict;
    strict.normalise_inputs = false;
    EXPECT_TRUE(test::throws_error([&] { pool(add(ctx, 0.01), unc, strict); },
                                   {"nbce::pool", "not a normalised log-distribution"}));
    EXPECT_TRUE(test::throws_error([&] { pool(ctx, add(unc, -1.0), strict); },
                                   {"nbce::pool", "unconditional_log_probs"}));
}

}  // namespace
}  // namespace postr
