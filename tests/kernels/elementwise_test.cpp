// Elementwise ops on the CPU against naive f64 references computed here with std:: functions on
// host vectors: f32 and f64, broadcast, non-contiguous, empty and rank-0 operands, edge values
// (±inf, NaN, zero) and the error messages. Creation ops (arange, eye) are checked here too.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The result of f32 kernels is compared with the f64 value of the same formula on the same
// (f32-representable) inputs: a few ulp of float rounding, so kRtolF32 (about 4 ulp). f64
// kernels call the same libm functions as the reference, and differ at most by the rounding of
// an algebraically equal formula (softplus, sigmoid): kRtolF64.
double rtol_for(DType t) { return t == DType::f32 ? test::kRtolF32 : test::kRtolF64; }
double atol_for(DType t) { return t == DType::f32 ? test::kAtolF32 : test::kAtolF64; }

Tensor values(const std::vector<double>& v, DType dtype = DType::f64) {
    return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}).to(dtype);
}

// Naive NumPy broadcasting of two operands, evaluated in f64 on the host.
Tensor broadcast_reference(const Tensor& a, const Tensor& b,
                           const std::function<double(double, double)>& f) {
    const Shape out_shape = broadcast_shapes("test", a.shape(), b.shape());
    const int rank = static_cast<int>(out_shape.size());
    const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
    // Row-major index into an operand of `shape` (right-aligned, size-1 dims broadcast).
    auto flat = [&](const Shape& shape, const std::vector<std::int64_t>& idx) {
        std::int64_t off = 0;
        const int lead = rank - static_cast<int>(shape.size());
        for (int d = 0; d < static_cast<int>(shape.size()); ++d)
            off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d + lead]);
        return static_cast<std::size_t>(off);
    };
    std::vector<double> out(static_cast<std::size_t>(numel(out_shape)));
    std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::int64_t rem = static_cast<std::int64_t>(i);
        for (int d = rank - 1; d >= 0; --d) {
            idx[d] = rem % out_shape[d];
            rem /= out_shape[d];
        }
        out[i] = f(va[flat(a.shape(), idx)], vb[flat(b.shape(), idx)]);
    }
    return Tensor::from_vector(out, out_shape);
}

Tensor map_reference(const Tensor& x, const std::function<double(double)>& f) {
    std::vector<double> v = x.to_vector<double>();
    for (double& e : v) e = f(e);
    return Tensor::from_vector(v, x.shape());
}

struct UnaryCase {
    const char* name;
    Tensor (*op)(const Tensor&);
    double (*reference)(double);
    double low, high;  // sampling domain
};

const std::vector<UnaryCase>& unary_cases() {
    static const std::vector<UnaryCase> cases = {
        {"neg", neg, [](double x) { return -x; }, -3, 3},
        {"abs", abs, [](double x) { return std::fabs(x); }, -3, 3},
        {"square", square, [](double x) { return x * x; }, -3, 3},
        {"exp", exp, [](double x) { return std::exp(x); }, -5, 5},
        {"log", log, [](double x) { return std::log(x); }, 0.01, 10},
        {"log1p", log1p, [](double x) { return std::log1p(x); }, -0.9, 5},
        {"expm1", expm1, [](double x) { return std::expm1(x); }, -3, 3},
        {"sqrt", sqrt, [](double x) { return std::sqrt(x); }, 0, 10},
        {"rsqrt", rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.01, 10},
        {"reciprocal", reciprocal, [](double x) { return 1 / x; }, 0.1, 5},
        {"tanh", tanh, [](double x) { return std::tanh(x); }, -4, 4},
        {"sigmoid", sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -30, 30},
        {"relu", relu, [](double x) { return x > 0 ? x : 0.0; }, -3, 3},
        // log1p(e^x) is accurate in f64 wherever e^x does not overflow.
        {"softplus", softplus, [](double x) { return std::log1p(std::exp(x)); }, -30, 30},
    };
    return cases;
}

