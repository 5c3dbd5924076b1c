#include "postr/core/allocator.h"

#include <gtest/gtest.h>

#include "postr/core/tensor.h"

namespace postr {
namespace {

TEST(CpuAllocator, AlignsTo64Bytes) {
    for (std::int64_t n : {1, 3, 17, 1000, 300000}) {
        Tensor t = Tensor::empty({n}, DType::f32);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data_ptr()) % 64, 0u) << n;
    }
}

TEST(CpuAllocator, ReusesLargeBlocksAndTracksUsage) {
    const std::size_t bytes = std::size_t{8} << 20;
    MemoryStats before = memory_stats(Device::cpu());
    void* first = nullptr;
    {
        Tensor t = Tensor::empty({static_cast<std::int64_t>(bytes / 4)}, DType::f32);
        first = t.data_ptr();
        MemoryStats during = memory_stats(Device::cpu());
        EXPECT_GE(during.in_use, before.in_use + bytes);
        EXPECT_GE(during.peak, during.in_use);
    }
    MemoryStats after_free = memory_stats(Device::cpu());
    EXPECT_EQ(after_free.in_use, before.in_use);
    EXPECT_GE(after_free.reserved, after_free.in_use + bytes);  // kept in the cache
    Tensor again = Tensor::empty({static_cast<std::int64_t>(bytes / 4)}, DType::f32);
    EXPECT_EQ(again.data_ptr(), first);  // the cached block comes back
    MemoryStats after_reuse = memory_stats(Device::cpu());
    EXPECT_EQ(after_reuse.system_allocations, after_free.system_allocations);
}

TEST(CpuAllocator, EmptyCacheReturnsCachedBlocks) {
    { Tensor t = Tensor::empty({std::int64_t{4} << 20}, DType::f32); }
    empty_cache(Device::cpu());
    MemoryStats s = memory_stats(Device::cpu());
    EXPECT_EQ(s.reserved, s.in_use);
}

TEST(CpuAllocator, PeakResets) {
    { Tensor t = Tensor::empty({std::int64_t{1} << 20}, DType::f64); }
    reset_peak_memory(Device::cpu());
    MemoryStats s = memory_stats(Device::cpu());
    EXPECT_EQ(s.peak, s.in_use);
}

}  // namespace
}  // namespace postr
