// The subnetwork linearized Laplace pipeline end to end (issue 7, "Benchmarks"), at the sizes of
// WORKLOADS.md, CPU and CUDA:
//   BM_SubnetFit*      the whole fit: the diagonal GGN over the data (for the marginal
//                      variances 1/(diag G + λ)), the Wasserstein selection of the S largest,
//                      the dense S×S GGN over the subnetwork and its Cholesky factor;
//   BM_SubnetPredict*  the linearized predictive f(x*) ~ N(f(x*; θ_MAP), J_*S Σ_S J_*Sᵀ) for a
//                      batch of test inputs (per-sample subnetwork Jacobians, one triangular
//                      solve), reported per test point.
// Workloads: the MLP 64-128-128-10 of cpu/subnet_ggn_mlp (D = 26,122) with S = 2,000 from
// N = 1,024 samples, cross-entropy; and the ResNet-18 CIFAR variant with S = 42,438 from
// N = 1,024 on CUDA (gpu/subnet_ggn_resnet18 + gpu/cholesky_42438), with a documented smaller
// CPU reference (S = 4,096 from N = 4: a CPU spends ≈ 0.26 s per sample on one ResNet-18
// subnetwork Jacobian, so N = 1,024 would take minutes per iteration).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/layers/sequential.h"

#include "bench/bench_util.h"

