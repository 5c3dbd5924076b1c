// RunningMoments against a two-pass computation, on data offset by 1e8 from zero where the naive
// Σx, Σxxᵀ formula fails (shown below); batch updates against one-by-one updates; merges against
// one pass.
//
// Tolerances: 1e-12 relative in f64. The two-pass reference and the shifted Welford/Chan
// accumulator both compute deviations from a nearby centre exactly (Sterbenz) and sum O(n)
// terms of size ~σ², so each has relative rounding ~√n·ε ≈ 1e-14 for n = 2000; 1e-12 is a
// hundredfold margin. The mean, ~1e8, carries an absolute rounding of a few ulp(1e8) ≈ 1.5e-8 in
// both computations: relative 1e-16.
#include "postr/inference/running_moments.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::RunningMoments;
using Kind = RunningMoments::Kind;

constexpr double kOffset = 1e8;

// n draws of 1e8 + L z, z ~ N(0, I), for a fixed lower-triangular L: correlated, D = 4.
Tensor offset_data(std::int64_t n, std::uint64_t seed) {
    Generator gen(seed);
    const Tensor z = normal({n, 4}, gen, 0.0, 1.0, DType::f64);
    const Tensor l = Tensor::from_vector(
        std::vector<double>{1.0, 0, 0, 0, 0.5, 2.0, 0, 0, -0.3, 0.2, 0.7, 0, 0.1, -1.0, 0.4, 1.5},
        {4, 4});
    return add(matmul(z, l.t()), kOffset);
}

struct TwoPass {
    Tensor mean, cov;
};

TwoPass two_pass(const Tensor& x) {
    const Tensor m = mean(x, {0});
    const Tensor c = sub(x, m);
    return {m, mul(matmul(c.t(), c), 1.0 / static_cast<double>(x.size(0) - 1))};
}

// |a − b| ≤ 1e-12 (|b| + max|b|): relative, with an absolute floor at the matrix's scale so that
// near-zero covariances are not held to a relative bound.
::testing::AssertionResult close12(const Tensor& a, const Tensor& b) {
    const double scale = max(abs(b)).item();
    return test::all_close(a, b, 1e-12, 1e-12 * scale);
}

TEST(RunningMoments, DenseMatchesTwoPassAtLargeOffsetWhereNaiveFails) {
    const std::int64_t n = 2000;
    const Tensor x = offset_data(n, 3);
    RunningMoments acc(4, Kind::dense);
    for (std::int64_t i = 0; i < n; ++i) acc.update(x[i]);
    const TwoPass ref = two_pass(x);
    EXPECT_EQ(acc.count(), n);
    EXPECT_TRUE(close12(acc.mean(), ref.mean));
    EXPECT_TRUE(close12(acc.covariance(), ref.cov));
    EXPECT_TRUE(close12(acc.variance(), ref.cov.as_strided({4}, {5}, 0).clone()));
    EXPECT_TRUE(close12(acc.covariance(0), mul(ref.cov, (n - 1.0) / n)));

    // The naive formula (Σ x xᵀ − n x̄ x̄ᵀ)/(n − 1) on the same data: x xᵀ ~ 1e16, whose ulp (2)
    // is larger than the covariance (~1): the result is garbage, off by O(1) or more.
    const std::vector<double> xv = x.to_vector<double>();
    std::vector<double> s(4, 0.0), ss(16, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 4; ++a) {
            s[a] += xv[i * 4 + a];
            for (int b = 0; b < 4; ++b) ss[a * 4 + b] += xv[i * 4 + a] * xv[i * 4 + b];
        }
    const std::vector<double> cov = ref.cov.to_vector<double>();
    double naive_error = 0.0;
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
            const double naive = (ss[a * 4 + b] - s[a] * s[b] / n) / (n - 1.0);
            naive_error = std::max(naive_error, std::abs(naive - cov[a * 4 + b]));
        }
    EXPECT_GT(naive_error, 0.1)
        << "the data must defeat the naive formula for the test to mean something";
}

TEST(RunningMoments, DiagonalMatchesTwoPassAtLargeOffset) {
    const std::int64_t n = 2000;
    const Tensor x = offset_data(n, 4);
    RunningMoments acc(4, Kind::diagonal);
    for (std::int64_t i = 0; i < n; ++i) acc.update(x[i]);
    EXPECT_TRUE(close12(acc.mean(), mean(x, {0})));
    EXPECT_TRUE(close12(acc.variance(), var(x, {0})));
    EXPECT_TRUE(close12(acc.variance(0), var(x, {0}, 0)));
}

