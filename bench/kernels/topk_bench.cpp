// Top-k throughput on the subnetwork-selection workload (gpu/topk_11m in WORKLOADS.md): the
// k = 42,438 largest of D = 11,173,962 floats, in elements scanned per second. The CPU baseline
// BM_TopKNthElement is std::nth_element plus std::sort of the k best over a plain array of
// (value, index) pairs on one thread, in the same binary.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSubnetwork = 42438;

template <class T>
std::vector<T> random_values(std::int64_t n) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<T> dist(-1, 1);
    std::vector<T> v(static_cast<std::size_t>(n));
    for (auto& e : v) e = dist(rng);
    return v;
}

template <class T, Device::Kind kind>
void BM_TopK(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    const std::int64_t k = std::min(kSubnetwork, n);
    const Tensor x = Tensor::from_vector(random_values<T>(n), {n}, device);
    if (device.is_cuda()) {
        // Manual time: one warm-up call, then wall time up to a synchronization per iteration.
        benchmark::DoNotOptimize(topk(x, k));
        cuda_synchronize(device.index);
        for (auto _ : state) {
            const auto start = Clock::now();
            benchmark::DoNotOptimize(topk(x, k));
            cuda_synchronize(device.index);
            state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
        }
        state.SetLabel("target gpu/topk_11m <= 50 us");
    } else {
        for (auto _ : state) benchmark::DoNotOptimize(topk(x, k));
    }
    state.SetItemsProcessed(state.iterations() * n);
}

template <class T>
void BM_TopKNthElement(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const std::int64_t k = std::min(kSubnetwork, n);
    const std::vector<T> x = random_values<T>(n);
    std::vector<std::pair<T, std::int64_t>> pairs(x.size());
    auto first = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (auto _ : state) {
        for (std::size_t i = 0; i < x.size(); ++i) pairs[i] = {x[i], static_cast<std::int64_t>(i)};
        std::nth_element(pairs.begin(), pairs.begin() + k, pairs.end(), first);
        std::sort(pairs.begin(), pairs.begin() + k, first);
        benchmark::DoNotOptimize(pairs.data());
    }
    state.SetItemsProcessed(state.iterations() * n);
}

constexpr auto kCpu = Device::Kind::cpu;
constexpr auto kCuda = Device::Kind::cuda;
constexpr std::int64_t kParameters = 11173962;  // D of the ResNet-18 CIFAR workload

BENCHMARK_TEMPLATE(BM_TopK, float, kCpu)
    ->Name("BM_TopK<float>/cpu")
    ->Arg(kParameters)
    ->UseRealTime()  // the CPU topk runs on the thread pool: wall time is what a caller waits
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_TopK, float, kCuda)
    ->Name("BM_TopK<float>/cuda")
    ->Arg(kParameters)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_TopKNthElement, float)
    ->Name("BM_TopKNthElement<float>/cpu")
    ->Arg(kParameters)
    ->UseRealTime()  // the CPU topk runs on the thread pool: wall time is what a caller waits
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace postr
