// Public creation, random and elementwise ops (kernels/ops.h): argument checks, allocation of
// the output, and dispatch to the cpu:: or cuda:: entry points of kernels/elementwise.h and
// kernels/random.h.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/kernels/dispatch.h"
#include "postr/kernels/elementwise.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/random.h"

namespace postr {
namespace {

// Binary operands: defined, one device, one dtype (no implicit promotion).
void check_operands(const char* op, const Tensor& a, const Tensor& b) {
    check_defined(op, "a", a);
    check_defined(op, "b", b);
    check_same_device(op, "a", a, "b", b);
    check_same_dtype(op, "a", a, "b", b);
}

// i64 tensors take only integral scalars within range; anything else would be silently
// truncated (or, beyond 2^63, undefined to convert).
void check_scalar_fits(const char* op, const Tensor& x, double s) {
    POSTR_CHECK(is_floating(x.dtype()) || (std::trunc(s) == s && std::fabs(s) < 0x1p63), op,
                ": scalar is not an integer in i64 range for an i64 tensor: ", s,
                ". Convert x with .to(DType::f64) first");
}

// The target of an in-place update: floating, and no two of its elements share memory (an
// expanded view would be written by several threads at once).
void check_inplace_target(const char* op, const Tensor& y) {
    check_defined(op, "y", y);
    check_floating(op, "y", y);
    bool overlapping = false;
    for (int d = 0; d < y.dim(); ++d)
        overlapping = overlapping || (y.stride(d) == 0 && y.size(d) > 1);
    POSTR_CHECK(!overlapping, op, ": y has elements that share memory (a broadcast view): shape ",
                to_string(y.shape()), ", strides ", to_string(y.strides()),
                ". Update a tensor that owns its elements, e.g. y.clone()");
}

// An operand of an in-place update: y's dtype and device, and broadcastable to y's shape.
void check_broadcasts_to(const char* op, const char* name, const Tensor& t, const Tensor& y) {
    check_defined(op, name, t);
    check_same_device(op, "y", y, name, t);
    check_same_dtype(op, "y", y, name, t);
    POSTR_CHECK(broadcast_shapes(op, t.shape(), y.shape()) == y.shape(), op, ": ", name,
                " does not broadcast to y's shape: ", name, " is ", to_string(t.shape()), ", y is ",
                to_string(y.shape()),
                ". Pass a tensor of y's shape or one that "
                "broadcasts to it");
}

Tensor unary_op(const char* op, UnaryOp kind, const Tensor& x) {
    check_defined(op, "x", x);
    if (!detail::ew::visit_unary(kind, []<class F>(F) { return F::integer; }))
        check_floating(op, "x", x);
    Tensor out = empty_like(x);
    detail::dispatch(
        op, x, [&] { cpu::unary(kind, x, out); }, [&] { cuda::unary(kind, x, out); });
    return out;
}

Tensor binary_op(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
    check_operands(op, a, b);
    if (!detail::ew::visit_binary(kind, []<class F>(F) { return F::integer; }))
        check_floating(op, "a", a);
    Tensor out = Tensor::empty(broadcast_shapes(op, a.shape(), b.shape()), a.dtype(), a.device());
    detail::dispatch(
        op, out, [&] { cpu::binary(kind, a, b, out); }, [&] { cuda::binary(kind, a, b, out); });
    return out;
}

Tensor binary_scalar_op(const char* op, BinaryOp kind, const Tensor& x, double s) {
    check_defined(op, "x", x);
    check_scalar_fits(op, x, s);
    Tensor out = empty_like(x);
    detail::dispatch(
        op, x, [&] { cpu::binary_scalar(kind, x, s, out); },
        [&] { cuda::binary_scalar(kind, x, s, out); });
    return out;
}

Tensor compare_op(const char* op, CompareOp kind, const Tensor& a, const Tensor& b) {
    check_operands(op, a, b);
    Tensor out = Tensor::empty(broadcast_shapes(op, a.shape(), b.shape()), a.dtype(), a.device());
    detail::dispatch(
        op, out, [&] { cpu::compare(kind, a, b, out); }, [&] { cuda::compare(kind, a, b, out); });
    return out;
}

void axpby_op(const char* op, const Tensor& y, double alpha, const Tensor& x, double beta) {
    check_inplace_target(op, y);
    check_broadcasts_to(op, "x", x, y);
    detail::dispatch(
        op, y, [&] { cpu::axpby(y, alpha, x, beta); }, [&] { cuda::axpby(y, alpha, x, beta); });
}

}  // namespace

// ============================== creation and random ==============================

Tensor arange(double start, double end, double step, DType dtype, Device device) {
    POSTR_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
                "arange: bounds and step must be finite: start ", start, ", end ", end, ", step ",
                step, ". Pass finite values");
    POSTR_CHECK(step != 0, "arange: step is zero: start ", start, ", end ", end,
                ". Pass a nonzero step");
    POSTR_CHECK((end - start) * step >= 0, "arange: step has the wrong sign for the range: start ",
                start, ", end ", end, ", step ", step, ". Use a negative step to count down");
    const double count = std::ceil((end - start) / step);
    POSTR_CHECK(count < 9.0e15, "arange: too many elements: ", count, " from start ", start,
                ", end ", end, ", step ", step, ". Use a larger step");
    Tensor out = Tensor::empty({static_cast<std::int64_t>(count)}, dtype, device);
    detail::dispatch(
        "arange", out, [&] { cpu::arange(out, start, step); },
        [&] { cuda::arange(out, start, step); });
    return out;
}

