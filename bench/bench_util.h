// Shared benchmark helpers: the device check and FLOP/byte counters (STYLE 3.10).
#pragma once

#include <benchmark/benchmark.h>

#include "postr/core/cuda_context.h"

namespace postr::bench {

// Skips a CUDA benchmark with a reason when no device is present; returns false then.
inline bool require_cuda(benchmark::State& state) {
    if (cuda_is_available()) return true;
    state.SkipWithError("no CUDA device");
    return false;
}

// Reports `flops` floating-point operations per iteration as a GFLOP/s rate.
inline void set_flops(benchmark::State& state, double flops) {
    state.counters["GFLOP/s"] = benchmark::Counter(
        flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace postr::bench
