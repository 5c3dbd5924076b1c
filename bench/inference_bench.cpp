// Per-step time of the posterior algorithms (issue 6) on the MLP of WORKLOADS.md (64-128-128-10,
// D = 26,122, cross-entropy, a batch of 128), CPU and CUDA, and K parallel SGLD chains as one
// batched state against K sequential single-chain runs. One step includes its gradient, so
// the cost of one loss gradient (BM_LogPosteriorGrad) is the floor of every row.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/inference/baoa.h"
#include "postr/inference/ensemble.h"
#include "postr/inference/laplace.h"
#include "postr/inference/laplace_kfac.h"
#include "postr/inference/log_posterior.h"
#include "postr/inference/sghmc.h"
#include "postr/inference/sgld.h"
#include "postr/inference/sgnht.h"
#include "postr/inference/swag.h"
#include "postr/inference/vi_diag.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "bench/bench_util.h"

namespace postr::bench {
namespace {

constexpr std::int64_t kBatch = 128, kNumData = 60000;

// The MLP, its log-posterior and one batch, on a device.
struct Problem {
    std::unique_ptr<nn::Sequential> model;
    inference::LogPosterior log_posterior;
    inference::Batch batch;

    explicit Problem(Device device) {
        model = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
            std::make_shared<nn::Linear>(64, 128), std::make_shared<nn::ReLU>(),
            std::make_shared<nn::Linear>(128, 128), std::make_shared<nn::ReLU>(),
            std::make_shared<nn::Linear>(128, 10)});
        model->finalize(0, DType::f32, device);
        log_posterior =
            inference::model_log_posterior(*model, nn::Likelihood::categorical(), 1.0, kNumData);
        Generator gen(1);
        batch = {random_input<float>({kBatch, 64}, 2, device),
                 randint(0, 10, {kBatch}, gen, device)};
    }
    const Tensor& theta() { return model->parameters().theta(); }
};

void BM_LogPosteriorGrad(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    run_on(state, device, [&] {
        benchmark::DoNotOptimize(
            inference::log_posterior_and_grad(p.log_posterior, p.theta(), p.batch).grad);
    });
    state.SetLabel("one gradient: the floor of every step");
}

void BM_SgldStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::sgld::Config config;
    config.lr = 1e-4;
    config.temperature = 1.0 / kNumData;
    const auto sampler = inference::sgld::build(p.log_posterior, config);
    auto s = sampler.init(p.theta());
    run_on(state, device, [&] { sampler.update(s, p.batch); });
}

void BM_SghmcStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::sghmc::Config config;
    config.lr = 1e-4;
    config.temperature = 1.0 / kNumData;
    const auto sampler = inference::sghmc::build(p.log_posterior, config);
    auto s = sampler.init(p.theta());
    run_on(state, device, [&] { sampler.update(s, p.batch); });
}

void BM_ViDiagStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::vi_diag::Config config;
    config.temperature = 1.0 / kNumData;
    const auto vi = inference::vi_diag::build(p.log_posterior, config);
    auto s = vi.init(p.theta());
    run_on(state, device, [&] { vi.update(s, p.batch); });
}

void BM_SwagStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::swag::Config config;
    config.momentum = 0.9;
    const auto swag = inference::swag::build(p.log_posterior, config);
    auto s = swag.init(p.theta());
    run_on(state, device, [&] { swag.update(s, p.batch); });
}

void BM_SgnhtStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::sgnht::Config config;
    config.lr = 1e-4;
    config.temperature = 1.0 / kNumData;
    const auto sampler = inference::sgnht::build(p.log_posterior, config);
    auto s = sampler.init(p.theta());
    run_on(state, device, [&] { sampler.update(s, p.batch); });
}

void BM_BaoaStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::baoa::Config config;
    config.lr = 1e-4;
    config.temperature = 1.0 / kNumData;
    const auto sampler = inference::baoa::build(p.log_posterior, config);
    auto s = sampler.init(p.theta());
    run_on(state, device, [&] { sampler.update(s, p.batch); });
}

