// The per-datum averaged log-posterior of a model: its value against the closed form on a
// linear-Gaussian model, and its gradient against finite differences (f64).
#include "postr/inference/log_posterior.h"

#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/gradcheck.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

TEST(ModelLogPosterior, LinearGaussianEqualsTheClosedForm) {
    const std::int64_t b = 8, d = 3, n = 100;
    const double sigma = 0.5, lambda = 2.0;
    nn::Sequential model({std::make_shared<nn::Linear>(d, 2)});
    model.finalize(0, DType::f64);
    const Tensor x = test::random_tensor({b, d}, DType::f64, 1);
    const Tensor y = test::random_tensor({b, 2}, DType::f64, 2);
    const Tensor theta = test::random_tensor({model.num_parameters()}, DType::f64, 3);
    const auto lp =
        inference::model_log_posterior(model, nn::Likelihood::gaussian(sigma), lambda, n);
    const double value = lp(Var(theta), {x, y}).value().item();

    model.load_flat(theta);
    const Tensor f = model(Var(x)).value();
    const double log_2pi = std::log(2 * std::numbers::pi);
    const double sse = sum(square(sub(y, f))).item();
    const double log_lik =
        (-0.5 * sse / (sigma * sigma) -
         0.5 * static_cast<double>(b * 2) * (log_2pi + std::log(sigma * sigma))) /
        static_cast<double>(b);
    const double dd = static_cast<double>(theta.numel());
    const double log_prior =
        -0.5 * lambda * sum(square(theta)).item() + 0.5 * dd * (std::log(lambda) - log_2pi);
    EXPECT_NEAR(value, log_lik + log_prior / static_cast<double>(n), 1e-12);
}

TEST(ModelLogPosterior, GradientPassesGradcheck) {
    auto net = test::curvature_mlp(3, 4, 5);
    const Tensor x = test::random_tensor({6, 3}, DType::f64, 6);
    const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 1, 2, 2, 0}, {6});
    const auto lp = inference::model_log_posterior(*net, nn::Likelihood::categorical(), 1.5, 50);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Var>& t) {
            return lp(t[0], {x, y});
        },
        {net->parameters().theta().clone()}));
    EXPECT_TRUE(test::throws_error(
        [&] { inference::model_log_posterior(*net, nn::Likelihood::categorical(), 0, 50); },
        {"prior precision must be positive"}));
}

}  // namespace
}  // namespace postr
