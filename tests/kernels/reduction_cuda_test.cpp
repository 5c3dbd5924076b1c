// CPU/CUDA parity of the reductions, softmax and one_hot. The shapes are chosen to reach every
// CUDA path: a thread per short row, a thread per column-like row (with segments), a warp per
// row, a block per row with segments, and the two-stage all-elements reduction.
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
using test::random_tensor;
using test::throws_error;

const Device kCuda = Device::cuda(0);

struct Case {
    Shape shape;
    std::vector<int> dims;
};
const std::vector<Case> kCases = {
    {{1000, 7}, {1}},        // thread per short row
    {{5000, 300}, {0}},      // column-like rows, two segments, stage 2
    {{200, 1000}, {1}},      // warp per row
    {{20, 50'000}, {1}},     // block per row, seven segments
    {{(1 << 22) + 3}, {}},   // all elements: 1024 segments, then one block
    {{3, 4, 5, 6}, {0, 2}},  // a compacted permutation
    {{0, 5}, {0}},           // empty rows
    {{}, {}},                // rank 0
};

// The CPU cascade and the GPU tree round differently: both are within about
// (32 + log2 n)·ε·Σ|x| of the exact sum, and Σ|x| ≤ L for values in [−1, 1].
double atol_for(DType dtype, std::int64_t len) {
    double eps = dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64;
    return 64.0 * eps * static_cast<double>(std::max<std::int64_t>(len, 1));
}

std::vector<Tensor> layouts(const Tensor& x) {
    std::vector<Tensor> out = {x, test::strided_copy(x)};
    if (x.dim() >= 2) out.push_back(test::transposed_copy(x));
    return out;
}

std::int64_t reduced_len(const Case& c) {
    if (c.dims.empty()) return numel(c.shape);
    std::int64_t n = 1;
    for (int d : c.dims)
        n *= c.shape[static_cast<std::size_t>(d < 0 ? d + static_cast<int>(c.shape.size()) : d)];
    return n;
}

TEST(ReductionCuda, MatchesCpuForEveryOpAndPath) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 0;
    for (DType dtype : {DType::f32, DType::f64}) {
        for (const Case& c : kCases) {
            Tensor x = random_tensor(c.shape, dtype, ++seed);
            const std::vector<Tensor> cpu_layouts = layouts(x), cuda_layouts = layouts(x.to(kCuda));
            for (std::size_t k = 0; k < cpu_layouts.size(); ++k) {
                const Tensor& xl = cpu_layouts[k];
                const Tensor& xg = cuda_layouts[k];
                // Sums (sum, norm 1) get the sum bound; the O(1)-sized results (mean, var,
                // logsumexp, norm 2 and inf) that bound divided by L, plus a relative term for
                // the few ulp that exp/log/sqrt/division add on each device.
                const double atol_sum = atol_for(dtype, reduced_len(c));
                const double atol = atol_for(dtype, 1);
                const double rtol = dtype == DType::f32 ? 1e-5 : 1e-12;
                for (bool keepdim : {false, true}) {
                    SCOPED_TRACE(::testing::Message()
                                 << dtype_name(dtype) << " " << to_string(c.shape) << " keepdim "
                                 << keepdim << " contiguous " << xl.is_contiguous() << " seed "
                                 << seed);
                    EXPECT_TRUE(all_close(sum(xg, c.dims, keepdim).to(Device::cpu()),
                                          sum(xl, c.dims, keepdim), 0, atol_sum));
                    EXPECT_TRUE(all_close(mean(xg, c.dims, keepdim).to(Device::cpu()),
                                          mean(xl, c.dims, keepdim), rtol, atol));
                    for (std::int64_t corr : {0, 1})
                        EXPECT_TRUE(all_close(var(xg, c.dims, corr, keepdim).to(Device::cpu()),
                                              var(xl, c.dims, corr, keepdim), rtol, atol));
                    EXPECT_TRUE(all_close(logsumexp(xg, c.dims, keepdim).to(Device::cpu()),
                                          logsumexp(xl, c.dims, keepdim), rtol, atol));
                    for (double p : {1.0, 2.0, std::numeric_limits<double>::infinity()})
                        EXPECT_TRUE(all_close(norm(xg, p, c.dims, keepdim).to(Device::cpu()),
                                              norm(xl, p, c.dims, keepdim), rtol,
                                              p == 1.0 ? atol_sum : atol));
                }
            }
        }
    }
}

TEST(ReductionCuda, SumOfI64IsExact) {
    POSTR_REQUIRE_CUDA();
    Tensor x = test::random_ints({300, 5000}, -1'000'000'000, 1'000'000'000, 3);
    Tensor xg = x.to(kCuda);
    EXPECT_TRUE(all_close(sum(xg, {0}).to(Device::cpu()), sum(x, {0}), 0, 0));
    EXPECT_TRUE(all_close(sum(xg, {1}).to(Device::cpu()), sum(x, {1}), 0, 0));
    EXPECT_EQ(sum(xg).item<std::int64_t>(), sum(x).item<std::int64_t>());
}

TEST(ReductionCuda, ExtremaAndIndicesMatchCpuExactly) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 50;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (const Shape& shape : {Shape{1000, 7}, Shape{5000, 300}, Shape{200, 1000},
                                   Shape{20, 50'000}, Shape{(1 << 22) + 3}}) {
            // Few distinct values: many ties, so the first index is what is compared.
            Tensor x = test::random_ints(shape, -5, 6, ++seed).to(dtype);
            Tensor xg = x.to(kCuda);
            for (int dim = 0; dim < x.dim(); ++dim) {
                SCOPED_TRACE(::testing::Message()
                             << dtype_name(dtype) << " " << to_string(shape) << " dim " << dim);
                for (bool largest : {true, false}) {
                    ValuesIndices c = largest ? max(x, dim) : min(x, dim);
                    ValuesIndices g = largest ? max(xg, dim) : min(xg, dim);
                    EXPECT_TRUE(all_close(g.values.to(Device::cpu()), c.values, 0, 0));
                    EXPECT_TRUE(all_close(g.indices.to(Device::cpu()), c.indices, 0, 0));
                    Tensor ga = largest ? argmax(xg.t(), -1, true) : argmin(xg.t(), -1, true);
                    Tensor ca = largest ? argmax(x.t(), -1, true) : argmin(x.t(), -1, true);
                    EXPECT_TRUE(all_close(ga.to(Device::cpu()), ca, 0, 0));
                }
            }
            EXPECT_EQ(max(xg).item(), max(x).item());
            EXPECT_EQ(min(xg).item(), min(x).item());
        }
    }
}

TEST(ReductionCuda, NaNAndInfinitiesPropagateAsOnCpu) {
    POSTR_REQUIRE_CUDA();
    const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
    Tensor x = Tensor::from_vector(
        std::vector<double>{1, nan, 9, nan, 2, 5, -inf, inf, -inf, -inf, -inf, -inf}, {3, 4});
    Tensor xg = x.to(kCuda);
    for (int dim : {0, 1}) {
        EXPECT_TRUE(all_close(max(xg, dim).indices.to(Device::cpu()), max(x, dim).indices, 0, 0));
        EXPECT_TRUE(all_close(min(xg, dim).values.to(Device::cpu()), min(x, dim).values, 0, 0));
        // Different libms: a few ulp.
        EXPECT_TRUE(
            all_close(logsumexp(xg, {dim}).to(Device::cpu()), logsumexp(x, {dim}), 1e-14, 0));
        EXPECT_TRUE(
            all_close(norm(xg, 2.0, {dim}).to(Device::cpu()), norm(x, 2.0, {dim}), 1e-14, 0));
        EXPECT_TRUE(all_close(softmax(xg, dim).to(Device::cpu()), softmax(x, dim), 1e-14, 0));
    }
    EXPECT_TRUE(std::isnan(max(xg).item()));
}

TEST(ReductionCuda, AllFiniteAndCheckFinite) {
    POSTR_REQUIRE_CUDA();
    Tensor x = random_tensor({64, 70'000}, DType::f32, 9, -1, 1, kCuda);
    EXPECT_TRUE(all_finite(x));
    EXPECT_TRUE(all_finite(x.t()));
    x.select(0, 63).narrow(0, 69'990, 1).fill_(NAN);
    EXPECT_FALSE(all_finite(x));
    EXPECT_FALSE(all_finite(x.t()));
    EXPECT_TRUE(all_finite(x.narrow(0, 0, 63)));
    EXPECT_TRUE(throws_error([&] { check_finite("adam", "grad", x); },
                             {"adam: grad contains non-finite values",
                              "flat index " + std::to_string(63LL * 70'000 + 69'990), "nan"}));
}

TEST(ReductionCuda, EmptyInputsAndErrors) {
    POSTR_REQUIRE_CUDA();
    Tensor e = Tensor::zeros({0, 3}, DType::f32, kCuda);
    EXPECT_EQ(sum(e).item(), 0.0);
    EXPECT_TRUE(std::isnan(mean(e).item()));
    EXPECT_EQ(sum(e, {0}).to_vector<double>(), std::vector<double>(3, 0.0));
    EXPECT_TRUE(throws_error([&] { max(e); }, {"max", "empty", "[0, 3]"}));
    EXPECT_TRUE(throws_error([&] { argmax(e, 0); }, {"argmax", "[0, 3]"}));
}

TEST(SoftmaxCuda, MatchesCpuAlongEveryDim) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 200;
    for (DType dtype : {DType::f32, DType::f64}) {
        // Rows of 7 (warp), 5000 (block) along the last dim, and strided rows along dim 0.
        for (const Shape& shape : {Shape{300, 7}, Shape{16, 5000}, Shape{4, 33, 20}}) {
            Tensor x = random_tensor(shape, dtype, ++seed, -20, 20);
            Tensor xg = x.to(kCuda);
            for (int dim = -x.dim(); dim < x.dim(); ++dim) {
                SCOPED_TRACE(::testing::Message()
                             << dtype_name(dtype) << " " << to_string(shape) << " dim " << dim);
                // exp and log differ by a few ulp between libms; the sums round differently.
                const double eps = dtype == DType::f32 ? test::kEpsF32 : test::kEpsF64;
                const double tol = 64 * eps * std::log2(static_cast<double>(x.size(dim)) + 2);
                EXPECT_TRUE(
                    all_close(softmax(xg, dim).to(Device::cpu()), softmax(x, dim), tol, eps));
                EXPECT_TRUE(all_close(log_softmax(xg, dim).to(Device::cpu()), log_softmax(x, dim),
                                      tol, tol));
                EXPECT_TRUE(all_close(softmax(xg.transpose(0, -1), dim).to(Device::cpu()),
                                      softmax(x.transpose(0, -1), dim), tol, eps));
            }
        }
    }
}

TEST(OneHotCuda, MatchesCpuAndChecksRange) {
    POSTR_REQUIRE_CUDA();
    Tensor labels = test::random_ints({50, 3}, 0, 10, 4);
    Tensor lg = labels.to(kCuda);
    for (DType dtype : {DType::f32, DType::f64, DType::i64})
        EXPECT_TRUE(
            all_close(one_hot(lg, 10, dtype).to(Device::cpu()), one_hot(labels, 10, dtype), 0, 0));
    EXPECT_TRUE(throws_error([&] { one_hot(lg, 9); }, {"one_hot", "9"}));
    Tensor neg = Tensor::from_vector(std::vector<std::int64_t>{3, -2}, {2}).to(kCuda);
    EXPECT_TRUE(throws_error([&] { one_hot(neg, 4); }, {"one_hot", "-2", "num_classes 4"}));
}

}  // namespace
}  // namespace postr
