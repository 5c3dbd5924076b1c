// Device entry points of the elementwise family, declared once for the CPU and once for CUDA
// with identical signatures, and the one table mapping each op enumerator to its scalar formula
// in scalar_math.h. Both devices instantiate their loops from that table, so they agree by
// construction. Entry points take validated inputs (same dtype and device) and a preallocated
// output; inputs broadcast to the output's shape and any layout is accepted.
#pragma once

#include <cstdint>
#include <type_traits>

#include "postr/core/host_device.h"
#include "postr/core/tensor.h"
#include "postr/kernels/scalar_math.h"

namespace postr {

// neg, abs and square also take i64; the rest are floating only.
enum class UnaryOp : std::uint8_t {
    neg,
    abs,
    square,
    exp,
    log,
    log1p,
    expm1,
    sqrt,
    rsqrt,
    reciprocal,
    tanh,
    sigmoid,
    relu,
    softplus
};
// add, sub, mul, maximum and minimum also take i64; div and pow are floating only.
enum class BinaryOp : std::uint8_t { add, sub, mul, div, pow, maximum, minimum };
// Comparisons write 1 or 0 in the inputs' dtype (any dtype).
enum class CompareOp : std::uint8_t { eq, ne, lt, le, gt, ge };

}  // namespace postr

namespace postr::cpu {

// out = op(x); x and out of one dtype.
void unary(UnaryOp op, const Tensor& x, const Tensor& out);
// out = op(a, b); a, b broadcast to out; one dtype.
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out = op(x, s) with s cast to x's dtype.
void binary_scalar(BinaryOp op, const Tensor& x, double s, const Tensor& out);
// out = op(a, b) ? 1 : 0 in the dtype of a and b.
void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out = cond ≠ 0 ? a : b; cond of any dtype, a/b/out of one dtype.
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
// out = min(max(x, low), high), NaN passed through; floating.
void clamp(const Tensor& x, double low, double high, const Tensor& out);
// out = output > 0 ? grad_out : 0 (ReLU's backward from its output); both broadcast to out;
// floating.
void relu_backward(const Tensor& grad_out, const Tensor& output, const Tensor& out);
// In place on y (any layout, no two elements aliased); x, a, b broadcast to y; floating.
void axpby(const Tensor& y, double alpha, const Tensor& x, double beta);  // y ← α·x + β·y
void addcmul(const Tensor& y, double value, const Tensor& a, const Tensor& b);  // y ← y + v·a·b
void addcdiv(const Tensor& y, double value, const Tensor& a, const Tensor& b);  // y ← y + v·a/b
void scale(const Tensor& y, double alpha);                                      // y ← α·y

}  // namespace postr::cpu

namespace postr::cuda {

void unary(UnaryOp op, const Tensor& x, const Tensor& out);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void binary_scalar(BinaryOp op, const Tensor& x, double s, const Tensor& out);
void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
void clamp(const Tensor& x, double low, double high, const Tensor& out);
void relu_backward(const Tensor& grad_out, const Tensor& output, const Tensor& out);
void axpby(const Tensor& y, double alpha, const Tensor& x, double beta);
void addcmul(const Tensor& y, double value, const Tensor& a, const Tensor& b);
void addcdiv(const Tensor& y, double value, const Tensor& a, const Tensor& b);
void scale(const Tensor& y, double alpha);

}  // namespace postr::cuda

