// Training benchmarks: whole training steps and one epoch, as a user would write them with
// nn/ and io/ (WORKLOADS.md rows cpu/mlp_fmnist_epoch, cpu/resnet18_cifar_step,
// cpu/resnet18_fmnist_step, gpu/resnet18_cifar_step). Each prints its WORKLOADS target as the
// label. The CPU ResNet steps also report where the step's time goes (forward_ms, backward_ms:
// backward and collect_grads, sgd_ms) as per-iteration averages beside the total.
//
// Threads: postr's default (the hardware concurrency, or POSTR_NUM_THREADS), reported as the
// "threads" counter; OpenBLAS is set to match by set_num_threads.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/io/data_loader.h"
#include "postr/io/datasets.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/sgd.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

// ResNet-18 forward FLOPs per image (WORKLOADS.md): 1.11 GFLOP for the CIFAR variant on
// 3×32×32; the 1-channel stem on 28×28 is 88 GFLOP per batch-32 training step / (3 × 32).
// A training step counts as 3 forwards (forward, input gradient, weight gradient).
constexpr double kResnet18CifarForwardFlops = 1.11e9;
constexpr double kResnet18FmnistForwardFlops = 88e9 / (3.0 * 32.0);

// Fashion-MNIST pixel mean and standard deviation (torchvision's usual Normalize values).
constexpr double kFmnistMean = 0.286;
constexpr double kFmnistStd = 0.353;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void set_threads_counter(benchmark::State& state) {
    state.counters["threads"] = static_cast<double>(num_threads());
}

// MLP 784-256-256-10 with ReLU between the Linear layers, input [N, 1, 28, 28] or [N, 784].
std::unique_ptr<nn::Sequential> make_mlp(std::uint64_t seed) {
    auto mlp = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 256),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 10)});
    mlp->finalize(seed);
    return mlp;
}

// One SGD step of `model` on (x, labels): forward, mean cross-entropy, backward, flat gradient,
// update.
void train_step(nn::Module& model, nn::Sgd& sgd, const Tensor& x, const Tensor& labels) {
    nn::cross_entropy(model(Var(x)), labels).backward();
    model.parameters().collect_grads();
    sgd.step(model.parameters().grad());
}

// The decoded Fashion-MNIST train and test splits, read once per process.
struct FashionMnist {
    io::ImageDataset train, test;
    std::string error;  // non-empty when the files could not be read
};
const FashionMnist& fashion_mnist() {
    static const FashionMnist data = [] {
        FashionMnist d;
        if (!std::filesystem::exists(io::kFashionMnistDir)) {
            d.error = std::string("Fashion-MNIST not found in ") + io::kFashionMnistDir +
                      ": apt-get install dataset-fashion-mnist";
            return d;
        }
        try {
            d.train = io::load_fashion_mnist("train");
            d.test = io::load_fashion_mnist("test");
        } catch (const Error& e) {
            d.error = e.what();
        }
        return d;
    }();
    return data;
}

double test_accuracy(nn::Module& model, const io::ImageDataset& test) {
    NoGradGuard no_graph;
    Tensor normalized = mul(add(test.images, -kFmnistMean), 1.0 / kFmnistStd);
    Tensor predicted = argmax(model(Var(normalized)).value(), 1);
    return mean(eq(predicted, test.labels).to(DType::f64)).item();
}

// cpu/mlp_fmnist_epoch: one epoch over the 60,000 training images, batch 128, shuffled and
// normalised by the DataLoader (batching is timed; decoding the files is not), plain SGD lr 0.1.
// Each iteration starts from the same initialization; test accuracy is the first epoch's.
void BM_MlpFmnistEpoch(benchmark::State& state) {
    const FashionMnist& data = fashion_mnist();
    if (!data.error.empty()) {
        state.SkipWithError(data.error.c_str());
        return;
    }
    io::DataLoaderOptions options;
    options.batch_size = 128;
    options.seed = 1;
    options.mean = {kFmnistMean};
    options.std = {kFmnistStd};
    io::DataLoader loader(data.train, options);
    double accuracy = -1, loader_s = 0;
    std::int64_t epoch = 0;
    for (auto _ : state) {
        state.PauseTiming();
        std::unique_ptr<nn::Sequential> mlp = make_mlp(/*seed=*/0);
        nn::Sgd sgd(mlp->parameters().theta(), {.lr = 0.1});
        state.ResumeTiming();
        for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
            const auto t0 = std::chrono::steady_clock::now();
            io::Batch batch = loader.batch(epoch, b);
            loader_s += seconds_since(t0);
            train_step(*mlp, sgd, batch.images, batch.labels);
        }
        state.PauseTiming();
        if (accuracy < 0) accuracy = test_accuracy(*mlp, data.test);
        ++epoch;
        state.ResumeTiming();
    }
    state.counters["test_accuracy"] = accuracy;
    // The part of the epoch spent shuffling, gathering and normalising batches.
    state.counters["loader_ms"] =
        benchmark::Counter(loader_s * 1e3, benchmark::Counter::kAvgIterations);
    set_threads_counter(state);
    state.SetLabel("target <= 1000 ms, accuracy ~0.83 (cpu/mlp_fmnist_epoch; tuned peer 1190 ms)");
}
BENCHMARK(BM_MlpFmnistEpoch)
    ->Name("BM_MlpFmnistEpoch<float>/cpu")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One batch-128 step of the same MLP on random inputs: the cheap smoke benchmark, and the
