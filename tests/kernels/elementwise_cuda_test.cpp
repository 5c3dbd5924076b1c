// CPU/CUDA parity of the elementwise, creation and random ops: the same inputs through both
// devices, compared elementwise. Random draws must match bit for bit (uniform, bernoulli,
// randint: integer arithmetic and explicit fma on both sides) or to a few ulp (normal: libm's and
// CUDA's log/cos differ by an ulp or two). Every test skips without a CUDA device.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/cuda_context.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const Device kGpu = Device::cuda(0);

// f64: a few ulp between glibc and CUDA's libm (tolerances.h). f32: each side is within about
// 2 ulp of the true value for CUDA's non-fast-math single-precision functions (CUDA C
// Programming Guide, "Mathematical Functions"; powf up to 4), so twice the per-side tolerance.
double rtol_for(DType t) { return t == DType::f32 ? 2 * test::kRtolF32 : test::kRtolF64; }
double atol_for(DType t) { return t == DType::f32 ? 2 * test::kAtolF32 : test::kAtolF64; }

::testing::AssertionResult same(const Tensor& cuda_result, const Tensor& cpu_result) {
    if (!cuda_result.is_cuda()) return ::testing::AssertionFailure() << "result is not on the GPU";
    if (cuda_result.dtype() != cpu_result.dtype())
        return ::testing::AssertionFailure() << "dtypes differ";
    return test::all_close(cuda_result.to(Device::cpu()), cpu_result, rtol_for(cpu_result.dtype()),
                           atol_for(cpu_result.dtype()));
}

::testing::AssertionResult bitwise(const Tensor& cuda_result, const Tensor& cpu_result) {
    return test::all_close(cuda_result.to(Device::cpu()), cpu_result, 0, 0);
}

// Random values in [low, high) followed by the edge set (±inf, NaN, ±0, large magnitudes).
Tensor with_edges(DType dtype, std::uint64_t seed, double low, double high) {
    std::vector<double> v =
        test::random_tensor({40}, DType::f64, seed, low, high).to_vector<double>();
    for (double e : {kInf, -kInf, kNaN, 0.0, -0.0, 100.0, -100.0, 1000.0, -1000.0}) v.push_back(e);
    return Tensor::from_vector(v, {7, 7}).to(dtype);
}

using UnaryFn = Tensor (*)(const Tensor&);
using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);

TEST(ElementwiseCuda, UnaryMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const std::vector<std::pair<const char*, UnaryFn>> ops = {
        {"neg", neg},       {"abs", abs},
        {"square", square}, {"exp", exp},
        {"log", log},       {"log1p", log1p},
        {"expm1", expm1},   {"sqrt", sqrt},
        {"rsqrt", rsqrt},   {"reciprocal", reciprocal},
        {"tanh", tanh},     {"sigmoid", sigmoid},
        {"relu", relu},     {"softplus", softplus}};
    std::uint64_t seed = 1;
    for (const auto& [name, op] : ops) {
        for (DType dtype : {DType::f32, DType::f64}) {
            SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
            Tensor x = with_edges(dtype, seed++, 0.01, 5.0);
            Tensor y = with_edges(dtype, seed++, -30.0, 30.0);
            EXPECT_TRUE(same(op(x.to(kGpu)), op(x)));
            EXPECT_TRUE(same(op(test::strided_copy(y.to(kGpu))), op(y)));
            EXPECT_TRUE(same(op(test::transposed_copy(y).to(kGpu)), op(y)));
        }
    }
    Tensor i = test::random_ints({3, 4}, -1000, 1000, 9);
    for (UnaryFn op : {UnaryFn{neg}, UnaryFn{abs}, UnaryFn{square}})
        EXPECT_TRUE(bitwise(op(i.to(kGpu)), op(i)));
}

