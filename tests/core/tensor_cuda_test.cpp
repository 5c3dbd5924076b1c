// Core on CUDA: transfers, strided copies and casts on the device, fill, and the caching
// allocator. Each test skips when no GPU is present.
#include <gtest/gtest.h>

#include "postr/core/allocator.h"
#include "postr/core/cuda_context.h"
#include "postr/core/error.h"
#include "postr/core/tensor.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

TEST(TensorCuda, RoundTripsEveryDtype) {
    POSTR_REQUIRE_CUDA();
    for (DType t : {DType::f32, DType::f64, DType::i64}) {
        Tensor host = test::random_tensor({5, 7}, DType::f64, 1, -100, 100).to(t);
        Tensor dev = host.to(Device::cuda());
        EXPECT_TRUE(dev.is_cuda());
        EXPECT_EQ(dev.to(Device::cpu()).to_vector<double>(), host.to_vector<double>());
    }
}

TEST(TensorCuda, StridedCopyAndCastOnDevice) {
    POSTR_REQUIRE_CUDA();
    Tensor host = test::random_tensor({6, 5, 4}, DType::f64, 2);
    Tensor dev = host.to(Device::cuda());
    Tensor permuted = dev.permute({2, 0, 1}).contiguous();
    EXPECT_EQ(permuted.to(Device::cpu()).to_vector<double>(),
              host.permute({2, 0, 1}).contiguous().to_vector<double>());
    Tensor f = dev.transpose(0, 2).to(DType::f32);
    EXPECT_EQ(f.to(Device::cpu()).to_vector<float>(),
              host.transpose(0, 2).to(DType::f32).to_vector<float>());
    // Host strided source into a device strided destination.
    Tensor dst = Tensor::zeros({4, 5, 6}, DType::f64, Device::cuda());
    dst.transpose(0, 2).copy_(host);
    EXPECT_EQ(dst.transpose(0, 2).to(Device::cpu()).to_vector<double>(), host.to_vector<double>());
}

TEST(TensorCuda, FillAndBroadcastCopy) {
    POSTR_REQUIRE_CUDA();
    Tensor t = Tensor::full({3, 4}, 2.5, DType::f32, Device::cuda());
    EXPECT_EQ(t.to_vector<float>(), std::vector<float>(12, 2.5f));
    t.copy_(Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4}, Device::cuda()));
    EXPECT_EQ(t.to_vector<float>()[5], 2.0f);
    EXPECT_EQ(Tensor::scalar(3.0, DType::f64, Device::cuda()).item(), 3.0);
}

TEST(CudaAllocator, CachesFreedBlocks) {
    POSTR_REQUIRE_CUDA();
    Device d = Device::cuda();
    void* first = nullptr;
    { first = Tensor::empty({1 << 20}, DType::f32, d).data_ptr(); }
    MemoryStats before = memory_stats(d);
    Tensor again = Tensor::empty({1 << 20}, DType::f32, d);
    EXPECT_EQ(again.data_ptr(), first);
    EXPECT_EQ(memory_stats(d).system_allocations, before.system_allocations);
    EXPECT_GE(memory_stats(d).peak, memory_stats(d).in_use);
}

TEST(CudaAllocator, OutOfMemoryNamesTheSizes) {
    POSTR_REQUIRE_CUDA();
    const std::int64_t huge = std::int64_t{1} << 42;  // 16 TiB of f32
    try {
        Tensor::empty({huge}, DType::f32, Device::cuda());
        FAIL() << "allocation of 16 TiB succeeded";
    } catch (const OutOfMemory& e) {
        EXPECT_EQ(e.requested(), static_cast<std::size_t>(huge) * 4);
        EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos);
    }
    // The device stays usable.
    EXPECT_EQ(Tensor::ones({4}, DType::f32, Device::cuda()).to_vector<float>()[3], 1.0f);
}

}  // namespace
}  // namespace postr