// per-step cost inside the epoch (469 steps).
void BM_MlpStep(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    std::unique_ptr<nn::Sequential> mlp = make_mlp(/*seed=*/0);
    nn::Sgd sgd(mlp->parameters().theta(), {.lr = 0.1});
    Tensor x = bench::random_input<float>({n, 784}, 1, Device::cpu());
    Generator g(2);
    Tensor labels = randint(0, 10, {n}, g);
    for (auto _ : state) train_step(*mlp, sgd, x, labels);
    // Linear layers: 2·N·(784·256 + 256·256 + 256·10) forward, three times for a step.
    bench::set_flops(state, 3.0 * 2.0 * static_cast<double>(n) * (784 * 256 + 256 * 256 + 2560));
    set_threads_counter(state);
    state.SetLabel("no target of its own; 469 steps make cpu/mlp_fmnist_epoch");
}
BENCHMARK(BM_MlpStep)
    ->Name("BM_MlpStep<float>/cpu")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One ResNet-18 training step on the CPU: random inputs [batch, channels, size, size] and
// labels, forward + mean cross-entropy + backward + SGD with momentum 0.9. One untimed warm-up
// step first (page faults, the momentum buffer).
void resnet18_cpu_step(benchmark::State& state, std::int64_t channels, std::int64_t size,
                       double forward_flops, const char* label) {
    const std::int64_t batch = state.range(0);
    std::shared_ptr<nn::ResNet> model = nn::resnet18(10, channels, /*cifar_stem=*/true, 0);
    nn::Sgd sgd(model->parameters().theta(), {.lr = 0.01, .momentum = 0.9});
    Tensor x = bench::random_input<float>({batch, channels, size, size}, 1, Device::cpu());
    Generator g(2);
    Tensor labels = randint(0, 10, {batch}, g);
    train_step(*model, sgd, x, labels);
    double forward_s = 0, backward_s = 0, sgd_s = 0;
    for (auto _ : state) {
        auto t0 = std::chrono::steady_clock::now();
        Var loss = nn::cross_entropy((*model)(Var(x)), labels);
        forward_s += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        loss.backward();
        model->parameters().collect_grads();
        backward_s += seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        sgd.step(model->parameters().grad());
        sgd_s += seconds_since(t0);
    }
    const auto per_iteration = benchmark::Counter::kAvgIterations;
    state.counters["forward_ms"] = benchmark::Counter(forward_s * 1e3, per_iteration);
    state.counters["backward_ms"] = benchmark::Counter(backward_s * 1e3, per_iteration);
    state.counters["sgd_ms"] = benchmark::Counter(sgd_s * 1e3, per_iteration);
    bench::set_flops(state, 3.0 * forward_flops * static_cast<double>(batch));
    set_threads_counter(state);
    state.SetLabel(label);
}

// cpu/resnet18_cifar_step: CIFAR variant, batch 32 of 3×32×32.
void BM_Resnet18CifarStep(benchmark::State& state) {
    resnet18_cpu_step(state, 3, 32, kResnet18CifarForwardFlops,
                      "target <= 900 ms (cpu/resnet18_cifar_step; tuned peer 1101 ms)");
}
BENCHMARK(BM_Resnet18CifarStep)
    ->Name("BM_Resnet18CifarStep<float>/cpu")
    ->Arg(32)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// cpu/resnet18_fmnist_step: 1-channel stem, batch 32 of 1×28×28.
void BM_Resnet18FmnistStep(benchmark::State& state) {
    resnet18_cpu_step(state, 1, 28, kResnet18FmnistForwardFlops,
                      "target <= 750 ms (cpu/resnet18_fmnist_step; tuned peer 949 ms)");
}
BENCHMARK(BM_Resnet18FmnistStep)
    ->Name("BM_Resnet18FmnistStep<float>/cpu")
    ->Arg(32)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// gpu/resnet18_cifar_step: CIFAR variant, batch 128 on the GPU, timed with CUDA events after a
// warm-up step.
void BM_Resnet18CifarStepCuda(benchmark::State& state) {
    if (!bench::require_cuda(state)) return;
    const std::int64_t batch = state.range(0);
    const Device cuda = Device::cuda();
    std::shared_ptr<nn::ResNet> model =
        nn::resnet18(10, 3, /*cifar_stem=*/true, 0, DType::f32, cuda);
    nn::Sgd sgd(model->parameters().theta(), {.lr = 0.01, .momentum = 0.9});
    Tensor x = bench::random_input<float>({batch, 3, 32, 32}, 1, cuda);
    Generator g(2);
    Tensor labels = randint(0, 10, {batch}, g, cuda);
    bench::time_cuda(state, [&] { train_step(*model, sgd, x, labels); });
    bench::set_flops(state, 3.0 * kResnet18CifarForwardFlops * static_cast<double>(batch));
    state.SetLabel("target <= 18.0 ms fp32 (gpu/resnet18_cifar_step; PyTorch + cuDNN 18.0 ms)");
}
BENCHMARK(BM_Resnet18CifarStepCuda)
    ->Name("BM_Resnet18CifarStep<float>/cuda")
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime();

}  // namespace
}  // namespace postr