TEST(Unary, MatchesF64ReferenceInF32AndF64) {
    std::uint64_t seed = 1;
    for (const UnaryCase& c : unary_cases()) {
        for (DType dtype : {DType::f32, DType::f64}) {
            SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype) + " seed " +
                         std::to_string(seed));
            Tensor x = test::random_tensor({3, 5, 7}, dtype, seed++, c.low, c.high);
            Tensor expected = map_reference(x, c.reference);
            EXPECT_TRUE(test::all_close(c.op(x), expected, rtol_for(dtype), atol_for(dtype)));
            Tensor out = c.op(test::strided_copy(x));
            EXPECT_TRUE(out.is_contiguous());
            EXPECT_EQ(out.dtype(), dtype);
            EXPECT_TRUE(test::all_close(out, expected, rtol_for(dtype), atol_for(dtype)));
            EXPECT_TRUE(test::all_close(c.op(test::transposed_copy(x)), expected, rtol_for(dtype),
                                        atol_for(dtype)));
        }
    }
}

TEST(Unary, HandlesEmptyAndRankZero) {
    for (const UnaryCase& c : unary_cases()) {
        SCOPED_TRACE(c.name);
        Tensor empty = c.op(Tensor::zeros({0, 4}, DType::f64));
        EXPECT_EQ(empty.shape(), (Shape{0, 4}));
        Tensor scalar = c.op(Tensor::scalar(0.5, DType::f64));
        EXPECT_EQ(scalar.dim(), 0);
        EXPECT_DOUBLE_EQ(scalar.item(), c.reference(0.5));
    }
}

TEST(Unary, NanPropagatesThroughEveryFormula) {
    for (const UnaryCase& c : unary_cases()) {
        for (DType dtype : {DType::f32, DType::f64}) {
            SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype));
            EXPECT_TRUE(std::isnan(c.op(values({kNaN}, dtype)).item()));
        }
    }
}

TEST(Unary, IntegerOpsAreExactOnI64) {
    const std::int64_t big = (std::int64_t{1} << 40) + 3;  // beyond f32, exercises a true i64 path
    Tensor x = Tensor::from_vector(std::vector<std::int64_t>{-big, -2, 0, 7}, {4});
    EXPECT_EQ(neg(x).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, 2, 0, -7}));
    EXPECT_EQ(abs(x).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, 2, 0, 7}));
    Tensor s = square(Tensor::from_vector(std::vector<std::int64_t>{-3037000499, 5}, {2}));
    EXPECT_EQ(s.dtype(), DType::i64);
    EXPECT_EQ(s.to_vector<std::int64_t>(), (std::vector<std::int64_t>{9223372030926249001, 25}));
}

TEST(Unary, FloatingOpsRejectI64NamingTheOp) {
    Tensor x = Tensor::zeros({2, 3}, DType::i64);
    for (const UnaryCase& c : unary_cases()) {
        if (std::string(c.name) == "neg" || std::string(c.name) == "abs" ||
            std::string(c.name) == "square")
            continue;
        EXPECT_TRUE(test::throws_error([&] { c.op(x); }, {c.name, "f32 or f64", "i64", "[2, 3]"}));
    }
    EXPECT_TRUE(test::throws_error([] { exp(Tensor()); }, {"exp", "undefined"}));
}

TEST(Softplus, EdgeValues) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        std::vector<double> y =
            softplus(values({kInf, -kInf, 100.0, 0.0}, dtype)).to_vector<double>();
        EXPECT_EQ(y[0], kInf);
        EXPECT_EQ(y[1], 0.0);
        EXPECT_EQ(y[2], 100.0);  // exactly: log1p(e^−100) is below half an ulp of 100
        EXPECT_NEAR(y[3], std::log(2.0), 1e-7);
    }
    // In f64 e^−100 ≈ 3.7e−44 is representable, so the small side must not flush to zero.
    double tiny = softplus(values({-100.0})).item();
    EXPECT_GT(tiny, 0.0);
    EXPECT_NEAR(tiny, std::exp(-100.0), 1e-13 * std::exp(-100.0));
}

