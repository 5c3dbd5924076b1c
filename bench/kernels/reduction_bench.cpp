// Reduction and softmax throughput: sum over all elements in GB/s (bytes read), and log_softmax
// over rows of a [N, C] batch of logits (the cross-entropy shapes: a small batch of 10 classes and
// a large batch of 1000). The baseline BM_SumLoop is a plain single-threaded loop with 8
// accumulators over a raw array in the same binary: the bandwidth one core reaches without
// postr's cascade and thread pool.
#include <chrono>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using bench::random_input;
using bench::set_bytes;

template <class T, Device::Kind kind>
void BM_Sum(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    const Tensor x = random_input<T>({n}, 1, device);
    if (device.is_cuda()) {
        bench::time_cuda(state, [&] { benchmark::DoNotOptimize(sum(x)); });
    } else {
        for (auto _ : state) benchmark::DoNotOptimize(sum(x));
    }
    state.SetBytesProcessed(state.iterations() * n * static_cast<std::int64_t>(sizeof(T)));
}

template <class T>
void BM_SumLoop(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const std::vector<T> x = random_input<T>({n}, 1, Device::cpu()).template to_vector<T>();
    for (auto _ : state) {
        T acc[8] = {};
        const T* p = x.data();
        std::int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; ++k) acc[k] += p[i + k];
        for (; i < n; ++i) acc[0] += p[i];
        T s = 0;
        for (T a : acc) s += a;
        benchmark::DoNotOptimize(s);
    }
    state.SetBytesProcessed(state.iterations() * n * static_cast<std::int64_t>(sizeof(T)));
}

template <class T, Device::Kind kind>
void BM_LogSoftmax(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t rows = state.range(0), classes = state.range(1);
    const Tensor x = random_input<T>({rows, classes}, 2, device);
    if (device.is_cuda()) {
        bench::time_cuda(state, [&] { benchmark::DoNotOptimize(log_softmax(x, -1)); });
    } else {
        for (auto _ : state) benchmark::DoNotOptimize(log_softmax(x, -1));
    }
    // Read the logits, write the log-probabilities.
    state.SetBytesProcessed(state.iterations() * rows * classes * 2 *
                            static_cast<std::int64_t>(sizeof(T)));
}

constexpr auto kCpu = Device::Kind::cpu;
constexpr auto kCuda = Device::Kind::cuda;

// CPU work runs on the pool's threads, so rates use wall time, not the caller's CPU time.
BENCHMARK_TEMPLATE(BM_Sum, float, kCpu)
    ->Name("BM_Sum<float>/cpu")
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Sum, float, kCuda)
    ->Name("BM_Sum<float>/cuda")
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->UseManualTime();
BENCHMARK_TEMPLATE(BM_SumLoop, float)
    ->Name("BM_SumLoop<float>/cpu")
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_LogSoftmax, float, kCpu)
    ->Name("BM_LogSoftmax<float>/cpu")
    ->Args({128, 10})
    ->Args({4096, 1000})
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_LogSoftmax, float, kCuda)
    ->Name("BM_LogSoftmax<float>/cuda")
    ->Args({128, 10})
    ->Args({4096, 1000})
    ->UseManualTime();

}  // namespace
}  // namespace postr
