// The fast-road curvature functions on CUDA against the CPU, on a small CNN with batch norm and
// a residual block, in f64 (the kernels sum in different orders on the two devices: 1e-10
// relative) and f32 (1e-4: f32 rounding over sums of a few hundred terms).
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/curvature/subnetwork.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

void expect_parity(DType dtype, double tol) {
    auto cpu = test::curvature_cnn(1, 1, dtype, Device::cpu());
    auto gpu = test::curvature_cnn(1, 1, dtype, Device::cuda());
    const Tensor x = test::random_tensor({5, 1, 6, 6}, dtype, 9);
    const Tensor xg = x.to(Device::cuda());
    const std::int64_t d = cpu->num_parameters();
    const Tensor index = Tensor::from_vector(std::vector<std::int64_t>{d - 1, 0, 40, 7, 40}, {5});
    const Tensor index_g = index.to(Device::cuda());
    auto near = [&](const Tensor& on_gpu, const Tensor& on_cpu) {
        return test::all_close(on_gpu.to(Device::cpu()), on_cpu, tol, tol);
    };
    EXPECT_TRUE(near(nn::per_sample_jacobian(*gpu, xg), nn::per_sample_jacobian(*cpu, x)));
    EXPECT_TRUE(
        near(nn::per_sample_jacobian(*gpu, xg, index_g), nn::per_sample_jacobian(*cpu, x, index)));
    const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 2, 1, 1, 0}, {5});
    const auto likelihood = nn::Likelihood::categorical();
    EXPECT_TRUE(near(nn::per_sample_gradients(*gpu, xg, labels.to(Device::cuda()), likelihood),
                     nn::per_sample_gradients(*cpu, x, labels, likelihood)));
    const Tensor v = test::random_tensor({d}, dtype, 10);
    EXPECT_TRUE(near(nn::ggn_vector_product(*gpu, xg, likelihood, v.to(Device::cuda())),
                     nn::ggn_vector_product(*cpu, x, likelihood, v)));
    for (auto type : {nn::CurvatureType::ggn, nn::CurvatureType::ggn_monte_carlo,
                      nn::CurvatureType::empirical_fisher}) {
        nn::CurvatureOptions options;
        options.type = type;
        options.mc_samples = 3;  // the same Philox draws on both devices
        nn::DiagonalCurvature diag_cpu(*cpu, options), diag_gpu(*gpu, options);
        diag_cpu.accumulate(x, labels);
        diag_gpu.accumulate(xg, labels.to(Device::cuda()));
        EXPECT_TRUE(near(diag_gpu.diagonal(), diag_cpu.diagonal()));
        nn::DenseCurvature dense_cpu(*cpu, options, index), dense_gpu(*gpu, options, index_g);
        dense_cpu.accumulate(x, labels);
        dense_gpu.accumulate(xg, labels.to(Device::cuda()));
        EXPECT_TRUE(near(dense_gpu.matrix(), dense_cpu.matrix()));
    }
    const Tensor variances = abs(test::random_tensor({d}, dtype, 11));
    EXPECT_EQ(nn::select_largest_variance(variances.to(Device::cuda()), 9)
                  .to(Device::cpu())
                  .to_vector<std::int64_t>(),
              nn::select_largest_variance(variances, 9).to_vector<std::int64_t>());
    EXPECT_EQ(
        nn::select_random(d, 9, 4, Device::cuda()).to(Device::cpu()).to_vector<std::int64_t>(),
        nn::select_random(d, 9, 4).to_vector<std::int64_t>());
}

TEST(CurvatureCuda, MatchesCpuInF64) {
    POSTR_REQUIRE_CUDA();
    expect_parity(DType::f64, 1e-10);
}

TEST(CurvatureCuda, MatchesCpuInF32) {
    POSTR_REQUIRE_CUDA();
    expect_parity(DType::f32, 1e-4);
}

}  // namespace
}  // namespace postr