TEST(Sigmoid, SaturatesWithoutNan) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        std::vector<double> y =
            sigmoid(values({-1000.0, 1000.0, -kInf, kInf}, dtype)).to_vector<double>();
        EXPECT_EQ(y, (std::vector<double>{0.0, 1.0, 0.0, 1.0}));
    }
}

TEST(Log, EdgeValues) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        EXPECT_EQ(log(values({0.0}, dtype)).item(), -kInf);
        EXPECT_TRUE(std::isnan(log(values({-1.0}, dtype)).item()));
        EXPECT_EQ(log1p(values({-1.0}, dtype)).item(), -kInf);
        EXPECT_TRUE(std::isnan(sqrt(values({-1.0}, dtype)).item()));
        EXPECT_EQ(rsqrt(values({0.0}, dtype)).item(), kInf);
        EXPECT_EQ(reciprocal(values({-0.0}, dtype)).item(), -kInf);
        EXPECT_EQ(exp(values({-kInf}, dtype)).item(), 0.0);
    }
}

TEST(Relu, ZeroAtTheKink) {
    EXPECT_EQ(relu(values({-2.0, -0.0, 0.0, 3.0})).to_vector<double>(),
              (std::vector<double>{0.0, 0.0, 0.0, 3.0}));
}

TEST(Relu, BackwardPassesTheCotangentWhereTheOutputIsPositive) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        // Outputs of relu: 0 at and left of the kink, so the cotangent is dropped there.
        const Tensor out = relu(values({-2.0, -0.0, 0.0, 3.0, 1e-30}, dtype));
        const Tensor g = values({1.5, -2.0, 4.0, -0.5, 7.0}, dtype);
        EXPECT_EQ(relu_backward(g, out).to_vector<double>(),
                  (std::vector<double>{0.0, 0.0, 0.0, -0.5, 7.0}));
        // A batch of cotangents [K, ...] against one output, and strided layouts.
        const Tensor gk =
            Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 5})
                .to(dtype);
        EXPECT_EQ(relu_backward(gk, out).to_vector<double>(),
                  (std::vector<double>{0, 0, 0, 4, 5, 0, 0, 0, 9, 10}));
        EXPECT_EQ(
            relu_backward(test::strided_copy(gk), test::strided_copy(out)).to_vector<double>(),
            (std::vector<double>{0, 0, 0, 4, 5, 0, 0, 0, 9, 10}));
    }
    EXPECT_TRUE(test::throws_error(
        [] { relu_backward(values({1.0}, DType::f32), values({1.0}, DType::f64)); },
        {"relu_backward", "dtype"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            relu_backward(values({1.0, 2.0}), values({1.0, 2.0, 3.0}));
        },
        {"relu_backward"}));
}

struct BinaryCase {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
    double (*reference)(double, double);
};

const std::vector<BinaryCase>& binary_cases() {
    static const std::vector<BinaryCase> cases = {
        {"add", add, [](double a, double b) { return a + b; }},
        {"sub", sub, [](double a, double b) { return a - b; }},
        {"mul", mul, [](double a, double b) { return a * b; }},
        {"div", div, [](double a, double b) { return a / b; }},
        {"pow", pow, [](double a, double b) { return std::pow(a, b); }},
        {"maximum", maximum, [](double a, double b) { return a > b ? a : b; }},
        {"minimum", minimum, [](double a, double b) { return a < b ? a : b; }},
    };
    return cases;
}

