// CPU/CUDA parity of BAOAB, BAOA-NHT, SGLRW and SVGD: the same seed gives the same Philox draws
// on both devices, so K chains (particles) run on the GPU must follow the CPU's. The kernels
// differ only in libm and summation order (2×2 products, means over D = 2, SVGD's K×K kernel
// and its K-term sums), so after 50 steps f64 agrees to 1e-10 relative (rounding of ~1e-16 per
// step, amplified by at most the contracting chain's factor < 1); f32 to 1e-4. SGLRW compares
// a uniform draw with the gradient: a rounding difference flips a ±δx move only if the two
// fall within ~1 ulp of each other (probability ~1e-7 per comparison in f32, 400 comparisons).
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/core/cuda_context.h"
#include "postr/inference/baoa_nht.h"
#include "postr/inference/baoab.h"
#include "postr/inference/sglrw.h"
#include "postr/inference/svgd.h"
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
void expect_parity(Build build, DType dtype, std::int64_t count, const char* what) {
    SCOPED_TRACE(what);
    Generator gen(3);
    const Tensor start = normal({count, 2}, gen, 0.0, 1.0, dtype);
    const auto [cpu_theta, cpu_momenta] = build(start, Device::cpu());
    const auto [gpu_theta, gpu_momenta] = build(start.to(Device::cuda()), Device::cuda());
    EXPECT_TRUE(gpu_theta.is_cuda());
    const double tol = dtype == DType::f64 ? 1e-10 : 1e-4;
    EXPECT_TRUE(test::all_close(gpu_theta.to(Device::cpu()), cpu_theta, tol, tol));
    if (cpu_momenta.defined()) {
        EXPECT_TRUE(test::all_close(gpu_momenta.to(Device::cpu()), cpu_momenta, tol, tol));
    }
}

TEST(SgmcmcExtraCuda, SamplersMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f64, DType::f32}) {
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::baoab::build(batched_gaussian(dtype, device), {.lr = 0.1});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, s.momenta};
            },
            dtype, 4, "baoab");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::baoa_nht::build(gaussian(dtype, device),
                                                     {.lr = 0.1, .alpha = 0.5, .gamma = 1.0});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, s.momenta};
            },
            dtype, 4, "baoa_nht");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::sglrw::build(batched_gaussian(dtype, device), {.lr = 0.05});
                auto s = tr.init(t0, 7);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, {}};
            },
            dtype, 4, "sglrw");
        expect_parity(
            [&](const Tensor& t0, Device device) {
                auto tr = inference::svgd::build(batched_gaussian(dtype, device), {.lr = 0.1});
                auto s = tr.init(t0);
                for (int i = 0; i < 50; ++i) tr.update(s);
                return std::pair<Tensor, Tensor>{s.theta, {}};
            },
            dtype, 16, "svgd");
    }
}

TEST(SgmcmcExtraCuda, StateStaysOnTheDevice) {
    POSTR_REQUIRE_CUDA();
    const Tensor start = Tensor::zeros({3, 2}, DType::f32, Device::cuda());
    auto nht =
        inference::baoa_nht::build(batched_gaussian(DType::f32, Device::cuda()), {.lr = 0.1});
    auto s = nht.init(start, 1);
    nht.update(s);
    EXPECT_TRUE(s.theta.is_cuda());
    EXPECT_TRUE(s.momenta.is_cuda());
    EXPECT_TRUE(s.xi.is_cuda());
    EXPECT_TRUE(s.log_posterior.is_cuda());
    auto sv = inference::svgd::build(batched_gaussian(DType::f32, Device::cuda()), {.lr = 0.1});
    auto p = sv.init(
        add(start, Tensor::from_vector(std::vector<float>{0.f, 1.f, 2.f, 3.f, 4.f, 5.f}, {3, 2})
                       .to(Device::cuda())));
    sv.update(p);
    EXPECT_TRUE(p.theta.is_cuda());
    EXPECT_GT(p.bandwidth, 0.0);
}

}  // namespace
}  // namespace postr