Tensor eye(std::int64_t n, DType dtype, Device device) {
    POSTR_CHECK(n >= 0, "eye: n is negative: ", n, ". Pass n >= 0");
    Tensor out = Tensor::empty({n, n}, dtype, device);
    detail::dispatch(
        "eye", out, [&] { cpu::eye(out); }, [&] { cuda::eye(out); });
    return out;
}

Tensor uniform(const Shape& shape, Generator& gen, double low, double high, DType dtype,
               Device device) {
    POSTR_CHECK(is_floating(dtype), "uniform: dtype must be f32 or f64: got ", dtype_name(dtype),
                ". Use randint for integers");
    POSTR_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
                "uniform: bounds must be finite with low <= high: low ", low, ", high ", high,
                ". Pass a finite interval");
    Tensor out = Tensor::empty(shape, dtype, device);
    const std::uint64_t first = gen.advance(static_cast<std::uint64_t>(out.numel()));
    detail::dispatch(
        "uniform", out, [&] { cpu::uniform(out, gen.seed(), first, low, high); },
        [&] { cuda::uniform(out, gen.seed(), first, low, high); });
    return out;
}

Tensor normal(const Shape& shape, Generator& gen, double mean, double stddev, DType dtype,
              Device device) {
    POSTR_CHECK(is_floating(dtype), "normal: dtype must be f32 or f64: got ", dtype_name(dtype),
                ". Pass DType::f32 or DType::f64");
    POSTR_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0,
                "normal: mean must be finite and stddev finite and >= 0: mean ", mean, ", stddev ",
                stddev, ". Pass a valid standard deviation");
    Tensor out = Tensor::empty(shape, dtype, device);
    const std::uint64_t first = gen.advance(static_cast<std::uint64_t>(out.numel()));
    detail::dispatch(
        "normal", out, [&] { cpu::normal(out, gen.seed(), first, mean, stddev); },
        [&] { cuda::normal(out, gen.seed(), first, mean, stddev); });
    return out;
}

Tensor bernoulli(const Tensor& p, Generator& gen) {
    check_defined("bernoulli", "p", p);
    check_floating("bernoulli", "p", p);
    // Element i of the draw pairs with p's i-th element in row-major order.
    const Tensor pc = p.contiguous();
    Tensor out = empty_like(p);
    const std::uint64_t first = gen.advance(static_cast<std::uint64_t>(out.numel()));
    detail::dispatch(
        "bernoulli", out, [&] { cpu::bernoulli(pc, out, gen.seed(), first); },
        [&] { cuda::bernoulli(pc, out, gen.seed(), first); });
    return out;
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               Device device) {
    POSTR_CHECK(high > low, "randint: the range [low, high) is empty: low ", low, ", high ", high,
                ". Pass high > low");
    Tensor out = Tensor::empty(shape, DType::i64, device);
    const std::uint64_t first = gen.advance(static_cast<std::uint64_t>(out.numel()));
    detail::dispatch(
        "randint", out, [&] { cpu::randint(out, gen.seed(), first, low, high); },
        [&] { cuda::randint(out, gen.seed(), first, low, high); });
    return out;
}

// ============================== elementwise ==============================