// Operands in [0.5, 2): positive for pow, away from zero for div.
TEST(Binary, MatchesF64ReferenceWithBroadcastAndStrides) {
    std::uint64_t seed = 100;
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{4, 6}, {4, 6}}, {{3, 1, 4}, {5, 4}}, {{}, {2, 3}}, {{2, 1}, {}}, {{1}, {3, 2, 5}}};
    for (const BinaryCase& c : binary_cases()) {
        for (DType dtype : {DType::f32, DType::f64}) {
            for (const auto& [sa, sb] : shapes) {
                SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype) + " " + to_string(sa) +
                             " with " + to_string(sb) + " seed " + std::to_string(seed));
                Tensor a = test::random_tensor(sa, dtype, seed++, 0.5, 2.0);
                Tensor b = test::random_tensor(sb, dtype, seed++, 0.5, 2.0);
                Tensor expected = broadcast_reference(a, b, c.reference);
                EXPECT_TRUE(
                    test::all_close(c.op(a, b), expected, rtol_for(dtype), atol_for(dtype)));
                EXPECT_TRUE(test::all_close(c.op(test::strided_copy(a), test::strided_copy(b)),
                                            expected, rtol_for(dtype), atol_for(dtype)));
            }
            Tensor a = test::random_tensor({5, 3}, dtype, seed++, 0.5, 2.0);
            Tensor b = test::random_tensor({5, 3}, dtype, seed++, 0.5, 2.0);
            EXPECT_TRUE(test::all_close(c.op(test::transposed_copy(a), b),
                                        broadcast_reference(a, b, c.reference), rtol_for(dtype),
                                        atol_for(dtype)));
            // A broadcast view (stride 0) as an operand.
            Tensor row = test::random_tensor({3}, dtype, seed++, 0.5, 2.0);
            EXPECT_TRUE(test::all_close(c.op(a, row.expand({5, 3})),
                                        broadcast_reference(a, row, c.reference), rtol_for(dtype),
                                        atol_for(dtype)));
        }
    }
}

TEST(Binary, HandlesEmptyOperands) {
    Tensor a = Tensor::zeros({0, 3}, DType::f32);
    EXPECT_EQ(add(a, a).shape(), (Shape{0, 3}));
    EXPECT_EQ(mul(a, Tensor::ones({3})).shape(), (Shape{0, 3}));
    EXPECT_EQ(sub(Tensor::ones({2, 1, 3}), Tensor::ones({0, 1})).shape(), (Shape{2, 0, 3}));
}

TEST(Binary, IntegerArithmeticIsExact) {
    const std::int64_t big = (std::int64_t{1} << 60) + 1;  // not representable in f64
    Tensor a = Tensor::from_vector(std::vector<std::int64_t>{big, -7, 3}, {3});
    Tensor b = Tensor::from_vector(std::vector<std::int64_t>{1, 2, -5}, {3});
    EXPECT_EQ(add(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big + 1, -5, -2}));
    EXPECT_EQ(sub(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big - 1, -9, 8}));
    EXPECT_EQ(mul(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, -14, -15}));
    EXPECT_EQ(maximum(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{big, 2, 3}));
    EXPECT_EQ(minimum(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -7, -5}));
    EXPECT_EQ(add(a, b).dtype(), DType::i64);
}

TEST(Binary, MaximumAndMinimumPropagateNan) {
    Tensor a = values({kNaN, 1.0, kNaN});
    Tensor b = values({1.0, kNaN, kNaN});
    for (const Tensor& r : {maximum(a, b), minimum(a, b)}) {
        for (double v : r.to_vector<double>()) EXPECT_TRUE(std::isnan(v));
    }
    EXPECT_EQ(maximum(values({-0.5, kInf}), values({-kInf, 2.0})).to_vector<double>(),
              (std::vector<double>{-0.5, kInf}));
}

TEST(Binary, RejectsMismatchedDtypesNamingBoth) {
    Tensor a = Tensor::zeros({2, 3}, DType::f32), b = Tensor::zeros({2, 3}, DType::f64);
    for (const BinaryCase& c : binary_cases())
        EXPECT_TRUE(test::throws_error([&] { c.op(a, b); }, {c.name, "f32", "f64", "[2, 3]"}));
}

TEST(Binary, RejectsIncompatibleShapesNamingBoth) {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
    for (const BinaryCase& c : binary_cases())
        EXPECT_TRUE(test::throws_error([&] { c.op(a, b); }, {c.name, "[2, 3]", "[4]"}));
}

