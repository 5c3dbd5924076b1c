// Random draws on the CPU: moments of 1e5 draws against the distribution's (within 5 standard
// errors, so a correct kernel fails with probability below 1e-6 per check), reproducibility for
// a seed, independence of successive draws, the generator's offset, and the per-element Philox
// contract that makes CPU and CUDA draws identical.
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/philox.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/scalar_math.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

constexpr std::int64_t kDraws = 100000;
constexpr double kSigmas = 5.0;

struct Moments {
    double mean, var;
};

Moments moments(const Tensor& t) {
    const std::vector<double> v = t.to_vector<double>();
    const double n = static_cast<double>(v.size());
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    return {mean, ss / (n - 1)};
}

// Checks sample mean and variance of `t` against a distribution with the given mean, variance
// and fourth central moment mu4 (the standard error of a sample variance is √((μ4 − σ⁴)/n)).
void expect_moments(const Tensor& t, double mean, double var, double mu4) {
    const Moments m = moments(t);
    const double n = static_cast<double>(t.numel());
    EXPECT_NEAR(m.mean, mean, kSigmas * std::sqrt(var / n));
    EXPECT_NEAR(m.var, var, kSigmas * std::sqrt((mu4 - var * var) / n));
}

TEST(Uniform, MomentsAndRange) {
    const double low = -2.0, high = 3.0, w = high - low;
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Generator gen(42);
        Tensor u = uniform({kDraws}, gen, low, high, dtype);
        EXPECT_EQ(u.dtype(), dtype);
        EXPECT_EQ(u.shape(), (Shape{kDraws}));
        expect_moments(u, (low + high) / 2, w * w / 12, w * w * w * w / 80);
        for (double x : u.to_vector<double>()) {
            ASSERT_GE(x, low);
            ASSERT_LT(x, high);
        }
    }
    Generator gen(3);
    for (double x : uniform({kDraws}, gen, 1.0, 2.0).to_vector<double>()) ASSERT_LT(x, 2.0);
}

TEST(Uniform, ElementIUsesPhiloxCounterFirstPlusI) {
    Generator gen(1234);
    gen.set_offset(77);
    const double low = -1.0, high = 4.0;
    std::vector<float> f = uniform({3}, gen, low, high, DType::f32).to_vector<float>();
    std::vector<double> d = uniform({3}, gen, low, high, DType::f64).to_vector<double>();
    for (std::uint64_t i = 0; i < 3; ++i) {
        Philox4 r = philox4x32(1234, 77 + i);
        EXPECT_EQ(f[i], std::fma(5.0f, math::uniform_f32(r.v[0]), -1.0f));
        Philox4 r2 = philox4x32(1234, 80 + i);
        EXPECT_EQ(d[i], std::fma(5.0, math::uniform_f64(r2.v[0], r2.v[1]), -1.0));
    }
}

TEST(Normal, MomentsAndTails) {
    const double mean = 1.5, stddev = 2.0, var = stddev * stddev;
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Generator gen(7);
        Tensor z = normal({kDraws}, gen, mean, stddev, dtype);
        EXPECT_EQ(z.dtype(), dtype);
        expect_moments(z, mean, var, 3 * var * var);
        // P(|z − μ| < σ) = 0.6827: a check on the shape, not just the first two moments.
        const std::vector<double> v = z.to_vector<double>();
        double inside = 0;
        for (double x : v) {
            ASSERT_TRUE(std::isfinite(x));
            inside += std::fabs(x - mean) < stddev ? 1 : 0;
        }
        const double p = 0.6826894921370859, n = static_cast<double>(v.size());
        EXPECT_NEAR(inside / n, p, kSigmas * std::sqrt(p * (1 - p) / n));
    }
    Generator gen(0);
    EXPECT_EQ(normal({4}, gen, 3.0, 0.0).to_vector<double>(), std::vector<double>(4, 3.0));
}

TEST(Bernoulli, FrequencyMatchesPerElementProbability) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        // Rows of p = 0, 0.3, 1 laid out non-contiguously: [3, N] stored transposed.
        std::vector<double> pv{0.0, 0.3, 1.0};
        Tensor p = Tensor::from_vector(pv, {3, 1}).to(dtype).expand({3, kDraws});
        p = test::transposed_copy(p.contiguous());
        Generator gen(11);
        Tensor b = bernoulli(p, gen);
        EXPECT_EQ(b.dtype(), dtype);
        EXPECT_EQ(b.shape(), (Shape{3, kDraws}));
        const std::vector<double> v = b.to_vector<double>();
        for (int r = 0; r < 3; ++r) {
            double ones = 0;
            for (std::int64_t i = 0; i < kDraws; ++i) {
                const double x = v[static_cast<std::size_t>(r * kDraws + i)];
                ASSERT_TRUE(x == 0.0 || x == 1.0);
                ones += x;
            }
            const double n = static_cast<double>(kDraws), q = pv[r];
            if (q == 0.0 || q == 1.0)
                EXPECT_EQ(ones, q * n);
            else
                EXPECT_NEAR(ones / n, q, kSigmas * std::sqrt(q * (1 - q) / n));
        }
        // The layout of p does not change the draw: element i pairs with p's i-th element.
        Generator again(11);
        EXPECT_EQ(bernoulli(p.contiguous(), again).to_vector<double>(), v);
    }
    Generator gen(0);
    EXPECT_TRUE(test::throws_error([&] { bernoulli(Tensor::zeros({2}, DType::i64), gen); },
                                   {"bernoulli", "f32 or f64", "i64"}));
}

