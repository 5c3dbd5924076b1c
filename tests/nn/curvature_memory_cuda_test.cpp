// Out-of-memory behaviour of the dense curvature on a GPU (issue 9): a curvature matrix larger
// than the device is refused by the real cudaMalloc failure with its size and a suggestion,
// and the process goes on; Jacobian chunks that cannot fit under a device memory limit are
// retried smaller and give the CPU's result. The CPU twin is curvature_memory_test.cpp.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/allocator.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

// Restores "no limit" on the GPU however the test ends.
struct ScopedCudaMemoryLimit {
    explicit ScopedCudaMemoryLimit(std::size_t extra_bytes) {
        set_memory_limit(Device::cuda(), memory_stats(Device::cuda()).in_use + extra_bytes);
    }
    ~ScopedCudaMemoryLimit() { set_memory_limit(Device::cuda(), 0); }
};

// Linear(in, hidden) → ReLU → Linear(hidden, 10) on `device`.
std::unique_ptr<nn::Sequential> mlp(std::int64_t in, std::int64_t hidden, DType dtype,
                                    Device device) {
    auto net = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(in, hidden), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(hidden, 10)});
    net->finalize(3, dtype, device);
    net->eval();
    return net;
}

TEST(CurvatureMemoryCuda, AMatrixLargerThanTheDeviceIsRefusedAndTheProcessGoesOn) {
    POSTR_REQUIRE_CUDA();
    // D = 1,000·300 + 300 + 300·10 + 10 = 303,310; the S = 300,000 f32 matrix needs 335 GiB,
    // more than any single GPU holds, so cudaMalloc itself fails (no limit is set).
    auto net = mlp(1000, 300, DType::f32, Device::cuda());
    const std::int64_t s = 300000;
    ASSERT_EQ(memory_limit(Device::cuda()), 0u);
    try {
        nn::DenseCurvature ggn(*net, {}, arange(0, s, 1, DType::i64, Device::cuda()));
        ADD_FAILURE() << "a 335 GiB matrix was allocated";
    } catch (const OutOfMemory& e) {
        EXPECT_TRUE(test::throws_error([&] { throw e; },
                                       {"DenseCurvature", "300000×300000", "f32", "GiB", "cuda",
                                        "out of memory", "smaller subnetwork S"}));
    }
    // The device stays usable and a smaller subnetwork fits and gives the CPU's matrix.
    const Tensor index = arange(0, 2000, 1, DType::i64);
    const Tensor x = test::random_tensor({8, 1000}, DType::f32, 4);
    nn::DenseCurvature small(*net, {}, index.to(Device::cuda()));
    small.accumulate(x.to(Device::cuda()));
    auto cpu_net = mlp(1000, 300, DType::f32, Device::cpu());
    cpu_net->load_flat(net->parameters().theta().to(Device::cpu()));
    nn::DenseCurvature reference(*cpu_net, {}, index);
    reference.accumulate(x);
    // f32 sums of 80 rows in different orders on the two devices: 1e-4 relative.
    EXPECT_TRUE(test::all_close(small.matrix().to(Device::cpu()), reference.matrix(), 1e-4, 1e-6));
}

TEST(CurvatureMemoryCuda, ChunksThatCannotFitAreRetriedSmallerWithTheSameResult) {
    POSTR_REQUIRE_CUDA();
    auto net = mlp(20, 50, DType::f64, Device::cuda());  // D = 1,560
    const Tensor index = arange(0, 1560, 1, DType::i64, Device::cuda());
    const Tensor x = test::random_tensor({64, 20}, DType::f64, 2).to(Device::cuda());
    nn::DenseCurvature reference(*net, {}, index);
    reference.accumulate(x);

    nn::DenseCurvature constrained(*net, {}, index);
    {
        // As on the CPU: 7.6 MiB of rows for all 64 samples at once; 3 MiB above what is in
        // use forces chunks of at most 16 samples.
        ScopedCudaMemoryLimit limit(3 << 20);
        EXPECT_THROW(Tensor::zeros({64, 10, 1560}, DType::f64, Device::cuda()), OutOfMemory);
        constrained.accumulate(x);
    }
    EXPECT_EQ(constrained.num_samples(), 64);
    EXPECT_TRUE(test::all_close(constrained.matrix().to(Device::cpu()),
                                reference.matrix().to(Device::cpu()), 1e-12, 1e-14));
}

}  // namespace
}  // namespace postr
