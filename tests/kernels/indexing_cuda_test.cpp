// CPU/CUDA parity of the indexing family and of topk. Pure data movement (index_select, gather,
// masked_fill, cat) and topk must agree bit for bit; scatter_add_ is exact for i64 and for
// floating sums without duplicate targets, and within a few ulp of the sum's magnitude with
// duplicates (atomicAdd's order is not fixed). Every test skips without a CUDA device.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::random_ints;
using test::random_tensor;
using test::throws_error;

const Device kGpu = Device::cuda(0);

::testing::AssertionResult bitwise(const Tensor& cuda_result, const Tensor& cpu_result) {
    if (!cuda_result.is_cuda()) return ::testing::AssertionFailure() << "result is not on the GPU";
    if (cuda_result.dtype() != cpu_result.dtype())
        return ::testing::AssertionFailure() << "dtypes differ";
    return test::all_close(cuda_result.to(Device::cpu()), cpu_result, 0, 0);
}

Tensor random_of(DType dtype, const Shape& shape, std::uint64_t seed) {
    return dtype == DType::i64 ? random_ints(shape, -100, 100, seed)
                               : random_tensor(shape, dtype, seed);
}

TEST(IndexingCuda, IndexSelectMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 1;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (int dim : {0, 1, 2}) {
            SCOPED_TRACE(::testing::Message() << "dim " << dim << " " << dtype_name(dtype));
            Tensor x = random_of(dtype, {5, 6, 7}, ++seed);
            Tensor index = random_ints({11}, 0, x.size(dim), ++seed);
            Tensor expected = index_select(x, dim, index);
            EXPECT_TRUE(bitwise(index_select(x.to(kGpu), dim, index.to(kGpu)), expected));
            EXPECT_TRUE(bitwise(index_select(test::transposed_copy(x.to(kGpu)), dim,
                                             test::strided_copy(index.to(kGpu))),
                                expected));
        }
    }
}

TEST(IndexingCuda, GatherMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 20;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (int dim : {0, 1}) {
            SCOPED_TRACE(::testing::Message() << "dim " << dim << " " << dtype_name(dtype));
            Tensor x = random_of(dtype, {6, 8}, ++seed);
            Shape index_shape{4, 5};
            index_shape[static_cast<std::size_t>(dim)] = 9;
            Tensor index = random_ints(index_shape, 0, x.size(dim), ++seed);
            Tensor expected = gather(x, dim, index);
            EXPECT_TRUE(bitwise(gather(x.to(kGpu), dim, index.to(kGpu)), expected));
            EXPECT_TRUE(bitwise(
                gather(test::transposed_copy(x.to(kGpu)), dim, test::strided_copy(index.to(kGpu))),
                expected));
        }
    }
}

TEST(IndexingCuda, ScatterAddMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 40;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (int dim : {0, 1}) {
            SCOPED_TRACE(::testing::Message() << "dim " << dim << " " << dtype_name(dtype));
            Tensor x = random_of(dtype, {6, 8}, ++seed);
            Shape index_shape{5, 7};
            index_shape[static_cast<std::size_t>(dim)] = 40;  // many duplicate targets
            Tensor index = random_ints(index_shape, 0, x.size(dim), ++seed);
            Tensor src = random_of(dtype, {40, 40}, ++seed);
            Tensor expected = scatter_add(x, dim, index, src);
            Tensor actual = scatter_add(x.to(kGpu), dim, index.to(kGpu), src.to(kGpu));
            ASSERT_TRUE(actual.is_cuda());
            if (dtype == DType::i64) {
                EXPECT_TRUE(bitwise(actual, expected));
            } else {
                // Up to 41 terms of magnitude <= 1 added in another order: each partial sum
                // rounds once, so |Δ| <= 41·ε·41 (sum_tolerance with |terms| summed <= 41).
                double eps = dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64;
                EXPECT_TRUE(test::all_close(actual.to(Device::cpu()), expected, 0,
                                            test::sum_tolerance(41, eps, 41)));
            }
            // In place into a transposed view on the GPU.
            Tensor xt = test::transposed_copy(x.to(kGpu));
            scatter_add_(xt, dim, index.to(kGpu), src.to(kGpu));
            double eps = dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64;
            EXPECT_TRUE(
                test::all_close(xt.to(Device::cpu()), expected, 0,
                                dtype == DType::i64 ? 0 : test::sum_tolerance(41, eps, 41)));
        }
    }
    // Without duplicates the result is exact in floating point too.
    Tensor x = random_tensor({8}, DType::f32, 60);
    Tensor perm = Tensor::from_vector(std::vector<std::int64_t>{3, 1, 7, 0}, {4});
    Tensor src = random_tensor({4}, DType::f32, 61);
    EXPECT_TRUE(bitwise(scatter_add(x.to(kGpu), 0, perm.to(kGpu), src.to(kGpu)),
                        scatter_add(x, 0, perm, src)));
}

