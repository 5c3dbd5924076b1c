// CPU/CUDA parity of the Kronecker-factored curvature on the CNN with batch norm (Conv2d,
// BatchNorm2d, residual block, Linear): factors and diagonal blocks. Skips without a GPU.
#include <algorithm>
#include <cstddef>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/kfac.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

// f64 on both devices, differing only in summation order (cuBLAS SYRK, the convolution used to
// unfold the patches): 1e-10 relative to the largest entry, as the other curvature parity tests.
::testing::AssertionResult parity(const Tensor& gpu, const Tensor& cpu) {
    if (!gpu.is_cuda()) return ::testing::AssertionFailure() << "result is not on cuda";
    const double scale = std::max(max(abs(cpu)).item(), 1e-30);
    return test::all_close(gpu.to(Device::cpu()), cpu, 0.0, 1e-10 * scale);
}

TEST(KroneckerCurvatureCuda, FactorsMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (nn::CurvatureType type : {nn::CurvatureType::ggn, nn::CurvatureType::empirical_fisher}) {
        SCOPED_TRACE(testing::Message() << "type " << static_cast<int>(type));
        auto cpu_model = test::curvature_cnn(2, 21);
        auto gpu_model = test::curvature_cnn(2, 21, DType::f64, Device::cuda(0));
        const Tensor x = test::random_tensor({5, 2, 6, 6}, DType::f64, 22);
        const Tensor y = test::random_ints({5}, 0, 3, 23);
        nn::CurvatureOptions o;
        o.type = type;
        o.chunk_size = 2;  // several chunks, so accumulation across passes is covered
        nn::KroneckerCurvature cpu(*cpu_model, o), gpu(*gpu_model, o);
        cpu.accumulate(x, y);
        gpu.accumulate(x.to(Device::cuda(0)), y.to(Device::cuda(0)));
        const std::vector<nn::KroneckerFactors> fc = cpu.factors(), fg = gpu.factors();
        ASSERT_EQ(fc.size(), fg.size());
        for (std::size_t l = 0; l < fc.size(); ++l) {
            SCOPED_TRACE(testing::Message() << "layer " << l);
            EXPECT_EQ(fg[l].offset, fc[l].offset);
            EXPECT_TRUE(parity(fg[l].a, fc[l].a));
            EXPECT_TRUE(parity(fg[l].g, fc[l].g));
        }
        const std::vector<nn::DiagonalBlock> dc = cpu.diagonal_blocks(), dg = gpu.diagonal_blocks();
        ASSERT_EQ(dc.size(), dg.size());
        for (std::size_t b = 0; b < dc.size(); ++b)
            EXPECT_TRUE(parity(dg[b].diagonal, dc[b].diagonal));
    }
}

}  // namespace
}  // namespace postr