TEST(RunningMoments, BatchUpdateEqualsOneByOne) {
    const Tensor x = offset_data(300, 5);
    for (Kind kind : {Kind::diagonal, Kind::dense}) {
        RunningMoments single(4, kind), batched(4, kind);
        for (std::int64_t i = 0; i < 300; ++i) single.update(x[i]);
        // Uneven batches, an empty one and a batch of one included.
        const std::vector<std::int64_t> sizes = {1, 7, 0, 50, 1, 141, 100};
        std::int64_t start = 0;
        for (std::int64_t b : sizes) {
            batched.update(x.narrow(0, start, b));
            start += b;
        }
        ASSERT_EQ(start, 300);
        EXPECT_EQ(batched.count(), 300);
        EXPECT_TRUE(close12(batched.mean(), single.mean()));
        EXPECT_TRUE(close12(batched.variance(), single.variance()));
        if (kind == Kind::dense) {
            EXPECT_TRUE(close12(batched.covariance(), single.covariance()));
        }
    }
}

TEST(RunningMoments, MergeEqualsSinglePass) {
    const Tensor x = offset_data(600, 6);
    for (Kind kind : {Kind::diagonal, Kind::dense}) {
        RunningMoments all(4, kind), a(4, kind), b(4, kind), c(4, kind), empty(4, kind);
        all.update(x);
        // Three accumulators with different shifts (their first rows), fed differently.
        for (std::int64_t i = 0; i < 100; ++i) a.update(x[i]);
        b.update(x.narrow(0, 100, 350));
        c.update(x.narrow(0, 450, 150));
        a.merge(empty);  // a no-op
        a.merge(b);
        a.merge(c);
        RunningMoments fresh(4, kind);
        fresh.merge(a);  // into an empty accumulator: a copy
        for (const RunningMoments* m : {&a, &fresh}) {
            EXPECT_EQ(m->count(), 600);
            EXPECT_TRUE(close12(m->mean(), all.mean()));
            EXPECT_TRUE(close12(m->variance(), all.variance()));
            if (kind == Kind::dense) {
                EXPECT_TRUE(close12(m->covariance(), all.covariance()));
            }
        }
        EXPECT_TRUE(close12(all.mean(), mean(x, {0})));
    }
}

TEST(RunningMoments, Float32) {
    // f32 at a moderate offset: relative rounding ~√n·6e-8 ≈ 1e-6 on the variance.
    const Tensor x = test::random_tensor({500, 3}, DType::f64, 8, 9.0, 11.0);
    RunningMoments acc(3, Kind::dense, DType::f32);
    acc.update(x.to(DType::f32));
    const TwoPass ref = two_pass(x);
    EXPECT_EQ(acc.mean().dtype(), DType::f32);
    EXPECT_TRUE(test::all_close(acc.mean().to(DType::f64), ref.mean, 1e-6, 0.0));
    EXPECT_TRUE(test::all_close(acc.covariance().to(DType::f64), ref.cov, 1e-4, 1e-5));
}

TEST(RunningMoments, BadInputsThrow) {
    EXPECT_TRUE(test::throws_error([] { RunningMoments(0, Kind::dense); },
                                   {"RunningMoments", "dim must be >= 1"}));
    EXPECT_TRUE(test::throws_error([] { RunningMoments(2, Kind::dense, DType::i64); },
                                   {"RunningMoments", "f32 or f64"}));
    RunningMoments acc(3, Kind::diagonal);
    EXPECT_TRUE(test::throws_error([&] { acc.mean(); }, {"RunningMoments", "empty"}));
    EXPECT_TRUE(test::throws_error([&] { acc.update(Tensor::zeros({4}, DType::f64)); },
                                   {"RunningMoments", "[4]", "D = 3"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            acc.update(Tensor::zeros({2, 2}, DType::f64));
        },
        {"RunningMoments", "[2, 2]"}));
    EXPECT_TRUE(test::throws_error([&] { acc.update(Tensor::zeros({3}, DType::f32)); },
                                   {"RunningMoments"}));
    EXPECT_TRUE(test::throws_error([&] { acc.update(Tensor::full({3}, NAN, DType::f64)); },
                                   {"RunningMoments", "non-finite"}));
    acc.update(Tensor::zeros({3}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { acc.variance(); },
                                   {"RunningMoments", "variance needs more than 1"}));
    EXPECT_TRUE(test::throws_error([&] { acc.covariance(); }, {"RunningMoments", "Kind::dense"}));
    RunningMoments dense(3, Kind::dense);
    EXPECT_TRUE(test::throws_error([&] { acc.merge(dense); }, {"RunningMoments", "cannot merge"}));
}

}  // namespace
}  // namespace postr
