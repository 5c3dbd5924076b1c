// topk on the CPU against a reference that stable-sorts every (value, index) pair on the host
// with plain comparisons: NaN above everything, -0.0 equal to +0.0, ties in index order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using test::throws_error;

struct Reference {
    std::vector<double> values;
    std::vector<std::int64_t> indices;
};

// a comes first: NaN is the largest value; otherwise ordinary comparison (so -0.0 == +0.0).
bool first(double a, double b, bool largest) {
    if (std::isnan(a) || std::isnan(b)) return largest ? !std::isnan(b) : !std::isnan(a);
    return largest ? a > b : a < b;
}

Reference topk_reference(const std::vector<double>& x, std::int64_t k, bool largest) {
    std::vector<std::int64_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return first(x[static_cast<std::size_t>(a)], x[static_cast<std::size_t>(b)], largest);
    });
    Reference r;
    for (std::int64_t j = 0; j < k; ++j) {
        r.indices.push_back(order[static_cast<std::size_t>(j)]);
        r.values.push_back(x[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])]);
    }
    return r;
}

// Exact agreement: same indices, and values bit-identical (checked through the sign of zeros).
void expect_matches(const Tensor& x, std::int64_t k, bool largest) {
    SCOPED_TRACE(::testing::Message() << "D " << x.numel() << " k " << k << " largest " << largest
                                      << " dtype " << dtype_name(x.dtype()));
    ValuesIndices r = topk(x, k, largest);
    ASSERT_EQ(r.values.shape(), (Shape{k}));
    ASSERT_EQ(r.indices.shape(), (Shape{k}));
    ASSERT_EQ(r.values.dtype(), x.dtype());
    ASSERT_EQ(r.indices.dtype(), DType::i64);
    Reference ref = topk_reference(x.to_vector<double>(), k, largest);
    std::vector<std::int64_t> idx = r.indices.to_vector<std::int64_t>();
    std::vector<double> val = r.values.to_vector<double>();
    for (std::int64_t j = 0; j < k; ++j) {
        const auto u = static_cast<std::size_t>(j);
        ASSERT_EQ(idx[u], ref.indices[u]) << "at rank " << j;
        if (std::isnan(ref.values[u])) {
            ASSERT_TRUE(std::isnan(val[u])) << "at rank " << j;
        } else {
            ASSERT_EQ(val[u], ref.values[u]) << "at rank " << j;
            ASSERT_EQ(std::signbit(val[u]), std::signbit(ref.values[u])) << "at rank " << j;
        }
    }
}

Tensor from_values(const std::vector<double>& v, DType dtype) {
    return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}).to(dtype);
}

TEST(TopK, MatchesReferenceOnRandomData) {
    std::uint64_t seed = 1;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (std::int64_t n : {1, 2, 17, 1000, 70000}) {
            Tensor x = test::random_tensor({n}, dtype, ++seed, -3.0, 3.0);
            for (std::int64_t k :
                 {std::int64_t{0}, std::int64_t{1}, std::min<std::int64_t>(5, n), n / 2, n}) {
                expect_matches(x, k, true);
                expect_matches(x, k, false);
            }
        }
    }
}

TEST(TopK, KeepsLowerIndexFirstAmongManyTies) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> pick(-3, 3);
    std::vector<double> v(50000);
    for (auto& e : v) e = pick(rng) * 0.5;
    for (DType dtype : {DType::f32, DType::f64}) {
        Tensor x = from_values(v, dtype);
        for (std::int64_t k : {1, 7, 7000, 7143, 25000, 50000}) {
            expect_matches(x, k, true);
            expect_matches(x, k, false);
        }
    }
}

TEST(TopK, OrdersSpecialValues) {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // Negative values, -0.0 beside +0.0 (a tie: lower index first, sign kept in the value),
    // both infinities, and NaNs of either sign (largest of all).
    std::vector<double> v{-0.0, 3.5, -inf, 0.0, nan, -2.0, inf, -0.0, -nan, -1e-30, 1e-30, -2.0};
    for (DType dtype : {DType::f32, DType::f64}) {
        Tensor x = from_values(v, dtype);
        for (std::int64_t k = 0; k <= static_cast<std::int64_t>(v.size()); ++k) {
            expect_matches(x, k, true);
            expect_matches(x, k, false);
        }
        ValuesIndices r = topk(x, 3, true);
        EXPECT_EQ(r.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{4, 8, 6}));
        ValuesIndices s = topk(x, 12, false);
        std::vector<std::int64_t> si = s.indices.to_vector<std::int64_t>();
        // Smallest first: -inf, the two -2.0 in index order, ..., then zeros in index order.
        EXPECT_EQ((std::vector<std::int64_t>(si.begin(), si.begin() + 8)),
                  (std::vector<std::int64_t>{2, 5, 11, 9, 0, 3, 7, 10}));
    }
}

TEST(TopK, AllNegative) {
    Tensor x = test::random_tensor({3000}, DType::f32, 9, -5.0, -1.0);
    expect_matches(x, 100, true);
    expect_matches(x, 100, false);
}

TEST(TopK, LargeInputWithManyChunks) {
    // D = 1e6 and k = 42438 (the subnetwork size of the workloads): several chunks, each
    // keeping its own k best before the final selection.
    Tensor x = test::random_tensor({1000000}, DType::f32, 11, -1.0, 1.0);
    expect_matches(x, 42438, true);
    expect_matches(x, 42438, false);
    // Small k: many chunks of 65536.
    expect_matches(x, 5, true);
}

TEST(TopK, SameResultForAnyThreadCount) {
    Tensor x = test::random_tensor({300000}, DType::f64, 13);
    const int threads = num_threads();
    ValuesIndices many = topk(x, 1000);
    set_num_threads(1);
    ValuesIndices one = topk(x, 1000);
    set_num_threads(threads);
    EXPECT_EQ(many.indices.to_vector<std::int64_t>(), one.indices.to_vector<std::int64_t>());
}

TEST(TopK, AcceptsNonContiguousInput) {
    Tensor x = test::strided_copy(test::random_tensor({5000}, DType::f64, 15));
    ASSERT_FALSE(x.is_contiguous());
    expect_matches(x, 321, true);
    Tensor column = test::random_tensor({400, 3}, DType::f32, 16).select(1, 2);
    expect_matches(column, 50, false);
}

TEST(TopK, RejectsBadArguments) {
    Tensor x = test::random_tensor({10}, DType::f32, 17);
    EXPECT_TRUE(throws_error([&] { topk(x, 11); }, {"topk", "k = 11", "[10]"}));
    EXPECT_TRUE(throws_error([&] { topk(x, -1); }, {"topk", "k = -1", "[10]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            topk(Tensor::zeros({2, 5}), 1);
        },
        {"topk", "rank 1", "[2, 5]"}));
    EXPECT_TRUE(throws_error([&] { topk(Tensor::zeros({4}, DType::i64), 1); },
                             {"topk", "f32 or f64", "i64"}));
    EXPECT_EQ(topk(Tensor::empty({0}), 0).values.numel(), 0);
}

}  // namespace
}  // namespace postr
