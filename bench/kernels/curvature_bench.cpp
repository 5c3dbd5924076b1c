// Per-layer curvature kernels (curvature_ops.h) at the sizes of the workloads: the per-sample
// Jacobian of the MLP 64-128-128-10 (N = 128, K = 10, D = 26,122: cpu/jacobian_mlp in
// WORKLOADS.md), each layer into its column slice of one [N, K, D] buffer allocated once, and
// the whole Jacobian; beside it a plain fill of the same buffer (the write-bandwidth floor).
// Plus a Conv2d layer (N = 8, K = 10, 64 → 64 channels, 8x8, 3x3, padding 1).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/config.h"
#include "postr/core/cuda_context.h"
#include "postr/kernels/curvature_ops.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using bench::random_input;
using bench::require_cuda;
using bench::set_bytes;
using bench::set_flops;

using i64 = std::int64_t;

constexpr i64 kN = 128, kK = 10;
constexpr i64 kWidths[] = {64, 128, 128, 10};  // the MLP's layer widths

i64 layer_params(i64 in, i64 out) { return out * in + out; }
i64 mlp_params() {
    i64 d = 0;
    for (int l = 0; l < 3; ++l) d += layer_params(kWidths[l], kWidths[l + 1]);
    return d;  // 26,122
}

// Layer l's inputs: cot [K, N, O] and x [N, I], and its column offset in the [N, K, D] buffer.
struct MlpLayer {
    Tensor cot, x;
    i64 offset, p;
};
template <class T>
std::vector<MlpLayer> mlp_layers(Device device) {
    std::vector<MlpLayer> layers;
    i64 offset = 0;
    for (int l = 0; l < 3; ++l) {
        const i64 in = kWidths[l], out = kWidths[l + 1], p = layer_params(in, out);
        layers.push_back({random_input<T>({kK, kN, out}, 10 + l, device),
                          random_input<T>({kN, in}, 20 + l, device), offset, p});
        offset += p;
    }
    return layers;
}

// The layer whose (in, out) sizes are state.range(0), state.range(1).
int layer_of(const benchmark::State& state) {
    for (int l = 0; l < 3; ++l)
        if (kWidths[l] == state.range(0) && kWidths[l + 1] == state.range(1)) return l;
    return 0;
}

template <class T>
void write_layer(const MlpLayer& layer, const Tensor& jac) {
    linear_jacobian_into(layer.cot, layer.x, true,
                         jac.slice(2, layer.offset, layer.offset + layer.p));
}

// --- CPU -------------------------------------------------------------------------------------

template <class T>
void BM_LinearJacobian_cpu(benchmark::State& state) {
    const auto layers = mlp_layers<T>(Device::cpu());
    const MlpLayer& layer = layers[static_cast<std::size_t>(layer_of(state))];
    Tensor jac = Tensor::zeros({kN, kK, mlp_params()}, dtype_of<T>());  // [N, K, D]
    for (auto _ : state) {
        write_layer<T>(layer, jac);
        benchmark::DoNotOptimize(jac.data_ptr());
    }
    set_bytes<T>(state, kN * kK * layer.p, 1);
}

template <class T>
void BM_MlpJacobian_cpu(benchmark::State& state) {
    const auto layers = mlp_layers<T>(Device::cpu());
    Tensor jac = Tensor::zeros({kN, kK, mlp_params()}, dtype_of<T>());
    for (auto _ : state) {
        for (const MlpLayer& layer : layers) write_layer<T>(layer, jac);
        benchmark::DoNotOptimize(jac.data_ptr());
    }
    set_bytes<T>(state, jac.numel(), 1);
}

// The floor: filling the same [N, K, D] buffer (one write stream, as the Jacobian).
template <class T>
void BM_MlpJacobianFillDirect_cpu(benchmark::State& state) {
    Tensor jac = Tensor::zeros({kN, kK, mlp_params()}, dtype_of<T>());
    for (auto _ : state) {
        jac.fill_(1.0);
        benchmark::DoNotOptimize(jac.data_ptr());
    }
    set_bytes<T>(state, jac.numel(), 1);
}