namespace postr::bench {
namespace {

constexpr double kPriorPrecision = 1.0;

// One benchmark problem: a model in eval mode at some θ (standing in for the MAP), training
// inputs for the curvature and test inputs for the predictive.
struct Problem {
    std::shared_ptr<nn::Module> model;
    Tensor train_x, test_x;
    std::int64_t s = 0;  // subnetwork size
};

// cpu/subnet_ggn_mlp's MLP 64-128-128-10 with N = 1,024 and S = 2,000.
Problem mlp_problem(Device device, std::int64_t test_n) {
    std::vector<std::shared_ptr<nn::Module>> layers{
        std::make_shared<nn::Linear>(64, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 10)};
    auto net = std::make_shared<nn::Sequential>(layers);
    net->finalize(0, DType::f32, device);
    net->eval();
    Problem p;
    p.model = std::move(net);
    p.train_x = random_input<float>({1024, 64}, 1, device);
    p.test_x = random_input<float>({test_n, 64}, 2, device);
    p.s = 2000;
    return p;
}

// The ResNet-18 CIFAR variant (11,173,962 weights) with n training images and S weights.
Problem resnet_problem(Device device, std::int64_t n, std::int64_t s, std::int64_t test_n) {
    Problem p;
    p.model = nn::resnet18(10, 3, true, 0, DType::f32, device);
    p.model->eval();
    p.train_x = random_input<float>({n, 3, 32, 32}, 3, device);
    p.test_x = random_input<float>({test_n, 3, 32, 32}, 4, device);
    p.s = s;
    return p;
}

// Wall time per stage of the fit, summed over the calls (CPU rows report their means).
struct StageTimes {
    double diagonal = 0, selection = 0, dense = 0, cholesky = 0;
    std::int64_t calls = 0;
};

// The whole fit: diagonal GGN → marginal variances → Wasserstein top-S → dense GGN → Cholesky.
// With `times` (CPU only: GPU work is asynchronous), each stage is timed.
void fit_subnetwork(Problem& p, std::int64_t chunk, StageTimes* times = nullptr) {
    using Clock = std::chrono::steady_clock;
    auto t = Clock::now();
    auto lap = [&](double StageTimes::*stage) {
        if (!times) return;
        const auto now = Clock::now();
        times->*stage += std::chrono::duration<double>(now - t).count();
        t = now;
    };
    nn::CurvatureOptions curvature;
    curvature.chunk_size = chunk;
    nn::DiagonalCurvature diagonal(*p.model, curvature);
    diagonal.accumulate(p.train_x);
    lap(&StageTimes::diagonal);
    const Tensor variances = reciprocal(add(diagonal.diagonal(), kPriorPrecision));
    const Tensor index = nn::select_largest_variance(variances, p.s);
    lap(&StageTimes::selection);
    inference::SubnetworkLaplaceOptions options;
    options.prior_precision = kPriorPrecision;
    options.chunk_size = chunk;
    inference::SubnetworkLaplace la(*p.model, index, options);
    la.accumulate(p.train_x);
    lap(&StageTimes::dense);
    la.fit();
    benchmark::DoNotOptimize(la.precision_cholesky());
    lap(&StageTimes::cholesky);
    if (times) ++times->calls;
}

// Reports the mean stage times of the timed iterations in milliseconds.
void set_stage_counters(benchmark::State& state, const StageTimes& t) {
    if (t.calls == 0) return;
    const double to_ms = 1e3 / static_cast<double>(t.calls);
    state.counters["diag_ggn_ms"] = t.diagonal * to_ms;
    state.counters["select_ms"] = t.selection * to_ms;
    state.counters["dense_ggn_ms"] = t.dense * to_ms;
    state.counters["cholesky_ms"] = t.cholesky * to_ms;
}

// A fitted posterior for the predictive rows (outside the timed region).
std::unique_ptr<inference::SubnetworkLaplace> fitted(Problem& p, std::int64_t chunk) {
    inference::SubnetworkLaplaceOptions options;
    options.prior_precision = kPriorPrecision;
    options.chunk_size = chunk;
    const Tensor index = nn::select_random(p.model->num_parameters(), p.s, 5, p.train_x.device());
    auto la = std::make_unique<inference::SubnetworkLaplace>(*p.model, index, options);
    la->accumulate(p.train_x);
    la->fit();
    return la;
}

void set_per_test_point(benchmark::State& state, std::int64_t n) {
    // Seconds per test point (a rate inverted), printed with an SI prefix.
    state.counters["time_per_point"] =
        benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- MLP (cpu/subnet_ggn_mlp sizes) -----------------------------------------------------------

void BM_SubnetFitMlp(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p = mlp_problem(device, 1);
    StageTimes times;
    if (device.is_cuda()) {
        time_cuda(state, [&] { fit_subnetwork(p, 0); });
    } else {
        fit_subnetwork(p, 0);  // warm the caching allocator
        for (auto _ : state) fit_subnetwork(p, 0, &times);
        set_stage_counters(state, times);
    }
    state.SetLabel(
        "S = 2000, N = 1024: diag GGN + Wasserstein top-S + dense GGN + Cholesky "
        "(dense GGN alone: cpu/subnet_ggn_mlp <= 350 ms)");
}
BENCHMARK_CAPTURE(BM_SubnetFitMlp, cpu, "cpu")
    ->Name("BM_SubnetFitMlp/cpu")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SubnetFitMlp, cuda, "cuda")
    ->Name("BM_SubnetFitMlp/cuda")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

void BM_SubnetPredictMlp(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    Problem p = mlp_problem(device, n);
    const auto la = fitted(p, 0);
    run_on(state, device, [&] { benchmark::DoNotOptimize(la->predict(p.test_x).covariance); });
    set_per_test_point(state, n);
    state.SetLabel("S = 2000, C = 10: mean and 10x10 covariance per test point");
}
BENCHMARK_CAPTURE(BM_SubnetPredictMlp, cpu, "cpu")
    ->Name("BM_SubnetPredictMlp/cpu")
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SubnetPredictMlp, cuda, "cuda")
    ->Name("BM_SubnetPredictMlp/cuda")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

// ---- ResNet-18 CIFAR variant (gpu/subnet_ggn_resnet18 sizes on CUDA) -------------------------

void BM_SubnetFitResnet18(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    Problem p = resnet_problem(device, state.range(0), state.range(1), 1);
    const std::int64_t chunk = device.is_cuda() ? 64 : 0;
    StageTimes times;
    if (device.is_cuda()) {
        time_cuda(state, [&] { fit_subnetwork(p, chunk); });
    } else {
        for (auto _ : state) fit_subnetwork(p, chunk, &times);
        set_stage_counters(state, times);
    }
    state.SetLabel(device.is_cuda()
                       ? "S = 42438, N = 1024 (dense GGN alone: gpu/subnet_ggn_resnet18 <= 0.9 s; "
                         "Cholesky: gpu/cholesky_42438)"
                       : "CPU reference at a smaller S and N");
}
BENCHMARK_CAPTURE(BM_SubnetFitResnet18, cpu, "cpu")
    ->Name("BM_SubnetFitResnet18/cpu")
    ->Args({4, 4096})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SubnetFitResnet18, cuda, "cuda")
    ->Name("BM_SubnetFitResnet18/cuda")
    ->Args({1024, 42438})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

void BM_SubnetPredictResnet18(benchmark::State& state, const std::string& dev) {
    const Device device = device_of(dev);
    if (device.is_cuda() && !require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    Problem p = resnet_problem(device, device.is_cuda() ? 64 : 2, state.range(1), n);
    const std::int64_t chunk = device.is_cuda() ? 64 : 0;
    const auto la = fitted(p, chunk);
    run_on(state, device, [&] { benchmark::DoNotOptimize(la->predict(p.test_x).covariance); });
    set_per_test_point(state, n);
    state.SetLabel(device.is_cuda() ? "S = 42438, C = 10" : "CPU reference at a smaller S");
}
BENCHMARK_CAPTURE(BM_SubnetPredictResnet18, cpu, "cpu")
    ->Name("BM_SubnetPredictResnet18/cpu")
    ->Args({4, 4096})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_SubnetPredictResnet18, cuda, "cuda")
    ->Name("BM_SubnetPredictResnet18/cuda")
    ->Args({256, 42438})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

}  // namespace
}  // namespace postr::bench
