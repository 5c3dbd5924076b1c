// CPU/CUDA parity of the SG-MCMC samplers and the trace: the same seed gives the same Philox
// draws on both devices, so K chains run on the GPU must follow the CPU's chains. The kernels
// differ only in libm and summation order (a 2×2 matvec and a mean over D = 2), so after 50
// steps f64 agrees to 1e-10 relative (rounding of ~1e-16 per step, amplified by at most the
// chain's contraction factor, which is < 1); f32 to 1e-4.
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/core/cuda_context.h"
#include "postr/inference/baoa.h"
#include "postr/inference/sghmc.h"
#include "postr/inference/sgld.h"
#include "postr/inference/sgnht.h"
#include "postr/inference/trace.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;
using inference::BatchedLogPosterior;
using inference::LogPosterior;

LogPosterior gaussian(DType dtype, Device device) {
    Tensor p =
        Tensor::from_vector(std::vector<double>{2.0, -0.5, -0.5, 1.0}, {2, 2}).to(dtype).to(device);
    return [p](const Var& theta, const Batch&) {
        return mul(sum(mul(theta, matmul(Var(p), theta))), -0.5);
    };
}

BatchedLogPosterior batched_gaussian(DType dtype, Device device) {
    Tensor p =
        Tensor::from_vector(std::vector<double>{2.0, -0.5, -0.5, 1.0}, {2, 2}).to(dtype).to(device);
    return {[p](const Var& theta, const Batch&) {
        return mul(sum(mul(theta, matmul(theta, Var(p))), {1}), -0.5);
    }};
}

template <class Build>
void expect_parity(Build build, DType dtype, const char* what) {
    SCOPED_TRACE(what);
    Generator gen(3);
    const Tensor start = normal({4, 2}, gen, 0.0, 1.0, dtype);
    const auto [cpu_theta, cpu_momenta] = build(start, Device::cpu());
    const auto [gpu_theta, gpu_momenta] = build(start.to(Device::cuda()), Device::cuda());
    const double tol = dtype == DType::f64 ? 1e-10 : 1e-4;
    EXPECT_TRUE(test::all_close(gpu_theta.to(Device::cpu()), cpu_theta, tol, tol));
    if (cpu_momenta.defined()) {
        EXPECT_TRUE(test::all_close(gpu_momenta.to(Device::cpu()), cpu_momenta, tol, tol));
    }
}

TEST(SgmcmcCuda, SamplersMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f64, DType::f32}) {
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::sgld::build(gaussian(dtype, device), {.lr = 0.05});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, {}};
            },
            dtype, "sgld");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::sghmc::build(batched_gaussian(dtype, device), {.lr = 0.1});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, s.momenta};
            },
            dtype, "sghmc");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::sgnht::build(gaussian(dtype, device), {.lr = 0.1});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, s.momenta};
            },
            dtype, "sgnht");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::baoa::build(batched_gaussian(dtype, device), {.lr = 0.1});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, s.momenta};
            },
            dtype, "baoa");
    }
}

TEST(SgmcmcCuda, StateAndTraceStayOnTheDevice) {
    POSTR_REQUIRE_CUDA();
    auto tr = inference::sghmc::build(batched_gaussian(DType::f32, Device::cuda()), {.lr = 0.1});
    auto s = tr.init(Tensor::zeros({3, 2}, DType::f32, Device::cuda()), 1);
    inference::Trace trace(inference::TraceConfig{.burn_in = 2, .thin = 2, .chunk = 3});
    for (int i = 0; i < 11; ++i) {  // draws 2, 4, ..., 10 kept: the last is the final state
        tr.update(s);
        trace.record(s.theta);
    }
    EXPECT_TRUE(s.theta.is_cuda());
    EXPECT_TRUE(s.momenta.is_cuda());
    EXPECT_TRUE(s.log_posterior.is_cuda());
    const Tensor samples = trace.samples();
    EXPECT_TRUE(samples.is_cuda());
    EXPECT_EQ(samples.shape(), (Shape{5, 3, 2}));
    EXPECT_TRUE(test::all_close(samples[4].to(Device::cpu()), s.theta.to(Device::cpu()), 0.0, 0.0));
}

}  // namespace
}  // namespace postr
