// softmax, log_softmax and one_hot on the CPU against naive f64 references: every dim (negative
// too), non-contiguous inputs, empty and rank-0 tensors, large and infinite values, errors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::throws_error;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Naive f64 (log-)softmax of x along dim, by explicit index arithmetic on a contiguous copy.
Tensor reference_softmax(const Tensor& x, int dim, bool log) {
    const int rank = x.dim();
    const int d = dim < 0 ? dim + rank : dim;
    std::int64_t pre = 1, len = 1, post = 1;
    for (int k = 0; k < rank; ++k) (k < d ? pre : k == d ? len : post) *= x.size(k);
    std::vector<double> v = x.to_vector<double>(), out(v.size());
    for (std::int64_t p = 0; p < pre; ++p) {
        for (std::int64_t q = 0; q < post; ++q) {
            auto at = [&](std::int64_t i) {
                return static_cast<std::size_t>((p * len + i) * post + q);
            };
            double m = -kInf, s = 0;
            for (std::int64_t i = 0; i < len; ++i) m = std::max(m, v[at(i)]);
            for (std::int64_t i = 0; i < len; ++i) s += std::exp(v[at(i)] - m);
            for (std::int64_t i = 0; i < len; ++i)
                out[at(i)] = log ? v[at(i)] - m - std::log(s) : std::exp(v[at(i)] - m) / s;
        }
    }
    return Tensor::from_vector(out, x.shape());
}

TEST(Softmax, MatchesReferenceAlongEveryDimAndLayout) {
    std::uint64_t seed = 0;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (const Shape& shape :
             {Shape{7}, Shape{4, 9}, Shape{3, 5, 6}, Shape{2, 3, 1, 4}, Shape{3, 1000}}) {
            for (int dim = -static_cast<int>(shape.size()); dim < static_cast<int>(shape.size());
                 ++dim) {
                Tensor x = test::random_tensor(shape, dtype, ++seed, -10, 10);
                std::vector<Tensor> layouts = {x, test::strided_copy(x)};
                if (x.dim() >= 2) layouts.push_back(test::transposed_copy(x));
                for (bool log : {false, true}) {
                    Tensor expected = reference_softmax(x, dim, log);
                    for (const Tensor& xl : layouts) {
                        SCOPED_TRACE(::testing::Message()
                                     << dtype_name(dtype) << " " << to_string(shape) << " dim "
                                     << dim << " log " << log << " seed " << seed);
                        Tensor got = log ? log_softmax(xl, dim) : softmax(xl, dim);
                        EXPECT_EQ(got.dtype(), dtype);
                        // A few ulp from exp/log, plus the sum's rounding (≤ 32·ε·L relative).
                        double eps = dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64;
                        double tol = 32 * eps * static_cast<double>(x.size(dim));
                        EXPECT_TRUE(all_close(got, expected, tol, log ? tol * 20 : eps));
                    }
                }
            }
        }
    }
}

TEST(Softmax, RowsSumToOne) {
    Tensor x = test::random_tensor({6, 50}, DType::f64, 3, -30, 30);
    Tensor p = softmax(x, 0);
    for (double s : sum(p, {0}).to_vector<double>()) EXPECT_NEAR(s, 1.0, 1e-14);
}

TEST(Softmax, IsStableForLargeAndInfiniteValues) {
    Tensor big = Tensor::from_vector(std::vector<float>{1000.0f, 1001.0f, -1000.0f}, {3});
    std::vector<double> p = softmax(big, 0).to_vector<double>();
    EXPECT_NEAR(p[0], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
    EXPECT_NEAR(p[1], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
    EXPECT_EQ(p[2], 0.0);
    std::vector<double> lp = log_softmax(big, 0).to_vector<double>();
    EXPECT_NEAR(lp[1], -std::log1p(std::exp(-1.0)), 1e-5);
    EXPECT_NEAR(lp[2], -2001.0 - std::log1p(std::exp(-1.0)), 1e-2);

    // A row with some −inf: those get probability 0 (log-probability −inf).
    Tensor some = Tensor::from_vector(std::vector<double>{-kInf, 0.0, 0.0}, {3});
    EXPECT_EQ(softmax(some, 0).to_vector<double>(), (std::vector<double>{0.0, 0.5, 0.5}));
    std::vector<double> ls = log_softmax(some, 0).to_vector<double>();
    EXPECT_EQ(ls[0], -kInf);
    EXPECT_NEAR(ls[1], -std::log(2.0), 1e-15);
    // A row of only −inf has no distribution: NaN, as in PyTorch.
    Tensor all = Tensor::full({2}, -kInf, DType::f64);
    for (double v : softmax(all, 0).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
}

TEST(Softmax, HandlesRankZeroAndEmpty) {
    EXPECT_EQ(softmax(Tensor::scalar(3.0), 0).item(), 1.0);
    EXPECT_EQ(log_softmax(Tensor::scalar(3.0), -1).item(), 0.0);
    EXPECT_EQ(softmax(Tensor::zeros({0, 4}), 1).shape(), Shape({0, 4}));
    EXPECT_EQ(log_softmax(Tensor::zeros({3, 0}), 1).shape(), Shape({3, 0}));
}

TEST(Softmax, RejectsBadDimAndIntegers) {
    Tensor x = Tensor::zeros({2, 3});
    EXPECT_TRUE(throws_error([&] { softmax(x, 2); }, {"softmax", "dim 2", "rank 2"}));
    EXPECT_TRUE(throws_error([&] { log_softmax(x, -3); }, {"log_softmax", "dim -3", "rank 2"}));
    EXPECT_TRUE(
        throws_error([] { softmax(test::random_ints({3}, 0, 2, 1), 0); }, {"softmax", "i64"}));
}

TEST(OneHot, MatchesLabelsInEveryDtype) {
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{2, 0, 3, 3, 1, 0}, {2, 3});
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        Tensor h = one_hot(labels, 4, dtype);
        EXPECT_EQ(h.dtype(), dtype);
        ASSERT_EQ(h.shape(), Shape({2, 3, 4}));
        std::vector<double> v = h.to_vector<double>();
        std::vector<std::int64_t> l = labels.to_vector<std::int64_t>();
        for (std::size_t n = 0; n < l.size(); ++n)
            for (std::int64_t c = 0; c < 4; ++c)
                EXPECT_EQ(v[n * 4 + static_cast<std::size_t>(c)], l[n] == c ? 1.0 : 0.0);
    }
    // Non-contiguous labels and empty labels.
    EXPECT_TRUE(all_close(one_hot(labels.t(), 4), one_hot(labels.t().contiguous(), 4), 0, 0));
    EXPECT_EQ(one_hot(Tensor::zeros({0}, DType::i64), 5).shape(), Shape({0, 5}));
}

TEST(OneHot, RejectsOutOfRangeLabelsNamingValueAndClasses) {
    Tensor high = Tensor::from_vector(std::vector<std::int64_t>{0, 7, 2}, {3});
    EXPECT_TRUE(throws_error([&] { one_hot(high, 5); }, {"one_hot", "7", "num_classes 5"}));
    Tensor low = Tensor::from_vector(std::vector<std::int64_t>{0, -1, 9}, {3});
    EXPECT_TRUE(throws_error([&] { one_hot(low, 5); }, {"one_hot", "-1", "num_classes 5"}));
    EXPECT_TRUE(throws_error([&] { one_hot(high, 0); }, {"one_hot", "num_classes", "0"}));
    EXPECT_TRUE(throws_error([] { one_hot(Tensor::zeros({3}), 4); }, {"one_hot", "labels", "f32"}));
}

}  // namespace
}  // namespace postr