constexpr i64 kConvN = 8, kConvChannels = 64, kConvSize = 8, kConvKernel = 3;
const Conv2dOptions kConvOptions{1, 1, 1, 1, 1, 1};
i64 conv_params() {
    return kConvChannels * kConvChannels * kConvKernel * kConvKernel + kConvChannels;
}
// One GEMM per (n, k): 2·O·(I·kH·kW)·(H·W) each.
double conv_flops() {
    return 2.0 * kConvN * kK * kConvChannels * kConvChannels * kConvKernel * kConvKernel *
           kConvSize * kConvSize;
}

struct ConvInputs {
    Tensor cot, x, jac;
};
template <class T>
ConvInputs conv_inputs(Device device) {
    return {random_input<T>({kK, kConvN, kConvChannels, kConvSize, kConvSize}, 30, device),
            random_input<T>({kConvN, kConvChannels, kConvSize, kConvSize}, 31, device),
            Tensor::zeros({kConvN, kK, conv_params()}, dtype_of<T>(), device)};
}

template <class T>
void BM_Conv2dJacobian_cpu(benchmark::State& state) {
    const ConvInputs c = conv_inputs<T>(Device::cpu());
    for (auto _ : state) {
        conv2d_jacobian_into(c.cot, c.x, kConvKernel, kConvKernel, kConvOptions, true, c.jac);
        benchmark::DoNotOptimize(c.jac.data_ptr());
    }
    set_bytes<T>(state, c.jac.numel(), 1);
    set_flops(state, conv_flops());
}

// --- CUDA ------------------------------------------------------------------------------------

template <class T>
void BM_LinearJacobian_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    const auto layers = mlp_layers<T>(Device::cuda());
    const MlpLayer& layer = layers[static_cast<std::size_t>(layer_of(state))];
    Tensor jac = Tensor::zeros({kN, kK, mlp_params()}, dtype_of<T>(), Device::cuda());
    bench::time_cuda(state, [&] { write_layer<T>(layer, jac); });
    set_bytes<T>(state, kN * kK * layer.p, 1);
}

template <class T>
void BM_MlpJacobian_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    const auto layers = mlp_layers<T>(Device::cuda());
    Tensor jac = Tensor::zeros({kN, kK, mlp_params()}, dtype_of<T>(), Device::cuda());
    bench::time_cuda(state, [&] {
        for (const MlpLayer& layer : layers) write_layer<T>(layer, jac);
    });
    set_bytes<T>(state, jac.numel(), 1);
}

template <class T>
void BM_Conv2dJacobian_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    const ConvInputs c = conv_inputs<T>(Device::cuda());
    bench::time_cuda(state, [&] {
        conv2d_jacobian_into(c.cot, c.x, kConvKernel, kConvKernel, kConvOptions, true, c.jac);
    });
    set_bytes<T>(state, c.jac.numel(), 1);
    set_flops(state, conv_flops());
}

// Names in STYLE 3.10's form, BM_<Op><dtype>/<device>/<sizes>.
benchmark::internal::Benchmark* add(const std::string& op, const char* device,
                                    void (*fn)(benchmark::State&)) {
    auto* b = benchmark::RegisterBenchmark((op + "<float>/" + device).c_str(), fn);
    b->Unit(benchmark::kMillisecond);
    // Wall time on the CPU (the pool runs several threads); CUDA events on the GPU.
    if (std::string(device) == "cuda")
        b->UseManualTime();
    else
        b->UseRealTime();
    return b;
}

const bool registered = [] {
    for (const char* device : {"cpu", "cuda"}) {
        const bool cpu = std::string(device) == "cpu";
        auto* linear = add("BM_LinearJacobian", device,
                           cpu ? BM_LinearJacobian_cpu<float> : BM_LinearJacobian_cuda<float>);
        for (int l = 0; l < 3; ++l) linear->Args({kWidths[l], kWidths[l + 1]});
        add("BM_MlpJacobian", device, cpu ? BM_MlpJacobian_cpu<float> : BM_MlpJacobian_cuda<float>)
            ->Arg(kN);
        if (cpu)
            add("BM_MlpJacobianFillDirect", device, BM_MlpJacobianFillDirect_cpu<float>)->Arg(kN);
        add("BM_Conv2dJacobian", device,
            cpu ? BM_Conv2dJacobian_cpu<float> : BM_Conv2dJacobian_cuda<float>)
            ->Arg(kConvN);
    }
    return true;
}();

}  // namespace
}  // namespace postr
