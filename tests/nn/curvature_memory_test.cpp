// Out-of-memory behaviour of the dense curvature, with a device memory limit standing in for a
// full GPU (core/allocator.h: the limit throws the same OutOfMemory a real shortage does): a
// curvature matrix that cannot fit is refused with its size and a suggestion, and Jacobian
// chunks that cannot fit are retried smaller with the same result.
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

// Restores "no limit" however the test ends.
struct ScopedMemoryLimit {
    explicit ScopedMemoryLimit(std::size_t extra_bytes) {
        set_memory_limit(Device::cpu(), memory_stats(Device::cpu()).in_use + extra_bytes);
    }
    ~ScopedMemoryLimit() { set_memory_limit(Device::cpu(), 0); }
};

// Linear(20, 50) → ReLU → Linear(50, 10): D = 1,560.
std::unique_ptr<nn::Sequential> mlp() {
    auto net = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(20, 50), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(50, 10)});
    net->finalize(3, DType::f64);
    net->eval();
    return net;
}

TEST(CurvatureMemory, AMatrixThatCannotFitIsRefusedWithItsSize) {
    auto net = mlp();
    const Tensor all = arange(0, 1560, 1, DType::i64);
    {
        ScopedMemoryLimit limit(1 << 20);  // 1 MiB: the 1,560² f64 matrix needs 18.6 MiB
        try {
            nn::DenseCurvature ggn(*net, {}, all);
            ADD_FAILURE() << "no OutOfMemory";
        } catch (const OutOfMemory& e) {
            EXPECT_TRUE(
                test::throws_error([&] { throw e; }, {"DenseCurvature", "1560×1560", "f64", "GiB",
                                                      "memory limit", "smaller subnetwork S"}));
        }
        // The process goes on: a smaller subnetwork fits under the same limit.
        nn::DenseCurvature small(*net, {}, arange(0, 200, 1, DType::i64));
        small.accumulate(test::random_tensor({4, 20}, DType::f64, 1));
        EXPECT_EQ(small.num_samples(), 4);
    }
    EXPECT_EQ(memory_limit(Device::cpu()), 0u);
}

TEST(CurvatureMemory, ChunksThatCannotFitAreRetriedSmallerWithTheSameResult) {
    auto net = mlp();
    const Tensor index = arange(0, 1560, 1, DType::i64);
    const Tensor x = test::random_tensor({64, 20}, DType::f64, 2);
    nn::DenseCurvature reference(*net, {}, index);
    reference.accumulate(x);

    nn::DenseCurvature constrained(*net, {}, index);
    {
        // 64 samples × 10 rows × 1,560 × 8 bytes = 7.6 MiB of rows at once; 3 MiB forces
        // chunks of at most 16 samples (and the layers' cotangents on top).
        ScopedMemoryLimit limit(3 << 20);
        EXPECT_THROW(Tensor::zeros({64, 10, 1560}, DType::f64), OutOfMemory);  // the limit bites
        constrained.accumulate(x);
    }
    EXPECT_EQ(constrained.num_samples(), 64);
    // Same sums grouped differently: f64 rounding, 1e-12 relative.
    EXPECT_TRUE(test::all_close(constrained.matrix(), reference.matrix(), 1e-12, 1e-14));
}

TEST(CurvatureMemory, EvenOneSampleTooLargeSaysWhatToDo) {
    auto net = mlp();
    nn::DenseCurvature ggn(*net, {}, arange(0, 1560, 1, DType::i64));
    ScopedMemoryLimit limit(1 << 10);  // 1 KiB: not even one sample's 10 × 1,560 rows
    EXPECT_TRUE(test::throws_error(
        [&] {
            ggn.accumulate(test::random_tensor({2, 20}, DType::f64, 3));
        },
        {"even one sample", "S = 1560", "smaller subnetwork"}));
}

}  // namespace
}  // namespace postr
