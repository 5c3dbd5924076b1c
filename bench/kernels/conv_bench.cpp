// conv2d forward and backward (input + weight gradients) on a ResNet-18 CIFAR layer: 64 → 64
// channels, 32x32, 3x3, padding 1; N = 32 on the CPU, 128 on CUDA. Beside each, the one GEMM of
// the same size (C_out × C_in·9 × N·H·W) called directly on OpenBLAS/cuBLAS: the im2col-GEMM
// roofline, so GFLOP/s read as a fraction of it.
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define POSTR_CONV_BENCH_HAS_CUDA_HEADERS 1
#endif

#include "postr/config.h"
#include "postr/core/cuda_context.h"
#include "postr/kernels/cpu/blas.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using bench::require_cuda;
using bench::set_flops;

using i64 = std::int64_t;

constexpr i64 kChannels = 64, kSize = 32, kKernel = 3;
const Conv2dOptions kOptions{1, 1, 1, 1, 1, 1};

template <class T>
Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> v(static_cast<std::size_t>(numel(shape)));
    for (T& x : v) x = static_cast<T>(u(rng));
    return Tensor::from_vector(v, shape);
}

// One forward pass: 2·N·C_out·H·W·C_in·kH·kW; a backward pass (input + weight) is twice that.
double conv_flops(i64 n) {
    return 2.0 * n * kChannels * kSize * kSize * kChannels * kKernel * kKernel;
}

struct Operands {
    Tensor x, w, grad_out;
};
template <class T>
Operands operands(i64 n, Device device) {
    return {random_tensor<T>({n, kChannels, kSize, kSize}, 1).to(device),
            random_tensor<T>({kChannels, kChannels, kKernel, kKernel}, 2).to(device),
            random_tensor<T>({n, kChannels, kSize, kSize}, 3).to(device)};
}

// --- CPU -------------------------------------------------------------------------------------

template <class T>
void BM_Conv2d_cpu(benchmark::State& state) {
    const Operands o = operands<T>(state.range(0), Device::cpu());
    for (auto _ : state) benchmark::DoNotOptimize(conv2d(o.x, o.w, Tensor(), kOptions).data_ptr());
    set_flops(state, conv_flops(state.range(0)));
}

template <class T>
void BM_Conv2dBackward_cpu(benchmark::State& state) {
    const Operands o = operands<T>(state.range(0), Device::cpu());
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            conv2d_backward_input(o.grad_out, o.w, o.x.shape(), kOptions).data_ptr());
        benchmark::DoNotOptimize(
            conv2d_backward_weight(o.grad_out, o.x, o.w.shape(), kOptions).data_ptr());
    }
    set_flops(state, 2 * conv_flops(state.range(0)));
}

// The forward's GEMM alone: [C_out, K] · [K, N·H·W], row-major, straight to OpenBLAS.
template <class T>
void BM_Conv2dGemmDirect_cpu(benchmark::State& state) {
    const i64 k = kChannels * kKernel * kKernel, cols = state.range(0) * kSize * kSize;
    const Tensor a = random_tensor<T>({kChannels, k}, 4), b = random_tensor<T>({k, cols}, 5);
    Tensor c = Tensor::empty({kChannels, cols}, a.dtype());
    for (auto _ : state) {
        cpu::blas::gemm_row_major<T>(false, false, static_cast<int>(kChannels),
                                     static_cast<int>(cols), static_cast<int>(k), T(1), a.data<T>(),
                                     static_cast<int>(k), b.data<T>(), static_cast<int>(cols), T(0),
                                     c.data<T>(), static_cast<int>(cols));
        benchmark::DoNotOptimize(c.data_ptr());
    }
    set_flops(state, conv_flops(state.range(0)));
}

// --- CUDA ------------------------------------------------------------------------------------

#ifdef POSTR_CONV_BENCH_HAS_CUDA_HEADERS

cudaStream_t bench_stream() { return static_cast<cudaStream_t>(cuda_stream(0).handle); }

