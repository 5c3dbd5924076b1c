// Curvature workloads of WORKLOADS.md: per-sample Jacobians, GGN-vector products and dense
// subnetwork GGNs, by the fast road (nn/curvature) beside the autodiff road (jacobian and
// ggn_vector_product over functional_call) in the same binary, so the ratio holds on a noisy
// machine. Each benchmark's label names its target.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/layers/sequential.h"

#include "bench/bench_util.h"

namespace postr::bench {
namespace {

// The subnetwork size of the subnetwork-inference paper's ResNet-18 experiments.
constexpr std::int64_t kSubnetwork = 42438;

// An MLP with Linear layers of the given widths and ReLU between them, in eval mode.
std::unique_ptr<nn::Sequential> mlp(const std::vector<std::int64_t>& widths, Device device) {
    std::vector<std::shared_ptr<nn::Module>> layers;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
        if (i > 0) layers.push_back(std::make_shared<nn::ReLU>());
        layers.push_back(std::make_shared<nn::Linear>(widths[i], widths[i + 1]));
    }
    auto net = std::make_unique<nn::Sequential>(layers);
    net->finalize(0, DType::f32, device);
    net->eval();
    return net;
}

// ---- per-sample Jacobians (cpu/jacobian_mlp, gpu/jacobian_mlp) ----------------------------

struct JacobianCase {
    std::vector<std::int64_t> widths;
    std::int64_t n;
    const char* target;
};

JacobianCase jacobian_case(Device device) {
    if (device.is_cuda()) return {{784, 512, 512, 10}, 256, "target gpu/jacobian_mlp <= 2.7 ms"};
    return {{64, 128, 128, 10}, 128, "target cpu/jacobian_mlp <= 10 ms"};
}

void BM_JacobianMlpFast(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const auto c = jacobian_case(device);
    auto net = mlp(c.widths, device);
    const Tensor x = random_input<float>({c.n, c.widths.front()}, 1, device);
    run_on(state, device, [&] { benchmark::DoNotOptimize(nn::per_sample_jacobian(*net, x)); });
    set_bytes<float>(state, c.n * 10 * net->num_parameters(), 1);
    state.SetLabel(c.target);
}

// The autodiff road: jacobian() of θ ↦ f(x; θ), one batched VJP with N·C cotangents.
void BM_JacobianMlpAutodiff(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const auto c = jacobian_case(device);
    auto net = mlp(c.widths, device);
    const Tensor x = random_input<float>({c.n, c.widths.front()}, 1, device);
    const VarFn f = nn::as_function_of_theta(*net, x);
    run_on(state, device,
           [&] { benchmark::DoNotOptimize(jacobian(f, net->parameters().theta())); });
    set_bytes<float>(state, c.n * 10 * net->num_parameters(), 1);
    state.SetLabel("autodiff road");
}

BENCHMARK_CAPTURE(BM_JacobianMlpFast, cpu, "cpu")
    ->Name("BM_JacobianMlpFast/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_JacobianMlpAutodiff, cpu, "cpu")
    ->Name("BM_JacobianMlpAutodiff/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_JacobianMlpFast, cuda, "cuda")
    ->Name("BM_JacobianMlpFast/cuda")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();
BENCHMARK_CAPTURE(BM_JacobianMlpAutodiff, cuda, "cuda")
    ->Name("BM_JacobianMlpAutodiff/cuda")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// ---- GGN-vector products (cpu/ggn_vp_mlp, gpu/ggn_vp_resnet18) ------------------------------

void BM_GgnVpMlp(benchmark::State& state, bool fast) {
    const std::int64_t n = 1024;
    auto net = mlp({64, 128, 128, 10}, Device::cpu());
    const Tensor x = random_input<float>({n, 64}, 2, Device::cpu());
    const Tensor v = random_input<float>({net->num_parameters()}, 3, Device::cpu());
    const VarFn f = nn::as_function_of_theta(*net, x);
    const VarFn loss = [](const Var& z) { return sum(logsumexp(z, {1})); };
    run_on(state, Device::cpu(), [&] {
        benchmark::DoNotOptimize(
            fast ? nn::ggn_vector_product(*net, x, nn::Likelihood::categorical(), v)
                 : ggn_vector_product(f, loss, net->parameters().theta(), v));
    });
    state.SetLabel(fast ? "target cpu/ggn_vp_mlp <= 5 ms" : "autodiff road");
}
BENCHMARK_CAPTURE(BM_GgnVpMlp, fast, true)
    ->Name("BM_GgnVpMlpFast/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_GgnVpMlp, autodiff, false)
    ->Name("BM_GgnVpMlpAutodiff/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One loss gradient of the same MLP and batch: the unit the GGN-vp floor is counted in.
void BM_LossGradientMlp(benchmark::State& state) {
    const std::int64_t n = 1024;
    auto net = mlp({64, 128, 128, 10}, Device::cpu());
    const Tensor x = random_input<float>({n, 64}, 2, Device::cpu());
    const VarFn loss = [&](const Var& theta) {
        return sum(logsumexp(nn::functional_call(*net, theta, Var(x)), {1}));
    };
    run_on(state, Device::cpu(),
           [&] { benchmark::DoNotOptimize(grad(loss, net->parameters().theta())); });
    state.SetLabel("one gradient (floor: about 2 of these)");
}
BENCHMARK(BM_LossGradientMlp)
    ->Name("BM_LossGradientMlp/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_GgnVpResnet18(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    auto net = nn::resnet18(10, 3, true, 0, DType::f32, device);
    net->eval();
    const Tensor x = random_input<float>({n, 3, 32, 32}, 4, device);
    const Tensor v = random_input<float>({net->num_parameters()}, 5, device);
    run_on(state, device, [&] {
        benchmark::DoNotOptimize(nn::ggn_vector_product(*net, x, nn::Likelihood::categorical(), v));
    });
    state.SetLabel(device.is_cuda() ? "target gpu/ggn_vp_resnet18 <= 18 ms (N = 128)"
                                    : "CPU reference");
}
BENCHMARK_CAPTURE(BM_GgnVpResnet18, cpu, "cpu")
    ->Name("BM_GgnVpResnet18/cpu")
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_GgnVpResnet18, cuda, "cuda")
    ->Name("BM_GgnVpResnet18/cuda")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// ---- dense subnetwork GGN (cpu/subnet_ggn_mlp, gpu/subnet_ggn_resnet18) ----------------------

void BM_SubnetGgnMlp(benchmark::State& state) {
    const std::int64_t n = 1024, s = 2000;
    auto net = mlp({64, 128, 128, 10}, Device::cpu());
    const Tensor x = random_input<float>({n, 64}, 6, Device::cpu());
    const Tensor index = nn::select_random(net->num_parameters(), s, 7);
    run_on(state, Device::cpu(), [&] {
        nn::DenseCurvature ggn(*net, {}, index);
        ggn.accumulate(x);
        benchmark::DoNotOptimize(ggn.matrix());
    });
    state.SetLabel("target cpu/subnet_ggn_mlp <= 350 ms");
}
BENCHMARK(BM_SubnetGgnMlp)
    ->Name("BM_SubnetGgnMlp/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The per-sample subnetwork Jacobian of ResNet-18 (gpu/subnet_jacobian_resnet18): time per
// batch of N; the figure to compare is the time divided by N.
void BM_SubnetJacobianResnet18(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    auto net = nn::resnet18(10, 3, true, 0, DType::f32, device);
    net->eval();
    const Tensor x = random_input<float>({n, 3, 32, 32}, 8, device);
    const Tensor index = nn::select_random(net->num_parameters(), kSubnetwork, 9, device);
    run_on(state, device,
           [&] { benchmark::DoNotOptimize(nn::per_sample_jacobian(*net, x, index)); });
    // Seconds per sample (a rate inverted), printed with an SI prefix (e.g. 250u).
    state.counters["time_per_sample"] =
        benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetLabel(device.is_cuda() ? "target gpu/subnet_jacobian_resnet18 <= 250 us/sample fp32"
                                    : "CPU reference");
}
BENCHMARK_CAPTURE(BM_SubnetJacobianResnet18, cpu, "cpu")
    ->Name("BM_SubnetJacobianResnet18/cpu")
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SubnetJacobianResnet18, cuda, "cuda")
    ->Name("BM_SubnetJacobianResnet18/cuda")
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

void BM_SubnetGgnResnet18(benchmark::State& state) {
    if (!require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    auto net = nn::resnet18(10, 3, true, 0, DType::f32, Device::cuda());
    net->eval();
    const Tensor x = random_input<float>({n, 3, 32, 32}, 10, Device::cuda());
    const Tensor index = nn::select_random(net->num_parameters(), kSubnetwork, 11, Device::cuda());
    nn::CurvatureOptions options;
    options.chunk_size = 64;
    time_cuda(state, [&] {
        nn::DenseCurvature ggn(*net, options, index);
        ggn.accumulate(x);
    });
    state.SetLabel("target gpu/subnet_ggn_resnet18 <= 0.9 s fp32 (N = 1024)");
}
BENCHMARK(BM_SubnetGgnResnet18)
    ->Name("BM_SubnetGgnResnet18/cuda")
    ->Arg(1024)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// gpu/syrk_42438: the GGN accumulation alone, C ← VᵀV + C with V = 10,240 × 42,438.
void BM_Syrk(benchmark::State& state) {
    if (!require_cuda(state)) return;
    const std::int64_t rows = 10240, s = state.range(0);
    const Tensor v = random_input<float>({rows, s}, 12, Device::cuda());
    Tensor c = Tensor::zeros({s, s}, DType::f32, Device::cuda());
    time_cuda(state, [&] { syrk_(c, v); });
    set_flops(state, static_cast<double>(rows) * static_cast<double>(s) * static_cast<double>(s));
    state.SetLabel("target gpu/syrk_42438 <= 400 ms fp32");
}
BENCHMARK(BM_Syrk)
    ->Name("BM_Syrk<float>/cuda")
    ->Arg(kSubnetwork)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

}  // namespace
}  // namespace postr::bench