TEST(ElementwiseCuda, BinaryMatchesCpuWithBroadcastAndStrides) {
    POSTR_REQUIRE_CUDA();
    const std::vector<std::pair<const char*, BinaryFn>> ops = {
        {"add", add},         {"sub", sub},         {"mul", mul}, {"div", div}, {"pow", pow},
        {"maximum", maximum}, {"minimum", minimum}, {"eq", eq},   {"ne", ne},   {"lt", lt},
        {"le", le},           {"gt", gt},           {"ge", ge}};
    std::uint64_t seed = 100;
    for (const auto& [name, op] : ops) {
        for (DType dtype : {DType::f32, DType::f64}) {
            SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
            Tensor a = test::random_tensor({3, 1, 4}, dtype, seed++, 0.5, 2.0);
            Tensor b = test::random_tensor({5, 4}, dtype, seed++, 0.5, 2.0);
            EXPECT_TRUE(same(op(a.to(kGpu), b.to(kGpu)), op(a, b)));
            EXPECT_TRUE(same(op(test::strided_copy(a.to(kGpu)), test::transposed_copy(b).to(kGpu)),
                             op(a, b)));
            Tensor s = Tensor::scalar(1.25, dtype);
            EXPECT_TRUE(same(op(s.to(kGpu), b.to(kGpu)), op(s, b)));
            Tensor e = with_edges(dtype, seed++, -2.0, 2.0);
            EXPECT_TRUE(same(op(e.to(kGpu), e.t().to(kGpu)), op(e, e.t())));
        }
    }
    Tensor ia = test::random_ints({4, 1}, -50, 50, 7), ib = test::random_ints({3}, -50, 50, 8);
    for (BinaryFn op : {BinaryFn{add}, BinaryFn{sub}, BinaryFn{mul}, BinaryFn{maximum},
                        BinaryFn{minimum}, BinaryFn{lt}, BinaryFn{eq}})
        EXPECT_TRUE(bitwise(op(ia.to(kGpu), ib.to(kGpu)), op(ia, ib)));
}

TEST(ElementwiseCuda, ReluBackwardMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor out = relu(with_edges(dtype, 11, -3.0, 3.0));
        Tensor g = test::random_tensor({3, 7, 7}, dtype, 12);
        EXPECT_TRUE(bitwise(relu_backward(g.to(kGpu), out.to(kGpu)), relu_backward(g, out)));
        EXPECT_TRUE(bitwise(relu_backward(test::strided_copy(g.to(kGpu)), out.t().to(kGpu)),
                            relu_backward(g, out.t())));
    }
}

TEST(ElementwiseCuda, ScalarClampWhereMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor x = with_edges(dtype, 3, -3.0, 3.0);
        Tensor g = test::strided_copy(x.to(kGpu));
        EXPECT_TRUE(same(add(g, 2.5), add(x, 2.5)));
        EXPECT_TRUE(same(mul(g, -0.75), mul(x, -0.75)));
        EXPECT_TRUE(same(pow(g, 2.0), pow(x, 2.0)));
        EXPECT_TRUE(same(pow(g, -1.5), pow(x, -1.5)));
        EXPECT_TRUE(same(clamp(g, -1.0, 0.5), clamp(x, -1.0, 0.5)));
        Tensor cond = test::random_ints({7, 1}, 0, 2, 4);
        Tensor b = test::random_tensor({7}, dtype, 5);
        EXPECT_TRUE(bitwise(where(cond.to(kGpu), g, b.to(kGpu)), where(cond, x, b)));
    }
}

TEST(ElementwiseCuda, FusedUpdatesMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor y = test::random_tensor({6, 5}, dtype, 10);
        Tensor a = test::random_tensor({5}, dtype, 11, 0.5, 2.0);
        Tensor b = test::random_tensor({6, 1}, dtype, 12, 0.5, 2.0);
        Tensor yc = y.clone(), yg_base = y.to(kGpu);
        Tensor yg = yg_base.t().t();  // a view of the GPU base, updated in place
        axpy_(yc, 0.5, a);
        axpy_(yg, 0.5, a.to(kGpu));
        axpby_(yc, -1.0, b, 0.25);
        axpby_(yg, -1.0, b.to(kGpu), 0.25);
        addcmul_(yc, 2.0, a, b);
        addcmul_(yg, 2.0, a.to(kGpu), b.to(kGpu));
        addcdiv_(yc, -0.5, b, a);
        addcdiv_(yg, -0.5, b.to(kGpu), a.to(kGpu));
        scale_(yc, 3.0);
        scale_(yg, 3.0);
        // nvcc contracts α·x + β·y and y + v·a·b into fmas, the CPU build does not, so a step
        // can differ by an ulp of its largest term (|terms| < 40 here) rather than of its
        // result, which may be near zero after cancellation: an absolute tolerance of about
        // 8 ulp of 40.
        const double atol = dtype == DType::f32 ? 4e-5 : 1e-13;
        EXPECT_TRUE(test::all_close(yg_base.to(Device::cpu()), yc, rtol_for(dtype), atol));
        Tensor yt = test::transposed_copy(y).to(kGpu);
        Tensor yt_cpu = y.clone();
        axpy_(yt, 1.5, a.to(kGpu));
        axpy_(yt_cpu, 1.5, a);
        EXPECT_TRUE(test::all_close(yt.to(Device::cpu()), yt_cpu, rtol_for(dtype), atol));
    }
}

