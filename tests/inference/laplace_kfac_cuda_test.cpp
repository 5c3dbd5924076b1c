// CPU/CUDA parity of KFAC Laplace on the CNN with batch norm: marginal variances, log det,
// evidence, the linearized predictive, and samples (Philox draws are the same on both devices;
// the eigenvector signs may differ between LAPACK and cuSOLVER, so samples are compared through
// their exact covariance rather than draw by draw). Skips without a GPU.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "postr/inference/laplace_kfac.h"
#include "postr/kernels/ops.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::KfacLaplace;
using inference::KfacLaplaceOptions;

// f64 on both devices, differing in summation order and in the eigensolver: 1e-9 relative to
// the largest entry (the eigendecompositions agree to ~n·ε·κ, κ the factors' spread).
::testing::AssertionResult parity(const Tensor& gpu, const Tensor& cpu) {
    if (!gpu.is_cuda()) return ::testing::AssertionFailure() << "result is not on cuda";
    const double scale = std::max(max(abs(cpu)).item(), 1e-30);
    return test::all_close(gpu.to(Device::cpu()), cpu, 0.0, 1e-9 * scale);
}

TEST(KfacLaplaceCuda, MatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const Device gpu_device = Device::cuda(0);
    auto cpu_model = test::curvature_cnn(2, 31);
    auto gpu_model = test::curvature_cnn(2, 31, DType::f64, gpu_device);
    const Tensor x = test::random_tensor({6, 2, 6, 6}, DType::f64, 32);
    const Tensor x_test = test::random_tensor({3, 2, 6, 6}, DType::f64, 33);
    KfacLaplaceOptions options;
    options.prior_precision = 0.7;
    options.ggn_scale = 4.0;
    KfacLaplace cpu(*cpu_model, options), gpu(*gpu_model, options);
    cpu.accumulate(x);
    gpu.accumulate(x.to(gpu_device));
    cpu.fit();
    gpu.fit();
    EXPECT_TRUE(parity(gpu.posterior_variance(), cpu.posterior_variance()));
    EXPECT_NEAR(gpu.posterior_log_determinant(), cpu.posterior_log_determinant(),
                1e-9 * std::abs(cpu.posterior_log_determinant()));
    EXPECT_NEAR(gpu.log_marginal_likelihood(-3.0), cpu.log_marginal_likelihood(-3.0),
                1e-9 * std::abs(cpu.log_marginal_likelihood(-3.0)));
    const auto fc = cpu.predict(x_test);
    const auto fg = gpu.predict(x_test.to(gpu_device));
    EXPECT_TRUE(parity(fg.mean, fc.mean));
    EXPECT_TRUE(parity(fg.covariance, fc.covariance));
    // Draws on CUDA: mean θ* and marginal variances within Monte Carlo error of the exact ones
    // (5.5 standard errors of a variance estimate, √(2/n)·σ², over ~400 parameters).
    Generator gen(34);
    const std::int64_t n = 4000;
    const Tensor draws = gpu.sample(n, gen);
    ASSERT_TRUE(draws.is_cuda());
    const Tensor var = mean(square(sub(draws, gpu_model->parameters().theta().unsqueeze(0))), {0});
    const Tensor want = cpu.posterior_variance();
    const Tensor err = abs(sub(var.to(Device::cpu()), want));
    EXPECT_TRUE(all_finite(err));
    EXPECT_LE(max(div(err, want)).item(), 5.5 * std::sqrt(2.0 / static_cast<double>(n)));
}

}  // namespace
}  // namespace postr