TEST(Binary, DivAndPowRejectI64) {
    Tensor a = Tensor::ones({2}, DType::i64);
    EXPECT_TRUE(test::throws_error([&] { div(a, a); }, {"div", "f32 or f64", "i64"}));
    EXPECT_TRUE(test::throws_error([&] { pow(a, a); }, {"pow", "f32 or f64", "i64"}));
    EXPECT_TRUE(test::throws_error([&] { pow(a, 2.0); }, {"pow", "f32 or f64", "i64"}));
}

TEST(ScalarOperand, MatchesReference) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor x = test::strided_copy(test::random_tensor({4, 5}, dtype, 7, 0.1, 3.0));
        auto check = [&](const Tensor& got, double (*f)(double)) {
            EXPECT_TRUE(
                test::all_close(got, map_reference(x, f), rtol_for(dtype), atol_for(dtype)));
        };
        check(add(x, 2.5), [](double v) { return v + 2.5; });
        check(mul(x, -3.0), [](double v) { return v * -3.0; });
        check(pow(x, 2.0), [](double v) { return v * v; });
        check(pow(x, 0.5), [](double v) { return std::sqrt(v); });
        check(pow(x, -1.5), [](double v) { return std::pow(v, -1.5); });
    }
    Tensor i = Tensor::from_vector(std::vector<std::int64_t>{-4, 9}, {2});
    EXPECT_EQ(add(i, 3.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-1, 12}));
    EXPECT_EQ(mul(i, -2.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{8, -18}));
    EXPECT_TRUE(test::throws_error([&] { add(i, 0.5); }, {"add", "not an integer", "0.5"}));
    EXPECT_TRUE(test::throws_error([&] { mul(i, 1e19); }, {"mul", "i64 range", "1e+19"}));
    EXPECT_EQ(add(Tensor::scalar(1.0), 1.0).dim(), 0);
}

TEST(Clamp, ClipsAndPassesNan) {
    for (DType dtype : {DType::f32, DType::f64}) {
        std::vector<double> y =
            clamp(values({-5.0, -1.0, 0.25, 1.0, 7.0, kInf, -kInf, kNaN}, dtype), -1.0, 1.0)
                .to_vector<double>();
        EXPECT_EQ(std::vector<double>(y.begin(), y.end() - 1),
                  (std::vector<double>{-1.0, -1.0, 0.25, 1.0, 1.0, 1.0, -1.0}));
        EXPECT_TRUE(std::isnan(y.back()));
    }
    Tensor x = test::random_tensor({3, 4}, DType::f64, 5, -3, 3);
    EXPECT_TRUE(test::all_close(clamp(test::transposed_copy(x), -0.5, 2.0),
                                map_reference(x, [](double v) { return std::clamp(v, -0.5, 2.0); }),
                                0, 0));
    EXPECT_TRUE(test::throws_error([&] { clamp(x, 1.0, -1.0); }, {"clamp", "low", "1", "-1"}));
    EXPECT_TRUE(test::throws_error([] { clamp(Tensor::zeros({2}, DType::i64), 0, 1); },
                                   {"clamp", "f32 or f64"}));
}

struct CompareCase {
    const char* name;
    Tensor (*op)(const Tensor&, const Tensor&);
    bool (*reference)(double, double);
};

TEST(Compare, AllSixMatchReferenceInEveryDtype) {
    const std::vector<CompareCase> cases = {
        {"eq", eq, [](double a, double b) { return a == b; }},
        {"ne", ne, [](double a, double b) { return a != b; }},
        {"lt", lt, [](double a, double b) { return a < b; }},
        {"le", le, [](double a, double b) { return a <= b; }},
        {"gt", gt, [](double a, double b) { return a > b; }},
        {"ge", ge, [](double a, double b) { return a >= b; }},
    };
    std::uint64_t seed = 300;
    for (const CompareCase& c : cases) {
        for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
            SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype));
            // Small integers make ties frequent, so == and <= are exercised.
            Tensor a = test::random_ints({3, 1, 4}, -2, 3, seed++).to(dtype);
            Tensor b = test::random_ints({5, 4}, -2, 3, seed++).to(dtype);
            Tensor got = c.op(test::strided_copy(a), b);
            EXPECT_EQ(got.dtype(), dtype);
            EXPECT_TRUE(test::all_close(
                got,
                broadcast_reference(
                    a, b, [&](double x, double y) { return c.reference(x, y) ? 1.0 : 0.0; }),
                0, 0));
        }
    }
    // NaN is unordered: only ne holds.
    Tensor n = values({kNaN});
    EXPECT_EQ(eq(n, n).item(), 0.0);
    EXPECT_EQ(ne(n, n).item(), 1.0);
    EXPECT_EQ(le(n, n).item(), 0.0);
    EXPECT_TRUE(test::throws_error([] { lt(Tensor::zeros({2}), Tensor::zeros({2}, DType::i64)); },
                                   {"lt", "f32", "i64"}));
}