template <class T>
void BM_Conv2d_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const Operands o = operands<T>(state.range(0), Device::cuda());
        bench::time_cuda(state, [&] {
            benchmark::DoNotOptimize(conv2d(o.x, o.w, Tensor(), kOptions).data_ptr());
        });
        set_flops(state, conv_flops(state.range(0)));
    }
}

template <class T>
void BM_Conv2dBackward_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const Operands o = operands<T>(state.range(0), Device::cuda());
        bench::time_cuda(state, [&] {
            benchmark::DoNotOptimize(
                conv2d_backward_input(o.grad_out, o.w, o.x.shape(), kOptions).data_ptr());
            benchmark::DoNotOptimize(
                conv2d_backward_weight(o.grad_out, o.x, o.w.shape(), kOptions).data_ptr());
        });
        set_flops(state, 2 * conv_flops(state.range(0)));
    }
}

// The forward's GEMM alone on cuBLAS (column-major: [N·H·W, K] · [K, C_out]).
template <class T>
void BM_Conv2dGemmDirect_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const int k = static_cast<int>(kChannels * kKernel * kKernel);
        const int cols = static_cast<int>(state.range(0) * kSize * kSize);
        const int m = static_cast<int>(kChannels);
        const Tensor a = random_tensor<T>({m, k}, 4).to(Device::cuda()),
                     b = random_tensor<T>({k, cols}, 5).to(Device::cuda());
        Tensor c = Tensor::empty({m, cols}, a.dtype(), Device::cuda());
        cublasHandle_t handle;
        cublasCreate(&handle);
        cublasSetStream(handle, bench_stream());
        cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);  // full fp32, as postr
        const T one = 1, zero = 0;
        bench::time_cuda(state, [&] {
            cublasStatus_t s;
            if constexpr (std::is_same_v<T, float>)
                s = cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, cols, m, k, &one, b.data<T>(),
                                cols, a.data<T>(), k, &zero, c.data<T>(), cols);
            else
                s = cublasDgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, cols, m, k, &one, b.data<T>(),
                                cols, a.data<T>(), k, &zero, c.data<T>(), cols);
            if (s != CUBLAS_STATUS_SUCCESS) state.SkipWithError("cublas gemm failed");
        });
        cublasDestroy(handle);
        set_flops(state, conv_flops(state.range(0)));
    }
}

#else

template <class T>
void BM_Conv2d_cuda(benchmark::State& state) {
    if (require_cuda(state)) state.SkipWithError("benchmark built without CUDA headers");
}
template <class T>
void BM_Conv2dBackward_cuda(benchmark::State& state) {
    BM_Conv2d_cuda<T>(state);
}
template <class T>
void BM_Conv2dGemmDirect_cuda(benchmark::State& state) {
    BM_Conv2d_cuda<T>(state);
}

#endif

// Names in STYLE 3.10's form, BM_<Op><dtype>/<device>/<N>; postr's ops and the direct GEMM
// are registered back to back so they run under the same machine load.
void add(const char* op, const char* device, void (*fn)(benchmark::State&), i64 n) {
    auto* b = benchmark::RegisterBenchmark((std::string(op) + "<float>/" + device).c_str(), fn);
    b->Arg(n)->Unit(benchmark::kMillisecond);
    // Wall time on the CPU (BLAS and the pool run several threads); CUDA events on the GPU.
    if (std::string(device) == "cuda")
        b->UseManualTime();
    else
        b->UseRealTime();
}

const bool registered = [] {
    add("BM_Conv2d", "cpu", BM_Conv2d_cpu<float>, 32);
    add("BM_Conv2dBackward", "cpu", BM_Conv2dBackward_cpu<float>, 32);
    add("BM_Conv2dGemmDirect", "cpu", BM_Conv2dGemmDirect_cpu<float>, 32);
    add("BM_Conv2d", "cuda", BM_Conv2d_cuda<float>, 128);
    add("BM_Conv2dBackward", "cuda", BM_Conv2dBackward_cuda<float>, 128);
    add("BM_Conv2dGemmDirect", "cuda", BM_Conv2dGemmDirect_cuda<float>, 128);
    return true;
}();

}  // namespace
}  // namespace postr
