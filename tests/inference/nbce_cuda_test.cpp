// CPU/CUDA parity of NBCE pooling: the same tensor ops on both devices, which differ only in
// libm (exp, log) and the reduction order over V = 50 and n = 4. f64 agrees to 1e-12 (a few ulp
// of O(10) terms summed over 50), f32 to 1e-5.
#include <gtest/gtest.h>

#include "postr/core/cuda_context.h"
#include "postr/inference/nbce.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::nbce::Pooling;

TEST(NbceCuda, MatchesCpuForBothPoolings) {
    POSTR_REQUIRE_CUDA();
    const Tensor ctx = test::random_tensor({3, 4, 50}, DType::f64, 1, -5.0, 5.0);
    const Tensor unc = test::random_tensor({3, 50}, DType::f64, 2, -5.0, 5.0);
    for (DType dtype : {DType::f64, DType::f32}) {
        const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
        for (Pooling pooling : {Pooling::mean, Pooling::min_entropy}) {
            SCOPED_TRACE(dtype == DType::f64 ? "f64" : "f32");
            const Tensor cpu_ctx = ctx.to(dtype), cpu_unc = unc.to(dtype);
            const Tensor cpu = inference::nbce::pool(cpu_ctx, cpu_unc, {.pooling = pooling});
            const Tensor gpu = inference::nbce::pool(
                cpu_ctx.to(Device::cuda(0)), cpu_unc.to(Device::cuda(0)), {.pooling = pooling});
            EXPECT_TRUE(gpu.is_cuda());
            EXPECT_TRUE(test::all_close(gpu.to(Device::cpu()), cpu, tol, tol));
        }
    }
}

}  // namespace
}  // namespace postr
