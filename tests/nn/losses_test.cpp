// Losses against hand-computed values, their gradients by gradcheck, and their errors.
#include "postr/nn/losses.h"

#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/gradcheck.h"
#include "postr/autodiff/ops.h"

#include "tests/support/test_support.h"

namespace postr::nn {
namespace {

using test::random_tensor;

TEST(CrossEntropy, MatchesHandComputed) {
    // Row 0: logits [0, 0] → −log ½; row 1: [ln 3, 0], label 0 → −log ¾.
    Tensor logits = Tensor::from_vector(std::vector<double>{0, 0, std::log(3.0), 0}, {2, 2});
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{1, 0}, {2});
    const double expected = std::log(2.0) + std::log(4.0 / 3.0);
    EXPECT_NEAR(cross_entropy(Var(logits), labels, Reduction::sum).value().item(), expected, 1e-14);
    EXPECT_NEAR(cross_entropy(Var(logits), labels).value().item(), expected / 2, 1e-14);
}

TEST(CrossEntropy, Gradcheck) {
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{2, 0, 1}, {3});
    EXPECT_TRUE(gradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], labels); },
                          {random_tensor({3, 4}, DType::f64, 1)}));
}

TEST(CrossEntropy, RejectsBadLabels) {
    Var logits(Tensor::zeros({2, 3}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{0, 3}, {2}));
        },
        {"cross_entropy", "out of range"}));
    EXPECT_TRUE(test::throws_error(
        [&] { cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{0}, {1})); },
        {"cross_entropy", "[2, 3]", "[1]"}));
    EXPECT_TRUE(test::throws_error([&] { cross_entropy(logits, Tensor::zeros({2})); },
                                   {"cross_entropy", "labels"}));
}

TEST(GaussianNll, FixedVarianceMatchesHandComputed) {
    Tensor mu = Tensor::from_vector(std::vector<double>{0, 1}, {2});
    Tensor y = Tensor::from_vector(std::vector<double>{1, 1}, {2});
    const double s2 = 0.5, c = std::log(2 * std::numbers::pi * s2);
    const double expected = 0.5 * (c + 1 / s2) + 0.5 * c;
    EXPECT_NEAR(gaussian_nll(Var(mu), Var(y), s2, Reduction::sum).value().item(), expected, 1e-14);
    EXPECT_NEAR(gaussian_nll(Var(mu), Var(y), s2).value().item(), expected / 2, 1e-14);
    // The learned-variance overload agrees at the same σ².
    EXPECT_NEAR(gaussian_nll(Var(mu), Var(y), Var(Tensor::scalar(s2, DType::f64)), Reduction::sum)
                    .value()
                    .item(),
                expected, 1e-14);
    EXPECT_TRUE(test::throws_error([&] { gaussian_nll(Var(mu), Var(y), 0.0); },
                                   {"gaussian_nll", "variance"}));
}

TEST(GaussianNll, Gradcheck) {
    const Tensor y = random_tensor({4}, DType::f64, 2);
    EXPECT_TRUE(
        gradcheck([&](const std::vector<Var>& v) { return gaussian_nll(v[0], Var(y), 0.3); },
                  {random_tensor({4}, DType::f64, 3)}));
    EXPECT_TRUE(
        gradcheck([&](const std::vector<Var>& v) { return gaussian_nll(v[0], Var(y), exp(v[1])); },
                  {random_tensor({4}, DType::f64, 4), random_tensor({1}, DType::f64, 5)}));
}

TEST(Mse, MatchesHandComputedAndGradcheck) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, 2}, {2});
    Tensor b = Tensor::from_vector(std::vector<double>{0, 4}, {2});
    EXPECT_NEAR(mse(Var(a), Var(b)).value().item(), 2.5, 1e-15);
    EXPECT_NEAR(mse(Var(a), Var(b), Reduction::sum).value().item(), 5.0, 1e-15);
    EXPECT_TRUE(gradcheck([&](const std::vector<Var>& v) { return mse(v[0], Var(b)); },
                          {random_tensor({2}, DType::f64, 6)}));
    EXPECT_TRUE(test::throws_error([&] { mse(Var(a), Var(Tensor::zeros({3}, DType::f64))); },
                                   {"mse", "[2]", "[3]"}));
}

}  // namespace
}  // namespace postr::nn