TEST(IndexingCuda, MaskedFillMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (DType mask_dtype : {DType::f32, DType::i64}) {
            SCOPED_TRACE(::testing::Message()
                         << dtype_name(dtype) << " mask " << dtype_name(mask_dtype));
            Tensor x = random_of(dtype, {7, 9}, 70);
            Tensor mask = random_ints({1, 9}, 0, 2, 71).to(mask_dtype);
            Tensor expected = masked_fill(x, mask, -3);
            EXPECT_TRUE(bitwise(masked_fill(x.to(kGpu), mask.to(kGpu), -3), expected));
            EXPECT_TRUE(bitwise(masked_fill(test::transposed_copy(x.to(kGpu)), mask.to(kGpu), -3),
                                expected));
        }
    }
}

TEST(IndexingCuda, CatMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (int dim : {0, 1}) {
        std::vector<Tensor> cpu_parts{random_tensor({3, 4}, DType::f64, 80),
                                      Tensor::empty({0}, DType::f64),
                                      random_tensor({3, 4}, DType::f64, 81)};
        std::vector<Tensor> gpu_parts;
        for (const Tensor& t : cpu_parts) gpu_parts.push_back(t.to(kGpu));
        gpu_parts[2] = test::transposed_copy(gpu_parts[2]);
        EXPECT_TRUE(bitwise(cat(gpu_parts, dim), cat(cpu_parts, dim)));
    }
    EXPECT_TRUE(throws_error(
        [] {
            cat({Tensor::zeros({2}, DType::f32, kGpu), Tensor::zeros({2})}, 0);
        },
        {"cat", "devices differ"}));
}

TEST(IndexingCuda, OutOfRangeIndicesThrowInsteadOfFaulting) {
    POSTR_REQUIRE_CUDA();
    Tensor x = random_tensor({4, 5}, DType::f32, 90, -1, 1, kGpu);
    Tensor big = Tensor::from_vector(std::vector<std::int64_t>{0, 5, 1}, {3}, kGpu);
    EXPECT_TRUE(throws_error([&] { index_select(x, 1, big); },
                             {"index_select", "5", "size 5", "[4, 5]", "[3]"}));
    Tensor negative = Tensor::from_vector(std::vector<std::int64_t>{0, -2, 1, 1}, {2, 2}, kGpu);
    EXPECT_TRUE(throws_error([&] { gather(x, 0, negative); }, {"gather", "-2", "size 4"}));
    Tensor xi = Tensor::zeros({4, 5}, DType::f32, kGpu);
    EXPECT_TRUE(
        throws_error([&] { scatter_add_(xi, 0, negative, x); }, {"scatter_add_", "-2", "size 4"}));
    // The device is still usable afterwards (no sticky error from an illegal access).
    EXPECT_EQ(index_select(x, 1, Tensor::from_vector(std::vector<std::int64_t>{4}, {1}, kGpu))
                  .to(Device::cpu())
                  .numel(),
              4);
    EXPECT_TRUE(throws_error([&] { index_select(x, 0, big.to(Device::cpu())); },
                             {"index_select", "devices differ"}));
}

