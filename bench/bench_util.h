// Shared benchmark helpers: the device check and FLOP/byte counters (STYLE 3.10).
#pragma once

#include <chrono>
#include <string>

#include <benchmark/benchmark.h>

#if __has_include(<cuda_runtime.h>)
#include <cuda_runtime.h>
#define POSTR_BENCH_HAS_CUDA_RUNTIME 1
#endif

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

namespace postr::bench {

// Skips a CUDA benchmark with a reason when no device is present; returns false then.
inline bool require_cuda(benchmark::State& state) {
    if (cuda_is_available()) return true;
    state.SkipWithError("no CUDA device");
    return false;
}

// Uniform [−1, 1) input of `shape` in T's dtype on `device`, from `seed`.
template <class T>
Tensor random_input(const Shape& shape, std::uint64_t seed, Device device) {
    Generator gen(seed);
    return uniform(shape, gen, -1.0, 1.0, dtype_of<T>(), device);
}

// Reports `streams` passes over n elements of T per iteration as bytes processed.
template <class T>
void set_bytes(benchmark::State& state, std::int64_t n, int streams) {
    state.SetBytesProcessed(state.iterations() * n * streams *
                            static_cast<std::int64_t>(sizeof(T)));
}

// Reports `flops` floating-point operations per iteration as a GFLOP/s rate.
inline void set_flops(benchmark::State& state, double flops) {
    state.counters["GFLOP/s"] = benchmark::Counter(
        flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Times `body` on the GPU as manual time, after one warm-up call: CUDA events on postr's stream
// where the CUDA runtime headers are available, else wall time up to a device synchronization.
// Register the benchmark with ->UseManualTime().
template <class Body>
void time_cuda(benchmark::State& state, Body&& body) {
    body();
    cuda_synchronize();
#ifdef POSTR_BENCH_HAS_CUDA_RUNTIME
    cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream().handle);
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    for (auto _ : state) {
        cudaEventRecord(start, stream);
        body();
        cudaEventRecord(stop, stream);
        cudaEventSynchronize(stop);
        float ms = 0;
        cudaEventElapsedTime(&ms, start, stop);
        state.SetIterationTime(static_cast<double>(ms) * 1e-3);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
#else
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        cuda_synchronize();
        state.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
#endif
}

// "cuda" → the GPU, anything else → the CPU (the device argument of BENCHMARK_CAPTURE rows).
inline Device device_of(const std::string& name) {
    return name == "cuda" ? Device::cuda() : Device::cpu();
}

// Times body on the device: CUDA events on the GPU (register with ->UseManualTime()), wall
// time on the CPU after one warm-up call (which fills the caching allocator).
template <class Body>
void run_on(benchmark::State& state, Device device, Body&& body) {
    if (device.is_cuda()) {
        time_cuda(state, body);
    } else {
        body();
        for (auto _ : state) body();
    }
}

}  // namespace postr::bench