TEST(Randint, UniformOverTheRange) {
    const std::int64_t low = -3, high = 4, k = high - low;
    Generator gen(5);
    Tensor r = randint(low, high, {kDraws}, gen);
    EXPECT_EQ(r.dtype(), DType::i64);
    std::vector<double> counts(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t x : r.to_vector<std::int64_t>()) {
        ASSERT_GE(x, low);
        ASSERT_LT(x, high);
        counts[static_cast<std::size_t>(x - low)] += 1;
    }
    const double n = static_cast<double>(kDraws), p = 1.0 / static_cast<double>(k);
    for (double c : counts) EXPECT_NEAR(c / n, p, kSigmas * std::sqrt(p * (1 - p) / n));
    expect_moments(r, (low + high - 1) / 2.0, (double(k * k) - 1) / 12.0,
                   // fourth central moment of a discrete uniform on k points
                   (double(k * k) - 1) * (3.0 * double(k * k) - 7) / 240.0);
}

TEST(Randint, HandlesExtremeRanges) {
    Generator gen(9);
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    std::vector<std::int64_t> wide = randint(kMin, kMax, {1000}, gen).to_vector<std::int64_t>();
    EXPECT_GT(std::set<std::int64_t>(wide.begin(), wide.end()).size(), 990u);
    bool negative = false, positive = false;
    for (std::int64_t x : wide) {
        ASSERT_LT(x, kMax);
        negative = negative || x < 0;
        positive = positive || x > 0;
    }
    EXPECT_TRUE(negative && positive);
    EXPECT_EQ(randint(41, 42, {5}, gen).to_vector<std::int64_t>(),
              std::vector<std::int64_t>(5, 41));
    EXPECT_TRUE(
        test::throws_error([&] { randint(3, 3, {2}, gen); }, {"randint", "low 3", "high 3"}));
}

TEST(Generator, SameSeedReproducesAndDrawsAdvanceTheOffset) {
    Generator a(2024), b(2024), c(2025);
    Tensor first = normal({2, 50}, a);
    EXPECT_EQ(a.offset(), 100u);
    EXPECT_EQ(first.to_vector<float>(), normal({2, 50}, b).to_vector<float>());
    EXPECT_NE(first.to_vector<float>(), normal({2, 50}, c).to_vector<float>());
    // Successive draws use fresh counters, so they differ.
    Tensor second = normal({2, 50}, a);
    EXPECT_EQ(a.offset(), 200u);
    EXPECT_NE(first.to_vector<float>(), second.to_vector<float>());
    // Rewinding the offset replays the stream.
    a.set_offset(0);
    EXPECT_EQ(normal({2, 50}, a).to_vector<float>(), first.to_vector<float>());
    // One draw of 10 equals draws of 4 and 6: element i depends only on its counter.
    Generator whole(8), parts(8);
    std::vector<double> all = uniform({10}, whole, 0, 1, DType::f64).to_vector<double>();
    std::vector<double> head = uniform({4}, parts, 0, 1, DType::f64).to_vector<double>();
    std::vector<double> tail = uniform({2, 3}, parts, 0, 1, DType::f64).to_vector<double>();
    head.insert(head.end(), tail.begin(), tail.end());
    EXPECT_EQ(all, head);
    // An empty draw takes no counters.
    Generator g(1);
    EXPECT_EQ(uniform({0, 3}, g).numel(), 0);
    EXPECT_EQ(g.offset(), 0u);
    EXPECT_EQ(randint(0, 2, {}, g).dim(), 0);
    EXPECT_EQ(g.offset(), 1u);
}

// Random fills run in chunks on the thread pool; each element depends only on its index, so 1
// and 4 threads give the same bits (a fill of 100,003 elements spans many chunks, the last one
// partial).
TEST(Random, DrawsDoNotDependOnTheThreadCount) {
    const std::int64_t n = 100003;
    const Tensor p = Tensor::full({n}, 0.3, DType::f64);
    auto draw_all = [&] {
        Generator gen(77);
        return std::vector<Tensor>{normal({n}, gen, 0.5, 2.0, DType::f32),
                                   normal({n}, gen, 0.0, 1.0, DType::f64),
                                   uniform({n}, gen, -1.0, 3.0, DType::f32), bernoulli(p, gen),
                                   randint(0, 1000, {n}, gen)};
    };
    const int saved = num_threads();
    set_num_threads(1);
    const std::vector<Tensor> one = draw_all();
    set_num_threads(4);
    const std::vector<Tensor> four = draw_all();
    set_num_threads(saved);
    for (std::size_t k = 0; k < one.size(); ++k)
        EXPECT_TRUE(test::all_close(four[k], one[k], 0, 0)) << "draw " << k;
}

TEST(Random, RejectsBadArguments) {
    Generator gen(0);
    EXPECT_TRUE(test::throws_error([&] { uniform({2}, gen, 0, 1, DType::i64); },
                                   {"uniform", "f32 or f64", "i64"}));
    EXPECT_TRUE(
        test::throws_error([&] { uniform({2}, gen, 1, 0); }, {"uniform", "low 1", "high 0"}));
    EXPECT_TRUE(test::throws_error([&] { normal({2}, gen, 0, -1); }, {"normal", "stddev -1"}));
    EXPECT_TRUE(
        test::throws_error([&] { normal({2}, gen, 0, 1, DType::i64); }, {"normal", "f32 or f64"}));
    EXPECT_EQ(gen.offset(), 0u);
}

}  // namespace
}  // namespace postr