TEST(ElementwiseCuda, HandlesEmptyAndRankZero) {
    POSTR_REQUIRE_CUDA();
    Tensor e = Tensor::zeros({0, 3}, DType::f32, kGpu);
    EXPECT_EQ(exp(e).shape(), (Shape{0, 3}));
    EXPECT_EQ(add(e, Tensor::ones({3}, DType::f32, kGpu)).shape(), (Shape{0, 3}));
    axpy_(e, 1.0, Tensor::ones({3}, DType::f32, kGpu));
    Generator gen(1);
    EXPECT_EQ(normal({0}, gen, 0, 1, DType::f32, kGpu).numel(), 0);
    Tensor s = Tensor::scalar(2.0, DType::f64, kGpu);
    EXPECT_EQ(mul(s, s).item(), 4.0);
    EXPECT_EQ(softplus(s).dim(), 0);
    EXPECT_EQ(eye(0, DType::f32, kGpu).numel(), 0);
}

TEST(ElementwiseCuda, RejectsMixedDevices) {
    POSTR_REQUIRE_CUDA();
    Tensor c = Tensor::zeros({2}), g = Tensor::zeros({2}, DType::f32, kGpu);
    EXPECT_TRUE(test::throws_error([&] { add(c, g); }, {"add", "cpu", "cuda:0"}));
    EXPECT_TRUE(test::throws_error([&] { axpy_(g, 1.0, c); }, {"axpy_", "cpu", "cuda:0"}));
}

TEST(RandomCuda, DrawsMatchCpuForTheSameSeed) {
    POSTR_REQUIRE_CUDA();
    const Shape shape{3, 70001};  // several blocks and a ragged tail
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Generator cpu_gen(99), gpu_gen(99);
        cpu_gen.set_offset(12345);
        gpu_gen.set_offset(12345);
        EXPECT_TRUE(bitwise(uniform(shape, gpu_gen, -1.0, 3.0, dtype, kGpu),
                            uniform(shape, cpu_gen, -1.0, 3.0, dtype)));
        // The absolute tolerance covers an ulp of the largest |z| (about 6) near zero crossings.
        Tensor zc = normal(shape, cpu_gen, 0.5, 2.0, dtype);
        Tensor zg = normal(shape, gpu_gen, 0.5, 2.0, dtype, kGpu);
        EXPECT_TRUE(test::all_close(zg.to(Device::cpu()), zc, rtol_for(dtype),
                                    dtype == DType::f32 ? 1e-5 : 1e-13));
        Tensor p = uniform({2, 1000}, cpu_gen, 0.0, 1.0, dtype);
        gpu_gen.advance(2000);
        EXPECT_TRUE(
            bitwise(bernoulli(test::transposed_copy(p).to(kGpu), gpu_gen), bernoulli(p, cpu_gen)));
        EXPECT_EQ(cpu_gen.offset(), gpu_gen.offset());
    }
    Generator cpu_gen(5), gpu_gen(5);
    EXPECT_TRUE(bitwise(randint(-7, 1000000007, {50000}, gpu_gen, kGpu),
                        randint(-7, 1000000007, {50000}, cpu_gen)));
}

TEST(CreationCuda, ArangeAndEyeMatchCpu) {
    POSTR_REQUIRE_CUDA();
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        SCOPED_TRACE(dtype_name(dtype));
        EXPECT_TRUE(bitwise(arange(-3, 100000, 3, dtype, kGpu), arange(-3, 100000, 3, dtype)));
        EXPECT_TRUE(bitwise(arange(-1.5, 1000, 0.1, dtype, kGpu), arange(-1.5, 1000, 0.1, dtype)));
        EXPECT_TRUE(bitwise(eye(37, dtype, kGpu), eye(37, dtype)));
    }
}

}  // namespace
}  // namespace postr