// ---- The op table, shared by cpu/elementwise.cpp and cuda/elementwise.cu ----
// Each functor names one scalar formula; `integer` says whether it is instantiated for i64.
// visit_* switch once per call and hand the functor to a templated loop, so no switch runs
// inside the element loop.
namespace postr::detail::ew {

template <UnaryOp op>
struct Unary {
    static constexpr bool integer =
        op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::square;
    template <class T>
    POSTR_HD T operator()(T x) const {
        if constexpr (op == UnaryOp::neg)
            return -x;
        else if constexpr (op == UnaryOp::abs && std::is_integral_v<T>)
            return x < T(0) ? -x : x;
        else if constexpr (op == UnaryOp::abs)
            return std::fabs(x);
        else if constexpr (op == UnaryOp::square)
            return x * x;
        else if constexpr (op == UnaryOp::exp)
            return std::exp(x);
        else if constexpr (op == UnaryOp::log)
            return std::log(x);
        else if constexpr (op == UnaryOp::log1p)
            return std::log1p(x);
        else if constexpr (op == UnaryOp::expm1)
            return std::expm1(x);
        else if constexpr (op == UnaryOp::sqrt)
            return std::sqrt(x);
        else if constexpr (op == UnaryOp::rsqrt)
            return math::rsqrt(x);
        else if constexpr (op == UnaryOp::reciprocal)
            return T(1) / x;
        else if constexpr (op == UnaryOp::tanh)
            return std::tanh(x);
        else if constexpr (op == UnaryOp::sigmoid)
            return math::sigmoid(x);
        else if constexpr (op == UnaryOp::relu)
            return math::relu(x);
        else
            return math::softplus(x);
    }
};

template <BinaryOp op>
struct Binary {
    static constexpr bool integer = op != BinaryOp::div && op != BinaryOp::pow;
    template <class T>
    POSTR_HD T operator()(T a, T b) const {
        if constexpr (op == BinaryOp::add)
            return a + b;
        else if constexpr (op == BinaryOp::sub)
            return a - b;
        else if constexpr (op == BinaryOp::mul)
            return a * b;
        else if constexpr (op == BinaryOp::div)
            return a / b;
        else if constexpr (op == BinaryOp::pow)
            return std::pow(a, b);
        else if constexpr (op == BinaryOp::maximum)
            return math::maximum(a, b);
        else
            return math::minimum(a, b);
    }
};

// Writes 1 or 0 in the operands' type, so the result is usable as a mask.
template <CompareOp op>
struct Compare {
    static constexpr bool integer = true;
    template <class T>
    POSTR_HD T operator()(T a, T b) const {
        bool r;
        if constexpr (op == CompareOp::eq)
            r = a == b;
        else if constexpr (op == CompareOp::ne)
            r = a != b;
        else if constexpr (op == CompareOp::lt)
            r = a < b;
        else if constexpr (op == CompareOp::le)
            r = a <= b;
        else if constexpr (op == CompareOp::gt)
            r = a > b;
        else
            r = a >= b;
        return r ? T(1) : T(0);
    }
};

template <class Fn>
decltype(auto) visit_unary(UnaryOp op, Fn&& fn) {
    switch (op) {
        case UnaryOp::neg:
            return fn(Unary<UnaryOp::neg>{});
        case UnaryOp::abs:
            return fn(Unary<UnaryOp::abs>{});
        case UnaryOp::square:
            return fn(Unary<UnaryOp::square>{});
        case UnaryOp::exp:
            return fn(Unary<UnaryOp::exp>{});
        case UnaryOp::log:
            return fn(Unary<UnaryOp::log>{});
        case UnaryOp::log1p:
            return fn(Unary<UnaryOp::log1p>{});
        case UnaryOp::expm1:
            return fn(Unary<UnaryOp::expm1>{});
        case UnaryOp::sqrt:
            return fn(Unary<UnaryOp::sqrt>{});
        case UnaryOp::rsqrt:
            return fn(Unary<UnaryOp::rsqrt>{});
        case UnaryOp::reciprocal:
            return fn(Unary<UnaryOp::reciprocal>{});
        case UnaryOp::tanh:
            return fn(Unary<UnaryOp::tanh>{});
        case UnaryOp::sigmoid:
            return fn(Unary<UnaryOp::sigmoid>{});
        case UnaryOp::relu:
            return fn(Unary<UnaryOp::relu>{});
        case UnaryOp::softplus:
            return fn(Unary<UnaryOp::softplus>{});
    }
    return fn(Unary<UnaryOp::neg>{});  // unreachable: every enumerator is handled above
}

template <class Fn>
decltype(auto) visit_binary(BinaryOp op, Fn&& fn) {
    switch (op) {
        case BinaryOp::add:
            return fn(Binary<BinaryOp::add>{});
        case BinaryOp::sub:
            return fn(Binary<BinaryOp::sub>{});
        case BinaryOp::mul:
            return fn(Binary<BinaryOp::mul>{});
        case BinaryOp::div:
            return fn(Binary<BinaryOp::div>{});
        case BinaryOp::pow:
            return fn(Binary<BinaryOp::pow>{});
        case BinaryOp::maximum:
            return fn(Binary<BinaryOp::maximum>{});
        case BinaryOp::minimum:
            return fn(Binary<BinaryOp::minimum>{});
    }
    return fn(Binary<BinaryOp::add>{});  // unreachable
}

template <class Fn>
decltype(auto) visit_compare(CompareOp op, Fn&& fn) {
    switch (op) {
        case CompareOp::eq:
            return fn(Compare<CompareOp::eq>{});
        case CompareOp::ne:
            return fn(Compare<CompareOp::ne>{});
        case CompareOp::lt:
            return fn(Compare<CompareOp::lt>{});
        case CompareOp::le:
            return fn(Compare<CompareOp::le>{});
        case CompareOp::gt:
            return fn(Compare<CompareOp::gt>{});
        case CompareOp::ge:
            return fn(Compare<CompareOp::ge>{});
    }
    return fn(Compare<CompareOp::eq>{});  // unreachable
}

// True when functor F may run on element type T (transcendental formulas are floating only).
template <class F, class T>
inline constexpr bool supports = std::is_floating_point_v<T> || F::integer;

// Binary functor with its right operand fixed: x ↦ f(x, s).
template <class F, class T>
struct BindRight {
    F f;
    T s;
    POSTR_HD T operator()(T x) const { return f(x, s); }
};

// ReLU's backward: the cotangent where the output is positive (x > 0), else 0 (the subgradient
// 0 at 0 of math::relu).
struct ReluBackward {
    template <class T>
    POSTR_HD T operator()(T grad_out, T output) const {
        return output > T(0) ? grad_out : T(0);
    }
};

template <class T>
struct Clamp {
    T low, high;
    POSTR_HD T operator()(T x) const { return math::clamp(x, low, high); }
};

struct Select {
    template <class C, class T>
    POSTR_HD T operator()(C cond, T a, T b) const {
        return cond != C(0) ? a : b;
    }
};

// The fused in-place updates; the first argument is y's current value.
template <class T>
struct Axpby {
    T alpha, beta;
    POSTR_HD T operator()(T y, T x) const { return alpha * x + beta * y; }
};
template <class T>
struct Addcmul {
    T value;
    POSTR_HD T operator()(T y, T a, T b) const { return y + value * a * b; }
};
template <class T>
struct Addcdiv {
    T value;
    POSTR_HD T operator()(T y, T a, T b) const { return y + value * a / b; }
};
template <class T>
struct Scale {
    T alpha;
    POSTR_HD T operator()(T y) const { return alpha * y; }
};

}  // namespace postr::detail::ew
