// Fused optimizer steps in GB/s over ResNet-18's parameter count (D = 11,173,962): one pass per
// step, so the figure to compare is the machine's streaming bandwidth (BM_AxpyLoop's, in
// elementwise_bench.cpp, on the CPU). Bytes per step: SGD with momentum reads param, grad and the
// buffer and writes param and the buffer (5 streams); Adam reads param, grad, exp_avg and
// exp_avg_sq and writes three of them back (7 streams). CPU rates use wall time: the work runs on
// the thread pool, so the calling thread's CPU time would overstate them.
#include <cstdint>

#include <benchmark/benchmark.h>

#include "postr/core/philox.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using bench::random_input;
using bench::set_bytes;

constexpr std::int64_t kResNet18Params = 11'173'962;

template <class T, Device::Kind kind>
void BM_SgdStep(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    Tensor param = random_input<T>({n}, 1, device), buffer = random_input<T>({n}, 2, device);
    const Tensor grad = random_input<T>({n}, 3, device);
    // A tiny lr keeps the parameters bounded however many iterations run.
    const SgdOptions options{1e-6, 0.9, 0.0, 5e-4, true};
    auto step = [&] { sgd_step_(param, grad, buffer, options, false); };
    if (device.is_cuda()) {
        bench::time_cuda(state, step);
    } else {
        for (auto _ : state) {
            step();
            benchmark::ClobberMemory();
        }
    }
    set_bytes<T>(state, n, 5);
}

template <class T, Device::Kind kind>
void BM_AdamStep(benchmark::State& state) {
    const Device device{kind, 0};
    if (device.is_cuda() && !bench::require_cuda(state)) return;
    const std::int64_t n = state.range(0);
    Tensor param = random_input<T>({n}, 1, device);
    Tensor exp_avg = Tensor::zeros({n}, dtype_of<T>(), device);
    Tensor exp_avg_sq = Tensor::zeros({n}, dtype_of<T>(), device);
    const Tensor grad = random_input<T>({n}, 3, device);
    const AdamOptions options{1e-6, 0.9, 0.999, 1e-8, 1e-2, true};
    std::int64_t t = 0;
    auto step = [&] { adam_step_(param, grad, exp_avg, exp_avg_sq, ++t, options); };
    if (device.is_cuda()) {
        bench::time_cuda(state, step);
    } else {
        for (auto _ : state) {
            step();
            benchmark::ClobberMemory();
        }
    }
    set_bytes<T>(state, n, 7);
}

constexpr auto kCpu = Device::Kind::cpu;
constexpr auto kCuda = Device::Kind::cuda;

BENCHMARK_TEMPLATE(BM_SgdStep, float, kCpu)
    ->Name("BM_SgdStep<float>/cpu")
    ->Arg(kResNet18Params)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_SgdStep, float, kCuda)
    ->Name("BM_SgdStep<float>/cuda")
    ->Arg(kResNet18Params)
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();
BENCHMARK_TEMPLATE(BM_AdamStep, float, kCpu)
    ->Name("BM_AdamStep<float>/cpu")
    ->Arg(kResNet18Params)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_AdamStep, float, kCuda)
    ->Name("BM_AdamStep<float>/cuda")
    ->Arg(kResNet18Params)
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();

}  // namespace
}  // namespace postr
