// VI on CUDA against the CPU: the NELBO gradient at the same draws, the same sampled θ for the
// same seed (the Philox stream is shared), and whole runs of updates, in f32 and f64.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/inference/vi_dense.h"
#include "postr/inference/vi_diag.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;
using inference::LogPosterior;

// The per-datum Bayesian linear regression log-posterior on `device`.
LogPosterior regression(DType dtype, Device device) {
    const Tensor x = test::random_tensor({20, 3}, dtype, 11, -1, 1, device);
    const Tensor y = test::random_tensor({20}, dtype, 12, -1, 1, device);
    return [x, y](const Var& theta, const Batch&) {
        const Var resid = sub(Var(y), matmul(Var(x), theta));
        return mul(add(mul(sum(square(resid)), 4.0), sum(square(theta))), -0.5 / 20.0);
    };
}

// f64: reductions and GEMMs in a different order, ~1e-13 relative; f32: ~1e-5.
double tolerance(DType dtype) { return dtype == DType::f64 ? 1e-11 : 2e-4; }

TEST(VICuda, DenseMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (const DType dtype : {DType::f64, DType::f32}) {
        SCOPED_TRACE(dtype == DType::f64 ? "f64" : "f32");
        const double tol = tolerance(dtype);
        const inference::vi_dense::Config config{.temperature = 0.1, .n_samples = 3, .seed = 4};
        const auto cpu = inference::vi_dense::build(regression(dtype, Device::cpu()), config);
        const auto gpu = inference::vi_dense::build(regression(dtype, Device::cuda(0)), config);
        const Tensor theta = test::random_tensor({3}, dtype, 13);
        auto sc = cpu.init(theta);
        auto sg = gpu.init(theta.to(Device::cuda(0)));
        const Tensor r = test::random_tensor({3, 3}, dtype, 14, -0.5, 0.5);
        sc.log_chol.copy_(r);
        sg.log_chol.copy_(r.to(Device::cuda(0)));
        Generator g1(5);
        const Tensor eps = normal({4, 3}, g1, 0, 1, dtype);
        Tensor grad_c, grad_g;
        const double nc = cpu.nelbo_and_grad(sc, {}, eps, grad_c);
        const double ng = gpu.nelbo_and_grad(sg, {}, eps.to(Device::cuda(0)), grad_g);
        EXPECT_NEAR(ng, nc, tol * (1 + std::abs(nc)));
        EXPECT_TRUE(test::all_close(grad_g.to(Device::cpu()), grad_c, tol, tol));
        // Same seed, same draws on both devices.
        Generator s1(7), s2(7);
        EXPECT_TRUE(test::all_close(gpu.sample(sg, 16, s2).to(Device::cpu()),
                                    cpu.sample(sc, 16, s1), tol, tol));
        for (int i = 0; i < 20; ++i) {
            cpu.update(sc, {});
            gpu.update(sg, {});
        }
        EXPECT_TRUE(test::all_close(sg.params.to(Device::cpu()), sc.params, 10 * tol, 10 * tol));
    }
}

TEST(VICuda, DiagMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (const DType dtype : {DType::f64, DType::f32}) {
        SCOPED_TRACE(dtype == DType::f64 ? "f64" : "f32");
        const double tol = tolerance(dtype);
        const inference::vi_diag::Config config{.temperature = 0.1, .n_samples = 3, .seed = 4};
        const auto cpu = inference::vi_diag::build(regression(dtype, Device::cpu()), config);
        const auto gpu = inference::vi_diag::build(regression(dtype, Device::cuda(0)), config);
        const Tensor theta = test::random_tensor({3}, dtype, 15);
        auto sc = cpu.init(theta);
        auto sg = gpu.init(theta.to(Device::cuda(0)));
        Generator g(6);
        const Tensor eps = normal({4, 3}, g, 0, 1, dtype);
        Tensor grad_c, grad_g;
        const double nc = cpu.nelbo_and_grad(sc, {}, eps, grad_c);
        const double ng = gpu.nelbo_and_grad(sg, {}, eps.to(Device::cuda(0)), grad_g);
        EXPECT_NEAR(ng, nc, tol * (1 + std::abs(nc)));
        EXPECT_TRUE(test::all_close(grad_g.to(Device::cpu()), grad_c, tol, tol));
        Generator s1(7), s2(7);
        EXPECT_TRUE(test::all_close(gpu.sample(sg, 16, s2).to(Device::cpu()),
                                    cpu.sample(sc, 16, s1), tol, tol));
        for (int i = 0; i < 20; ++i) {
            cpu.update(sc, {});
            gpu.update(sg, {});
        }
        EXPECT_TRUE(test::all_close(sg.params.to(Device::cpu()), sc.params, 10 * tol, 10 * tol));
    }
}

}  // namespace
}  // namespace postr