Tensor add(const Tensor& a, const Tensor& b) { return binary_op("add", BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op("sub", BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op("mul", BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op("div", BinaryOp::div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary_op("pow", BinaryOp::pow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) {
    return binary_op("maximum", BinaryOp::maximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
    return binary_op("minimum", BinaryOp::minimum, a, b);
}

Tensor add(const Tensor& x, double s) { return binary_scalar_op("add", BinaryOp::add, x, s); }
Tensor mul(const Tensor& x, double s) { return binary_scalar_op("mul", BinaryOp::mul, x, s); }
Tensor pow(const Tensor& x, double exponent) {
    check_defined("pow", "x", x);
    check_floating("pow", "x", x);
    return binary_scalar_op("pow", BinaryOp::pow, x, exponent);
}

Tensor neg(const Tensor& x) { return unary_op("neg", UnaryOp::neg, x); }
Tensor abs(const Tensor& x) { return unary_op("abs", UnaryOp::abs, x); }
Tensor square(const Tensor& x) { return unary_op("square", UnaryOp::square, x); }
Tensor exp(const Tensor& x) { return unary_op("exp", UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op("log", UnaryOp::log, x); }
Tensor log1p(const Tensor& x) { return unary_op("log1p", UnaryOp::log1p, x); }
Tensor expm1(const Tensor& x) { return unary_op("expm1", UnaryOp::expm1, x); }
Tensor sqrt(const Tensor& x) { return unary_op("sqrt", UnaryOp::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary_op("rsqrt", UnaryOp::rsqrt, x); }
Tensor reciprocal(const Tensor& x) { return unary_op("reciprocal", UnaryOp::reciprocal, x); }
Tensor tanh(const Tensor& x) { return unary_op("tanh", UnaryOp::tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op("sigmoid", UnaryOp::sigmoid, x); }
Tensor relu(const Tensor& x) { return unary_op("relu", UnaryOp::relu, x); }
Tensor softplus(const Tensor& x) { return unary_op("softplus", UnaryOp::softplus, x); }

Tensor relu_backward(const Tensor& grad_out, const Tensor& output) {
    const char* op = "relu_backward";
    check_defined(op, "grad_out", grad_out);
    check_defined(op, "output", output);
    check_same_device(op, "grad_out", grad_out, "output", output);
    check_same_dtype(op, "grad_out", grad_out, "output", output);
    check_floating(op, "grad_out", grad_out);
    Tensor out = Tensor::empty(broadcast_shapes(op, grad_out.shape(), output.shape()),
                               grad_out.dtype(), grad_out.device());
    detail::dispatch(
        op, out, [&] { cpu::relu_backward(grad_out, output, out); },
        [&] { cuda::relu_backward(grad_out, output, out); });
    return out;
}

Tensor clamp(const Tensor& x, double low, double high) {
    check_defined("clamp", "x", x);
    check_floating("clamp", "x", x);
    POSTR_CHECK(!(low > high), "clamp: low exceeds high: low ", low, ", high ", high,
                ". Pass low <= high");
    Tensor out = empty_like(x);
    detail::dispatch(
        "clamp", x, [&] { cpu::clamp(x, low, high, out); },
        [&] { cuda::clamp(x, low, high, out); });
    return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    check_defined("where", "cond", cond);
    check_operands("where", a, b);
    check_same_device("where", "cond", cond, "a", a);
    // Checked by hand so the message names all three shapes.
    const std::size_t rank = std::max({cond.shape().size(), a.shape().size(), b.shape().size()});
    Shape shape(rank, 1);
    bool compatible = true;
    for (const Tensor* t : {&cond, &a, &b}) {
        const std::size_t lead = rank - t->shape().size();
        for (std::size_t d = lead; d < rank; ++d) {
            const std::int64_t n = t->shape()[d - lead];
            if (n == 1) continue;
            compatible = compatible && (shape[d] == 1 || shape[d] == n);
            shape[d] = n;
        }
    }
    POSTR_CHECK(compatible, "where: shapes cannot be broadcast together: cond is ",
                to_string(cond.shape()), ", a is ", to_string(a.shape()), ", b is ",
                to_string(b.shape()), ". Sizes must match or be 1 in every trailing dim");
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    detail::dispatch(
        "where", out, [&] { cpu::where(cond, a, b, out); }, [&] { cuda::where(cond, a, b, out); });
    return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare_op("eq", CompareOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_op("ne", CompareOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_op("lt", CompareOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_op("le", CompareOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_op("gt", CompareOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_op("ge", CompareOp::ge, a, b); }

void axpy_(Tensor& y, double alpha, const Tensor& x) {
    // β = 1 makes α·x + β·y exactly y + α·x.
    axpby_op("axpy_", y, alpha, x, 1.0);
}

void axpby_(Tensor& y, double alpha, const Tensor& x, double beta) {
    axpby_op("axpby_", y, alpha, x, beta);
}

void addcmul_(Tensor& y, double value, const Tensor& a, const Tensor& b) {
    check_inplace_target("addcmul_", y);
    check_broadcasts_to("addcmul_", "a", a, y);
    check_broadcasts_to("addcmul_", "b", b, y);
    detail::dispatch(
        "addcmul_", y, [&] { cpu::addcmul(y, value, a, b); },
        [&] { cuda::addcmul(y, value, a, b); });
}

void addcdiv_(Tensor& y, double value, const Tensor& a, const Tensor& b) {
    check_inplace_target("addcdiv_", y);
    check_broadcasts_to("addcdiv_", "a", a, y);
    check_broadcasts_to("addcdiv_", "b", b, y);
    detail::dispatch(
        "addcdiv_", y, [&] { cpu::addcdiv(y, value, a, b); },
        [&] { cuda::addcdiv(y, value, a, b); });
}

void scale_(Tensor& y, double alpha) {
    check_inplace_target("scale_", y);
    detail::dispatch(
        "scale_", y, [&] { cpu::scale(y, alpha); }, [&] { cuda::scale(y, alpha); });
}

}  // namespace postr