// topk: exact equality of values and indices with the CPU.
void expect_topk_parity(const Tensor& x_cpu, std::int64_t k, bool largest) {
    SCOPED_TRACE(::testing::Message() << "D " << x_cpu.numel() << " k " << k << " largest "
                                      << largest << " " << dtype_name(x_cpu.dtype()));
    ValuesIndices expected = topk(x_cpu, k, largest);
    ValuesIndices actual = topk(x_cpu.to(kGpu), k, largest);
    ASSERT_TRUE(actual.values.is_cuda());
    EXPECT_TRUE(bitwise(actual.indices, expected.indices));
    EXPECT_TRUE(bitwise(actual.values, expected.values));  // all_close matches NaN with NaN
}

TEST(TopKCuda, MatchesCpuOnRandomData) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 100;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (std::int64_t n : {1, 2, 33, 1000, 5000, 100000}) {
            Tensor x = random_tensor({n}, dtype, ++seed, -4.0, 4.0);
            for (std::int64_t k : {std::int64_t{0}, std::int64_t{1}, std::min<std::int64_t>(7, n),
                                   n / 3, n - 1, n}) {
                expect_topk_parity(x, k, true);
                expect_topk_parity(x, k, false);
            }
        }
    }
}

TEST(TopKCuda, MatchesCpuWithManyTies) {
    POSTR_REQUIRE_CUDA();
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> pick(-4, 4);
    for (std::int64_t n : {1000, 300000}) {
        std::vector<double> v(static_cast<std::size_t>(n));
        for (auto& e : v) e = pick(rng) * 0.25;
        for (DType dtype : {DType::f32, DType::f64}) {
            Tensor x = Tensor::from_vector(v, {n}).to(dtype);
            for (std::int64_t k : {std::int64_t{1}, std::int64_t{3}, n / 9, n / 2 + 1, n}) {
                expect_topk_parity(x, k, true);
                expect_topk_parity(x, k, false);
            }
        }
    }
    // All equal: the selection must run through the index digits.
    Tensor same = Tensor::full({70000}, 1.5, DType::f32);
    expect_topk_parity(same, 12345, true);
    expect_topk_parity(same, 1, false);
}

TEST(TopKCuda, MatchesCpuOnSpecialValues) {
    POSTR_REQUIRE_CUDA();
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> v{-0.0, 3.5, -inf, 0.0, nan, -2.0, inf, -0.0, -nan, -1e-30, 1e-30, -2.0};
    for (DType dtype : {DType::f32, DType::f64}) {
        Tensor x = Tensor::from_vector(v, {12}).to(dtype);
        for (std::int64_t k = 0; k <= 12; ++k) {
            expect_topk_parity(x, k, true);
            expect_topk_parity(x, k, false);
        }
        Tensor negative = random_tensor({20000}, dtype, 7, -9.0, -1.0);
        expect_topk_parity(negative, 77, true);
        expect_topk_parity(negative, 77, false);
    }
}

TEST(TopKCuda, MatchesCpuOnLargeInput) {
    POSTR_REQUIRE_CUDA();
    // D = 1e6, k = 42438 (the workloads' subnetwork size): several sort runs and merge rounds.
    for (DType dtype : {DType::f32, DType::f64}) {
        Tensor x = random_tensor({1000000}, dtype, 9, -1.0, 1.0);
        expect_topk_parity(x, 42438, true);
        expect_topk_parity(x, 42438, false);
    }
    // More candidates than the buffer holds after the first digit (values in a narrow band).
    Tensor narrow = random_tensor({5000000}, DType::f32, 10, 1.0, 1.0001);
    expect_topk_parity(narrow, 1000, true);
}

TEST(TopKCuda, MatchesCpuOnNonContiguousInput) {
    POSTR_REQUIRE_CUDA();
    Tensor x = random_tensor({30000}, DType::f32, 11);
    Tensor strided = test::strided_copy(x.to(kGpu));
    ValuesIndices expected = topk(x, 500);
    ValuesIndices actual = topk(strided, 500);
    EXPECT_TRUE(bitwise(actual.indices, expected.indices));
    EXPECT_TRUE(bitwise(actual.values, expected.values));
    EXPECT_TRUE(throws_error([&] { topk(strided, 30001); }, {"topk", "k = 30001", "[30000]"}));
}

}  // namespace
}  // namespace postr
