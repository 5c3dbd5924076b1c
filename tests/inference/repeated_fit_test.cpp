// No leak across repeated fits (issue 9, "Resources", CPU part): 100 subnetwork Laplace fits,
// each constructing the posterior, accumulating the GGN, factorizing, predicting and sampling,
// then destroying everything, leave the host allocator's statistics where the first few left
// them.
//
// What this relies on (core/cpu_allocator.cpp): in_use counts the bytes of live tensors exactly
// (small blocks by their size, blocks of 1 MiB and more by their size class), so it returns to
// the same value whenever the same tensors are alive. reserved is in_use plus the cached large
// blocks: a freed large block stays cached for reuse by a later request of its size class (up to
// 8 GiB cached), and small blocks go back to the C allocator at once. A fit that repeats the same
// sequence of allocations therefore finds every large block it needs in the cache after the first
// fit, and reserved stops growing; a leak would grow in_use, a cache that failed to reuse blocks
// would grow reserved.
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/allocator.h"
#include "postr/core/philox.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

TEST(RepeatedFit, HundredSubnetworkLaplaceFitsDoNotGrowTheAllocator) {
    // D = 32·64 + 64 + 64·10 + 10 = 2762 weights, S = 400: the S×S GGN and its Cholesky factor
    // (1.28 MB each, f64) go through the allocator's cache of large blocks.
    nn::Sequential model({std::make_shared<nn::Linear>(32, 64), std::make_shared<nn::Tanh>(),
                          std::make_shared<nn::Linear>(64, 10)});
    model.finalize(1, DType::f64);
    model.eval();
    const Tensor x = test::random_tensor({64, 32}, DType::f64, 2);
    const Tensor x_test = test::random_tensor({16, 32}, DType::f64, 3);
    const Tensor index = nn::select_random(model.num_parameters(), 400, 4);

    constexpr int kFits = 100, kWarmup = 3;
    std::vector<MemoryStats> after(kFits);
    reset_peak_memory(Device::cpu());
    const MemoryStats before = memory_stats(Device::cpu());
    double checksum = 0;
    for (int i = 0; i < kFits; ++i) {
        {
            inference::SubnetworkLaplace la(model, index, {.prior_precision = 2.0});
            la.accumulate(x.narrow(0, 0, 40));
            la.accumulate(x.narrow(0, 40, 24));
            la.fit();
            Generator gen(static_cast<std::uint64_t>(i));
            const Tensor probs = la.predict_probabilities(x_test);
            const Tensor mc = la.predict_probabilities_mc(x_test, 8, gen);
            const Tensor samples = la.sample(4, gen);
            checksum += sum(probs).item() + sum(mc).item() + sum(samples).item();
        }
        after[static_cast<std::size_t>(i)] = memory_stats(Device::cpu());
    }
    EXPECT_TRUE(std::isfinite(checksum));

    const MemoryStats& warm = after[kWarmup - 1];
    for (int i = kWarmup; i < kFits; ++i) {
        const MemoryStats& s = after[static_cast<std::size_t>(i)];
        EXPECT_EQ(s.in_use, warm.in_use)
            << "in_use after fit " << i + 1 << " differs from after " << kWarmup << ": a leak of "
            << static_cast<long long>(s.in_use - warm.in_use) << " bytes";
        EXPECT_EQ(s.reserved, warm.reserved) << "reserved grew by fit " << i + 1;
    }
    // Nothing a fit allocated survives it, not even in the first fit.
    EXPECT_EQ(after.back().in_use, before.in_use);
    // The fits did go through the allocator (and its cache of large blocks).
    EXPECT_GT(after.back().allocations - before.allocations, 1000u);
    EXPECT_GT(after.back().peak, before.in_use + (std::size_t{1} << 20));
    std::cout << "[ stats    ] in_use " << before.in_use << " B before, " << warm.in_use
              << " B after fit " << kWarmup << ", " << after.back().in_use << " B after fit "
              << kFits << "; reserved " << before.reserved << " / " << warm.reserved << " / "
              << after.back().reserved << " B; " << after.back().allocations - before.allocations
              << " allocations\n";
}

}  // namespace
}  // namespace postr
