// Elementwise throughput in GB/s (bytes read + written): add (a fresh output per call) and the
// in-place axpy_ that optimizers and samplers run once per step over all D parameters. The
// baseline BM_AxpyLoop is a plain single-threaded loop over raw arrays in the same binary: the
// bandwidth one core reaches without postr's strided iterator and thread pool.
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
void BM_Add(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    const Tensor a = random_input<T>({n}, 1, device), b = random_input<T>({n}, 2, device);
    if (device.is_cuda()) {
        bench::time_cuda(state, [&] { benchmark::DoNotOptimize(add(a, b)); });
    } else {
        for (auto _ : state) benchmark::DoNotOptimize(add(a, b));
    }
    set_bytes<T>(state, n, 3);  // read a and b, write the output
}

template <class T, Device::Kind kind>
void BM_Axpy(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    Tensor y = random_input<T>({n}, 3, device);
    const Tensor x = random_input<T>({n}, 4, device);
    if (device.is_cuda()) {
        bench::time_cuda(state, [&] { axpy_(y, 1e-3, x); });
    } else {
        for (auto _ : state) {
            axpy_(y, 1e-3, x);
            benchmark::ClobberMemory();
        }
    }
    set_bytes<T>(state, n, 3);  // read x and y, write y
}

template <class T>
void BM_AxpyLoop(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    std::vector<T> y = random_input<T>({n}, 3, Device::cpu()).template to_vector<T>();
    const std::vector<T> x = random_input<T>({n}, 4, Device::cpu()).template to_vector<T>();
    const T alpha = T(1e-3);
    for (auto _ : state) {
        T* yp = y.data();
        const T* xp = x.data();
        for (std::int64_t i = 0; i < n; ++i) yp[i] += alpha * xp[i];
        benchmark::ClobberMemory();
    }
    set_bytes<T>(state, n, 3);
}

constexpr auto kCpu = Device::Kind::cpu;
constexpr auto kCuda = Device::Kind::cuda;

BENCHMARK_TEMPLATE(BM_Add, float, kCpu)->Name("BM_Add<float>/cpu")->Arg(1 << 20)->Arg(1 << 24);
BENCHMARK_TEMPLATE(BM_Add, float, kCuda)
    ->Name("BM_Add<float>/cuda")
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->UseManualTime();
BENCHMARK_TEMPLATE(BM_Axpy, float, kCpu)->Name("BM_Axpy<float>/cpu")->Arg(1 << 20)->Arg(1 << 24);
BENCHMARK_TEMPLATE(BM_Axpy, float, kCuda)
    ->Name("BM_Axpy<float>/cuda")
    ->Arg(1 << 20)
    ->Arg(1 << 24)
    ->UseManualTime();
BENCHMARK_TEMPLATE(BM_AxpyLoop, float)->Name("BM_AxpyLoop<float>/cpu")->Arg(1 << 20)->Arg(1 << 24);

}  // namespace
}  // namespace postr
