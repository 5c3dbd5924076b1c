// CPU/CUDA parity of the optimizer steps: the same inputs and options through both devices for
// several steps. Both run the one formula of kernels/optim.h in the same dtype, so they differ
// only where CUDA contracts a multiply-add into an fma: a few ulp. Every test skips without a
// CUDA device.
#include <cstdint>

#include <gtest/gtest.h>

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

const Device kGpu = Device::cuda(0);
constexpr int kSteps = 5;

// fma contraction changes one rounding per multiply-add; 5 steps of O(1) values stay within
// 20 one-op tolerances.
double rtol_for(DType t) { return 20 * (t == DType::f32 ? test::kRtolF32 : test::kRtolF64); }
double atol_for(DType t) { return 20 * (t == DType::f32 ? test::kAtolF32 : test::kAtolF64); }

::testing::AssertionResult same(const Tensor& gpu, const Tensor& cpu) {
    if (!gpu.is_cuda()) return ::testing::AssertionFailure() << "result is not on the GPU";
    return test::all_close(gpu.to(Device::cpu()), cpu, rtol_for(cpu.dtype()),
                           atol_for(cpu.dtype()));
}

TEST(OptimCuda, SgdMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64})
        for (const SgdOptions& o : {SgdOptions{0.1}, SgdOptions{0.1, 0.9, 0.2, 0.01},
                                    SgdOptions{0.05, 0.9, 0.0, 0.0, true}}) {
            SCOPED_TRACE(dtype == DType::f32 ? "f32" : "f64");
            const Shape shape{1000, 37};
            Tensor p_cpu = test::random_tensor(shape, dtype, 1), p_gpu = p_cpu.to(kGpu);
            Tensor b_cpu = Tensor::zeros(shape, dtype), b_gpu = b_cpu.to(kGpu);
            for (int s = 0; s < kSteps; ++s) {
                const Tensor g = test::random_tensor(shape, dtype, 10 + s);
                sgd_step_(p_cpu, g, b_cpu, o, s == 0);
                sgd_step_(p_gpu, g.to(kGpu), b_gpu, o, s == 0);
            }
            EXPECT_TRUE(same(p_gpu, p_cpu));
            EXPECT_TRUE(same(b_gpu, b_cpu));
        }
}

TEST(OptimCuda, AdamMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64})
        for (bool decoupled : {false, true}) {
            SCOPED_TRACE(decoupled ? "AdamW" : "Adam");
            const AdamOptions o{1e-2, 0.9, 0.999, 1e-8, 0.05, decoupled};
            const Shape shape{50021};
            Tensor p_cpu = test::random_tensor(shape, dtype, 2), p_gpu = p_cpu.to(kGpu);
            Tensor m_cpu = Tensor::zeros(shape, dtype), m_gpu = m_cpu.to(kGpu);
            Tensor v_cpu = Tensor::zeros(shape, dtype), v_gpu = v_cpu.to(kGpu);
            for (int s = 0; s < kSteps; ++s) {
                const Tensor g = test::random_tensor(shape, dtype, 20 + s);
                adam_step_(p_cpu, g, m_cpu, v_cpu, s + 1, o);
                adam_step_(p_gpu, g.to(kGpu), m_gpu, v_gpu, s + 1, o);
            }
            EXPECT_TRUE(same(p_gpu, p_cpu));
            EXPECT_TRUE(same(m_gpu, m_cpu));
            EXPECT_TRUE(same(v_gpu, v_cpu));
        }
}

TEST(OptimCuda, StridedLayoutsMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const SgdOptions o{0.1, 0.9};
    Tensor p_cpu = test::random_tensor({300}, DType::f64, 3);
    Tensor p_gpu = test::strided_copy(p_cpu.to(kGpu));
    Tensor b_cpu = Tensor::zeros({300}, DType::f64);
    Tensor b_gpu = test::strided_copy(b_cpu.to(kGpu));
    const Tensor g = test::random_tensor({300}, DType::f64, 4);
    for (int s = 0; s < 3; ++s) {
        sgd_step_(p_cpu, g, b_cpu, o, s == 0);
        sgd_step_(p_gpu, g.to(kGpu), b_gpu, o, s == 0);
    }
    EXPECT_TRUE(same(p_gpu, p_cpu));
    EXPECT_TRUE(same(b_gpu, b_cpu));
}

TEST(OptimCuda, RejectsMixedDevices) {
    POSTR_REQUIRE_CUDA();
    Tensor p = Tensor::zeros({4}, DType::f32, kGpu), m = zeros_like(p), v = zeros_like(p);
    EXPECT_TRUE(
        test::throws_error([&] { adam_step_(p, Tensor::zeros({4}, DType::f32), m, v, 1, {}); },
                           {"adam_step_", "param", "grad", "cuda"}));
}

}  // namespace
}  // namespace postr