TEST(Where, BroadcastsAllThreeWithConditionOfAnyDtype) {
    Tensor a = test::random_tensor({1, 4}, DType::f32, 11);
    Tensor b = test::random_tensor({3, 4}, DType::f32, 12);
    for (DType cond_dtype : {DType::f32, DType::f64, DType::i64}) {
        SCOPED_TRACE(dtype_name(cond_dtype));
        Tensor cond = values({1.0, 0.0, -2.0}, cond_dtype).reshape({3, 1});
        Tensor got = where(cond, a, test::strided_copy(b));
        EXPECT_EQ(got.shape(), (Shape{3, 4}));
        EXPECT_EQ(got.dtype(), DType::f32);
        std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), expected(12);
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 4; ++j) expected[i * 4 + j] = i == 1 ? vb[i * 4 + j] : va[j];
        EXPECT_EQ(got.to_vector<double>(), expected);
    }
    EXPECT_TRUE(test::throws_error(
        [&] {
            where(Tensor::ones({3, 1}), a, b.to(DType::f64));
        },
        {"where", "f32", "f64"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            where(Tensor::ones({2, 1}), a, b);
        },
        {"where", "[2, 1]", "[1, 4]", "[3, 4]"}));
}

TEST(Axpy, UpdatesInPlaceThroughViewsWithBroadcast) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Tensor base = test::random_tensor({4, 3}, dtype, 21);
        const std::vector<double> y0 = base.to_vector<double>();
        Tensor y = base.t();  // [3, 4] view, non-contiguous; updates must land in base
        Tensor x = test::random_tensor({4}, dtype, 22);
        const std::vector<double> vx = x.to_vector<double>();
        axpy_(y, 0.5, x);
        std::vector<double> expected(12);
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 3; ++c) expected[r * 3 + c] = y0[r * 3 + c] + 0.5 * vx[r];
        EXPECT_TRUE(test::all_close(base, Tensor::from_vector(expected, {4, 3}), rtol_for(dtype),
                                    atol_for(dtype)));
    }
}

TEST(Axpby, AddcmulAddcdivScaleMatchReference) {
    for (DType dtype : {DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(dtype));
        const double rtol = rtol_for(dtype), atol = atol_for(dtype);
        Tensor y0 = test::random_tensor({2, 3, 4}, dtype, 31);
        Tensor a = test::random_tensor({3, 4}, dtype, 32, 0.5, 2.0);
        Tensor b = test::random_tensor({2, 1, 4}, dtype, 33, 0.5, 2.0);
        Tensor ab_mul = broadcast_reference(a, b, [](double p, double q) { return p * q; });
        Tensor ab_div = broadcast_reference(a, b, [](double p, double q) { return p / q; });
        const std::vector<double> vy = y0.to_vector<double>();
        auto combine = [&](const Tensor& t, const std::function<double(double, double)>& f) {
            std::vector<double> vt = t.to_vector<double>(), out(vy.size());
            for (std::size_t i = 0; i < vy.size(); ++i) out[i] = f(vy[i], vt[i]);
            return Tensor::from_vector(out, y0.shape());
        };
        Tensor a_full = a.expand(y0.shape());

        Tensor y = y0.clone();
        axpby_(y, 2.0, a, -0.5);
        EXPECT_TRUE(test::all_close(
            y, combine(a_full, [](double v, double p) { return 2.0 * p - 0.5 * v; }), rtol, atol));
        y = y0.clone();
        addcmul_(y, -1.5, a, b);
        EXPECT_TRUE(test::all_close(
            y, combine(ab_mul, [](double v, double p) { return v - 1.5 * p; }), rtol, atol));
        y = y0.clone();
        addcdiv_(y, 0.25, a, test::strided_copy(b));
        EXPECT_TRUE(test::all_close(
            y, combine(ab_div, [](double v, double p) { return v + 0.25 * p; }), rtol, atol));
        y = test::strided_copy(y0);
        scale_(y, -3.0);
        EXPECT_TRUE(
            test::all_close(y, combine(y0, [](double v, double) { return -3.0 * v; }), rtol, atol));
    }
    // 0-element and rank-0 targets.
    Tensor e = Tensor::zeros({0, 2});
    axpy_(e, 1.0, Tensor::ones({2}));
    Tensor s = Tensor::scalar(1.0, DType::f64);
    addcmul_(s, 2.0, Tensor::scalar(3.0, DType::f64), Tensor::scalar(4.0, DType::f64));
    EXPECT_EQ(s.item(), 25.0);
}

