// Autodiff benchmarks: the graph's overhead on tiny ops, K cotangents in one batched vjp
// against K backward passes, jvp against a plain forward, and the GGN-vector product of the
// cpu/ggn_vp_mlp workload (WORKLOADS.md: MLP 64-128-128-10, N = 1,024, cross-entropy).
#include <benchmark/benchmark.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

// MLP 64-128-128-10 over a flat θ (D = 26,122), ReLU between layers.
struct Mlp {
    static constexpr std::int64_t kSizes[4] = {64, 128, 128, 10};
    Tensor inputs;
    explicit Mlp(std::int64_t n) {
        Generator g(1);
        inputs = normal({n, 64}, g, 0.0, 1.0, DType::f32);
    }
    static std::int64_t parameters() {
        std::int64_t d = 0;
        for (int l = 0; l < 3; ++l) d += kSizes[l + 1] * kSizes[l] + kSizes[l + 1];
        return d;
    }
    Var operator()(const Var& theta) const {
        Var h(inputs);
        std::int64_t at = 0;
        for (int l = 0; l < 3; ++l) {
            std::int64_t in = kSizes[l], out = kSizes[l + 1];
            Var w = reshape(slice(theta, 0, at, at + out * in), {out, in});
            at += out * in;
            Var b = slice(theta, 0, at, at + out);
            at += out;
            h = add(matmul(h, transpose(w, 0, 1)), b);
            if (l < 2) h = relu(h);
        }
        return h;
    }
};

Tensor theta_for_mlp() {
    Generator g(2);
    return normal({Mlp::parameters()}, g, 0.0, 0.05, DType::f32);
}

void BM_GraphOverhead(benchmark::State& state) {
    // 100 chained adds on one-element tensors, forward and backward: µs per op.
    Var x(Tensor::ones({1}), true);
    for (auto _ : state) {
        Var y = x;
        for (int i = 0; i < 100; ++i) y = add(y, x);
        y.backward();
        x.zero_grad();
    }
    state.counters["us_per_op"] = benchmark::Counter(
        100.0 / 1e6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_GraphOverhead)->Name("BM_GraphOverhead/cpu")->UseRealTime();

void BM_TensorOpsNoGraph(benchmark::State& state) {
    Tensor x = Tensor::ones({1});
    for (auto _ : state) {
        Tensor y = x;
        for (int i = 0; i < 100; ++i) y = add(y, x);
        benchmark::DoNotOptimize(y);
    }
}
BENCHMARK(BM_TensorOpsNoGraph)->Name("BM_TensorOpsNoGraph/cpu")->UseRealTime();

// vjp of the MLP's outputs w.r.t. θ for K = 10 cotangents (one per class): one batched pass.
void BM_VjpBatched(benchmark::State& state) {
    Mlp f(state.range(0));
    Tensor theta = theta_for_mlp();
    Generator g(3);
    Tensor u = normal({10, state.range(0), 10}, g, 0.0, 1.0, DType::f32);
    for (auto _ : state) benchmark::DoNotOptimize(vjp(f, theta, u).second);
}
BENCHMARK(BM_VjpBatched)
    ->Name("BM_VjpBatched<float>/cpu")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same K = 10 cotangents as 10 separate backward passes.
void BM_VjpLoop(benchmark::State& state) {
    Mlp f(state.range(0));
    Tensor theta = theta_for_mlp();
    Generator g(3);
    Tensor u = normal({10, state.range(0), 10}, g, 0.0, 1.0, DType::f32);
    for (auto _ : state)
        for (std::int64_t k = 0; k < 10; ++k) benchmark::DoNotOptimize(vjp(f, theta, u[k]).second);
}
BENCHMARK(BM_VjpLoop)
    ->Name("BM_VjpLoop<float>/cpu")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Forward(benchmark::State& state) {
    Mlp f(state.range(0));
    Tensor theta = theta_for_mlp();
    for (auto _ : state) {
        NoGradGuard no_graph;
        benchmark::DoNotOptimize(f(Var(theta)).value());
    }
}
BENCHMARK(BM_Forward)
    ->Name("BM_Forward<float>/cpu")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Jvp(benchmark::State& state) {
    Mlp f(state.range(0));
    Tensor theta = theta_for_mlp();
    Generator g(4);
    Tensor v = normal({Mlp::parameters()}, g, 0.0, 1.0, DType::f32);
    for (auto _ : state) benchmark::DoNotOptimize(jvp(f, theta, v).second);
}
BENCHMARK(BM_Jvp)
    ->Name("BM_Jvp<float>/cpu")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// cpu/ggn_vp_mlp: the general road (jvp → loss Hessian-vector product → vjp).
void BM_GgnVectorProduct(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    Mlp f(n);
    Tensor theta = theta_for_mlp();
    Generator g(5);
    Tensor v = normal({Mlp::parameters()}, g, 0.0, 1.0, DType::f32);
    Tensor labels = randint(0, 10, {n, 1}, g);
    auto loss = [&](const Var& z) { return neg(sum(gather(log_softmax(z, 1), 1, labels))); };
    for (auto _ : state) benchmark::DoNotOptimize(ggn_vector_product(f, loss, theta, v));
    state.SetLabel("target <= 5 ms (WORKLOADS cpu/ggn_vp_mlp)");
}
BENCHMARK(BM_GgnVectorProduct)
    ->Name("BM_GgnVectorProduct<float>/cpu")
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace postr
