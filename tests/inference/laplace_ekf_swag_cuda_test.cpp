// Laplace (every structure), EKF (diagonal and dense) and SWAG on CUDA against the CPU: the
// same model and data on both devices give the same curvature, precision, evidence, filter
// state, moments and — the Philox stream being shared — the same samples for a seed. f64
// throughout; GEMMs and reductions differ in order only (1e-10 relative).
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/ops.h"
#include "postr/inference/ekf.h"
#include "postr/inference/laplace.h"
#include "postr/inference/swag.h"
#include "postr/kernels/ops.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::Batch;

constexpr double kTol = 1e-10;
const Device kGpu = Device::cuda(0);

Batch to_gpu(const Batch& b) { return {b.inputs.to(kGpu), b.targets.to(kGpu)}; }

TEST(LaplaceCuda, EveryStructureMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    using namespace inference::laplace;
    for (const Structure structure :
         {Structure::diag_empirical_fisher, Structure::diag_ggn, Structure::dense_empirical_fisher,
          Structure::dense_ggn, Structure::dense_hessian}) {
        SCOPED_TRACE(static_cast<int>(structure));
        auto cpu_net = test::curvature_mlp(3, 4, 31);
        auto gpu_net = test::curvature_mlp(3, 4, 31);
        gpu_net->to(kGpu);
        const Batch batch{test::random_tensor({16, 3}, DType::f64, 32),
                          test::random_ints({16}, 0, 4, 33)};
        Config config;
        config.structure = structure;
        config.prior_precision = 0.7;
        config.num_data = 100;
        config.jitter = structure == Structure::dense_hessian ? 1.0 : 0.0;
        const Transform cpu = build(*cpu_net, config), gpu = build(*gpu_net, config);
        State sc = cpu.init(cpu_net->parameters().theta());
        State sg = gpu.init(gpu_net->parameters().theta());
        cpu.update(sc, batch);
        gpu.update(sg, to_gpu(batch));
        cpu.fit(sc);
        gpu.fit(sg);
        EXPECT_TRUE(test::all_close(sg.curvature.to(Device::cpu()), sc.curvature, kTol, kTol));
        EXPECT_TRUE(test::all_close(sg.precision.to(Device::cpu()), sc.precision, kTol, kTol));
        const double ec = cpu.log_marginal_likelihood(sc);
        EXPECT_NEAR(gpu.log_marginal_likelihood(sg), ec, kTol * (1 + std::abs(ec)));
        Generator g1(34), g2(34);
        EXPECT_TRUE(test::all_close(gpu.sample(sg, 8, g2).to(Device::cpu()), cpu.sample(sc, 8, g1),
                                    1e-9, 1e-9));
    }
}

// Per-sample log N(y_b | x_bᵀθ, 0.25): [B].
inference::ekf::LogLikelihood linear_gaussian() {
    return [](const Var& theta, const Batch& batch) {
        const std::int64_t b = batch.inputs.size(0);
        const Var r = sub(Var(batch.targets), matmul(Var(batch.inputs), reshape(theta, {3, 1})));
        return add(reshape(mul(square(r), -2.0), {b}),
                   -0.5 * std::log(2 * std::numbers::pi * 0.25));
    };
}

Batch regression_batch(std::uint64_t seed) {
    return {test::random_tensor({8, 3}, DType::f64, seed),
            test::random_tensor({8, 1}, DType::f64, seed + 1, -2.0, 2.0)};
}

TEST(EkfCuda, DiagonalAndDenseFiltersMatchCpu) {
    POSTR_REQUIRE_CUDA();
    namespace diag = inference::ekf::diag_fisher;
    namespace dense = inference::ekf::dense_fisher;
    const Tensor theta = test::random_tensor({3}, DType::f64, 41);
    const auto dc =
        diag::build(linear_gaussian(), {.lr = 0.5, .transition_sd = 0.01, .per_sample = true});
    const auto nc =
        dense::build(linear_gaussian(), {.lr = 0.5, .transition_cov = 1e-4, .per_sample = true});
    diag::State a = dc.init(theta), b = dc.init(theta.to(kGpu));
    dense::State c = nc.init(theta), d = nc.init(theta.to(kGpu));
    for (std::uint64_t step = 0; step < 10; ++step) {
        const Batch batch = regression_batch(100 + 2 * step);
        dc.update(a, batch);
        dc.update(b, to_gpu(batch));
        nc.update(c, batch);
        nc.update(d, to_gpu(batch));
    }
    EXPECT_TRUE(test::all_close(b.params.to(Device::cpu()), a.params, kTol, kTol));
    EXPECT_TRUE(test::all_close(b.sd_diag.to(Device::cpu()), a.sd_diag, kTol, kTol));
    EXPECT_TRUE(test::all_close(d.params.to(Device::cpu()), c.params, kTol, kTol));
    EXPECT_TRUE(test::all_close(d.cov.to(Device::cpu()), c.cov, kTol, kTol));
    Generator g1(42), g2(42);
    EXPECT_TRUE(
        test::all_close(nc.sample(d, 6, g2).to(Device::cpu()), nc.sample(c, 6, g1), 1e-9, 1e-9));
}

TEST(SwagCuda, MomentsAndSamplesMatchCpu) {
    POSTR_REQUIRE_CUDA();
    namespace swag = inference::swag;
    auto log_posterior = [](Device device) -> inference::LogPosterior {
        const Tensor x = test::random_tensor({20, 3}, DType::f64, 51).to(device);
        const Tensor y = test::random_tensor({20, 1}, DType::f64, 52).to(device);
        return [x, y](const Var& theta, const Batch&) {
            const Var r = sub(Var(y), matmul(Var(x), reshape(theta, {3, 1})));
            return mul(add(mul(sum(square(r)), 4.0), sum(square(theta))), -0.5 / 20.0);
        };
    };
    const swag::Config config{.lr = 0.05, .momentum = 0.9, .snapshot_start = 5, .rank = 4};
    const auto cpu = swag::build(log_posterior(Device::cpu()), config);
    const auto gpu = swag::build(log_posterior(kGpu), config);
    const Tensor theta = test::random_tensor({3}, DType::f64, 53);
    swag::State sc = cpu.init(theta), sg = gpu.init(theta.to(kGpu));
    for (int step = 0; step < 30; ++step) {
        cpu.update(sc, {});
        gpu.update(sg, {});
    }
    EXPECT_EQ(sg.num_snapshots, sc.num_snapshots);
    EXPECT_TRUE(test::all_close(sg.mean.to(Device::cpu()), sc.mean, kTol, kTol));
    EXPECT_TRUE(test::all_close(sg.sq_mean.to(Device::cpu()), sc.sq_mean, kTol, kTol));
    EXPECT_TRUE(test::all_close(swag::deviation_matrix(sg).to(Device::cpu()),
                                swag::deviation_matrix(sc), kTol, kTol));
    Generator g1(54), g2(54);
    EXPECT_TRUE(test::all_close(gpu.sample(sg, 10, g2).to(Device::cpu()), cpu.sample(sc, 10, g1),
                                1e-9, 1e-9));
}

}  // namespace
}  // namespace postr