// One batch of the diagonal GGN Laplace (the curvature fast road) and of the KFAC Laplace.
void BM_LaplaceDiagGgnUpdate(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    p.model->eval();  // curvature is taken at fixed statistics
    inference::laplace::Config config;
    config.structure = inference::laplace::Structure::diag_ggn;
    const auto laplace = inference::laplace::build(*p.model, config);
    auto s = laplace.init(p.theta());
    run_on(state, device, [&] { laplace.update(s, p.batch); });
}

void BM_KfacLaplaceAccumulate(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    p.model->eval();
    inference::KfacLaplace kfac(*p.model);
    run_on(state, device, [&] { kfac.accumulate(p.batch.inputs, p.batch.targets); });
}

// An ensemble of 8 members: one SGHMC step over a [8, D] state.
void BM_EnsembleStep(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p(device);
    inference::ensemble::Config config;
    config.lr = 1e-2;
    const auto ensemble = inference::ensemble::build(p.log_posterior, config);
    auto s = ensemble.init(p.theta().view({1, -1}).expand({8, p.theta().numel()}).contiguous());
    run_on(state, device, [&] { ensemble.update(s, p.batch); });
    state.SetLabel("8 members");
}

// Each step benchmark on both devices: real time on the CPU, CUDA events on the GPU.
using StepBenchmark = void (*)(benchmark::State&, const std::string&);
void register_on_both_devices(const std::string& name, StepBenchmark fn) {
    benchmark::RegisterBenchmark((name + "<float>/cpu").c_str(), fn, std::string("cpu"))
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "<float>/cuda").c_str(), fn, std::string("cuda"))
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
}
const bool registered = [] {
    register_on_both_devices("BM_LogPosteriorGrad", BM_LogPosteriorGrad);
    register_on_both_devices("BM_SgldStep", BM_SgldStep);
    register_on_both_devices("BM_SghmcStep", BM_SghmcStep);
    register_on_both_devices("BM_ViDiagStep", BM_ViDiagStep);
    register_on_both_devices("BM_SwagStep", BM_SwagStep);
    register_on_both_devices("BM_SgnhtStep", BM_SgnhtStep);
    register_on_both_devices("BM_BaoaStep", BM_BaoaStep);
    register_on_both_devices("BM_LaplaceDiagGgnUpdate", BM_LaplaceDiagGgnUpdate);
    register_on_both_devices("BM_KfacLaplaceAccumulate", BM_KfacLaplaceAccumulate);
    register_on_both_devices("BM_EnsembleStep", BM_EnsembleStep);
    return true;
}();

// K SGLD chains: one batched state of [K, D] against K single-chain samplers stepped in turn.
void BM_SgldChains(benchmark::State& state, bool batched) {
    const std::int64_t k = state.range(0);
    Problem p(Device::cpu());
    inference::sgld::Config config;
    config.lr = 1e-4;
    config.temperature = 1.0 / kNumData;
    const auto sampler = inference::sgld::build(p.log_posterior, config);
    if (batched) {
        auto s = sampler.init(p.theta().view({1, -1}).expand({k, p.theta().numel()}).contiguous());
        run_on(state, Device::cpu(), [&] { sampler.update(s, p.batch); });
    } else {
        std::vector<inference::sgld::State> chains;
        for (std::int64_t c = 0; c < k; ++c)
            chains.push_back(sampler.init(p.theta(), static_cast<std::uint64_t>(c)));
        run_on(state, Device::cpu(), [&] {
            for (auto& s : chains) sampler.update(s, p.batch);
        });
    }
    state.SetLabel(batched ? "K chains, one [K, D] state" : "K single-chain runs");
}
BENCHMARK_CAPTURE(BM_SgldChains, batched, true)
    ->Name("BM_SgldChainsBatched<float>/cpu")
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SgldChains, sequential, false)
    ->Name("BM_SgldChainsSequential<float>/cpu")
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace postr::bench