TEST(Axpy, RejectsBadOperands) {
    Tensor y = Tensor::zeros({2, 3});
    EXPECT_TRUE(test::throws_error(
        [&] {
            axpy_(y, 1.0, Tensor::zeros({3, 3}));
        },
        {"axpy_", "[3, 3]", "[2, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            axpy_(y, 1.0, Tensor::zeros({2, 1, 3}));
        },
        {"axpy_", "[2, 1, 3]", "[2, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            axpby_(y, 1.0, Tensor::zeros({2, 3}, DType::f64), 1.0);
        },
        {"axpby_", "f32", "f64"}));
    Tensor yi = Tensor::zeros({2}, DType::i64);
    EXPECT_TRUE(test::throws_error([&] { scale_(yi, 2.0); }, {"scale_", "f32 or f64", "i64"}));
    Tensor expanded = Tensor::zeros({1, 3}).expand({4, 3});
    EXPECT_TRUE(test::throws_error([&] { addcmul_(expanded, 1.0, y, y); },
                                   {"addcmul_", "share memory", "[4, 3]"}));
    EXPECT_TRUE(test::throws_error([&] { addcdiv_(y, 1.0, y, Tensor::zeros({5})); },
                                   {"addcdiv_", "[5]", "[2, 3]"}));
}

TEST(Arange, CountsLikeHalfOpenRanges) {
    Tensor i = arange(0, 5);
    EXPECT_EQ(i.dtype(), DType::i64);
    EXPECT_EQ(i.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(arange(1, 2, 0.25, DType::f64).to_vector<double>(),
              (std::vector<double>{1, 1.25, 1.5, 1.75}));
    EXPECT_EQ(arange(5, 0, -2, DType::f32).to_vector<double>(), (std::vector<double>{5, 3, 1}));
    EXPECT_EQ(arange(0, 1, 0.3, DType::f64).numel(), 4);
    EXPECT_EQ(arange(3, 3).numel(), 0);
    Tensor big = arange(0, 100000, 1, DType::f32);
    EXPECT_EQ(big.to_vector<float>()[99999], 99999.0f);
    EXPECT_TRUE(test::throws_error([] { arange(0, 5, 0); }, {"arange", "step is zero"}));
    EXPECT_TRUE(test::throws_error([] { arange(5, 0, 1); }, {"arange", "wrong sign", "5"}));
    EXPECT_TRUE(test::throws_error([] { arange(0, kInf); }, {"arange", "finite"}));
}

TEST(Eye, IsTheIdentityInEveryDtype) {
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        Tensor e = eye(3, dtype);
        EXPECT_EQ(e.dtype(), dtype);
        EXPECT_EQ(e.to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
    }
    EXPECT_EQ(eye(0).shape(), (Shape{0, 0}));
    EXPECT_TRUE(test::throws_error([] { eye(-1); }, {"eye", "-1"}));
}

}  // namespace
}  // namespace postr
