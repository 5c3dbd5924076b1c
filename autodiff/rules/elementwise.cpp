// Elementwise ops. Each unary op states one derivative y' = f'(x) (written with differentiable
// ops, from x and/or the output y); the helper derives VJP (ḡ·y') and JVP (ẋ·y') from it.
// Binary ops state their two partial derivatives; cotangents are summed back to each input's
// broadcast shape (sum_to) and tangents lifted to the output's rank.
#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::add_terms;
using rules::batch_of;
using rules::lift;

using Derivative = std::function<Var(const Var& x, const Var& y)>;

Var unary(const char* name, const Var& x, Tensor value, Derivative d, bool uses_output) {
    OpRules r;
    r.saves_output = uses_output;
    r.vjp = [x, d](const Var& g, const Var& y) { return std::vector<Var>{mul(g, d(x, y))}; };
    r.jvp = [x, d](const std::vector<Var>& t, const Var& y) {
        return t[0].defined() ? mul(t[0], d(x, y)) : Var();
    };
    return record_op(name, std::move(value), {x}, std::move(r));
}

// A constant (no history) of the value of `t`.
Var constant(Tensor t) { return Var(std::move(t)); }

// Partial derivatives of out = f(a, b); either may be null for "this input is constant in
// every use" (never called then).
using Partial = std::function<Var(const Var& a, const Var& b, const Var& out)>;

Var binary(const char* name, const Var& a, const Var& b, Tensor value, Partial da, Partial db,
           bool uses_output) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    const Shape a_shape = a.shape(), b_shape = b.shape(), out_shape = value.shape();
    const int rank = value.dim();
    OpRules r;
    r.saves_output = uses_output;
    r.vjp = [=](const Var& g, const Var& out) {
        int k = batch_of(g, rank);
        Var ga = need_a ? sum_to(da ? mul(g, da(a, b, out)) : g, k, a_shape) : Var();
        Var gb = need_b ? sum_to(db ? mul(g, db(a, b, out)) : g, k, b_shape) : Var();
        return std::vector<Var>{ga, gb};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& out) {
        Var ta, tb;
        if (t[0].defined()) {
            int k = batch_of(t[0], a.dim());
            ta = lift(t[0], k, rank);
            if (da) ta = mul(ta, da(a, b, out));
        }
        if (t[1].defined()) {
            int k = batch_of(t[1], b.dim());
            tb = lift(t[1], k, rank);
            if (db) tb = mul(tb, db(a, b, out));
        }
        // A lone tangent of a broadcast input still has that input's extent.
        Var sum_t = add_terms(ta, tb);
        return rules::expand_to(sum_t, batch_of(sum_t, rank), out_shape);
    };
    return record_op(name, std::move(value), {a, b}, std::move(r));
}

}  // namespace

Var add(const Var& a, const Var& b) {
    return binary("add", a, b, add(a.value(), b.value()), nullptr, nullptr, false);
}

Var sub(const Var& a, const Var& b) {
    return binary(
        "sub", a, b, sub(a.value(), b.value()), nullptr,
        [](const Var& x, const Var&, const Var&) { return rules::scalar_like(x, -1.0); }, false);
}

Var mul(const Var& a, const Var& b) {
    return binary(
        "mul", a, b, mul(a.value(), b.value()),
        [](const Var&, const Var& y, const Var&) { return y; },
        [](const Var& x, const Var&, const Var&) { return x; }, false);
}

Var div(const Var& a, const Var& b) {
    // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −out/b.
    return binary(
        "div", a, b, div(a.value(), b.value()),
        [](const Var&, const Var& y, const Var&) { return reciprocal(y); },
        [](const Var&, const Var& y, const Var& out) { return neg(div(out, y)); }, true);
}

Var pow(const Var& a, const Var& b) {
    // ∂aᵇ/∂a = b·a^(b−1), ∂aᵇ/∂b = aᵇ·log a.
    return binary(
        "pow", a, b, pow(a.value(), b.value()),
        [](const Var& x, const Var& y, const Var&) { return mul(y, pow(x, add(y, -1.0))); },
        [](const Var& x, const Var&, const Var& out) { return mul(out, log(x)); }, true);
}

Var maximum(const Var& a, const Var& b) {
    Tensor a_wins = ge(a.value(), b.value());  // ties go to a
    return binary(
        "maximum", a, b, maximum(a.value(), b.value()),
        [a_wins](const Var&, const Var&, const Var&) { return constant(a_wins); },
        [a_wins](const Var&, const Var&, const Var&) { return constant(add(neg(a_wins), 1.0)); },
        false);
}

Var minimum(const Var& a, const Var& b) {
    Tensor a_wins = le(a.value(), b.value());  // ties go to a
    return binary(
        "minimum", a, b, minimum(a.value(), b.value()),
        [a_wins](const Var&, const Var&, const Var&) { return constant(a_wins); },
        [a_wins](const Var&, const Var&, const Var&) { return constant(add(neg(a_wins), 1.0)); },
        false);
}

Var add(const Var& x, double s) {
    OpRules r;
    r.vjp = [](const Var& g, const Var&) { return std::vector<Var>{g}; };
    r.jvp = [](const std::vector<Var>& t, const Var&) { return t[0]; };
    return record_op("add_scalar", add(x.value(), s), {x}, std::move(r));
}

Var mul(const Var& x, double s) {
    OpRules r;
    r.vjp = [s](const Var& g, const Var&) { return std::vector<Var>{mul(g, s)}; };
    r.jvp = [s](const std::vector<Var>& t, const Var&) {
        return t[0].defined() ? mul(t[0], s) : Var();
    };
    return record_op("mul_scalar", mul(x.value(), s), {x}, std::move(r));
}

Var pow(const Var& x, double p) {
    return unary(
        "pow_scalar", x, pow(x.value(), p),
        [p](const Var& v, const Var&) { return p == 0 ? mul(v, 0.0) : mul(pow(v, p - 1), p); },
        false);
}

Var neg(const Var& x) { return mul(x, -1.0); }

Var abs(const Var& x) {
    Tensor sign = sub(gt(x.value(), Tensor::scalar(0, x.dtype(), x.device())),
                      lt(x.value(), Tensor::scalar(0, x.dtype(), x.device())));
    return unary(
        "abs", x, abs(x.value()), [sign](const Var&, const Var&) { return constant(sign); }, false);
}

Var square(const Var& x) {
    return unary(
        "square", x, square(x.value()), [](const Var& v, const Var&) { return mul(v, 2.0); },
        false);
}

Var exp(const Var& x) {
    return unary(
        "exp", x, exp(x.value()), [](const Var&, const Var& y) { return y; }, true);
}

Var log(const Var& x) {
    return unary(
        "log", x, log(x.value()), [](const Var& v, const Var&) { return reciprocal(v); }, false);
}

Var log1p(const Var& x) {
    return unary(
        "log1p", x, log1p(x.value()),
        [](const Var& v, const Var&) { return reciprocal(add(v, 1.0)); }, false);
}

Var expm1(const Var& x) {
    return unary(
        "expm1", x, expm1(x.value()), [](const Var&, const Var& y) { return add(y, 1.0); }, true);
}

Var sqrt(const Var& x) {
    return unary(
        "sqrt", x, sqrt(x.value()),
        [](const Var&, const Var& y) { return mul(reciprocal(y), 0.5); }, true);
}

Var rsqrt(const Var& x) {
    // d x^(−1/2) = −½ x^(−3/2) = −½ y³.
    return unary(
        "rsqrt", x, rsqrt(x.value()),
        [](const Var&, const Var& y) { return mul(pow(y, 3.0), -0.5); }, true);
}

Var reciprocal(const Var& x) {
    return unary(
        "reciprocal", x, reciprocal(x.value()),
        [](const Var&, const Var& y) { return neg(square(y)); }, true);
}

Var tanh(const Var& x) {
    return unary(
        "tanh", x, tanh(x.value()),
        [](const Var&, const Var& y) { return add(neg(square(y)), 1.0); }, true);
}

Var sigmoid(const Var& x) {
    return unary(
        "sigmoid", x, sigmoid(x.value()),
        [](const Var&, const Var& y) { return mul(y, add(neg(y), 1.0)); }, true);
}

Var relu(const Var& x) {
    // y' = 1[x > 0] = 1[y > 0], read from the saved output (no mask is built in the forward).
    // When the product is not itself recorded (no create_graph) and carries no tangent, the
    // fused relu_backward kernel applies it in one pass; otherwise it is a differentiable
    // product with the constant mask. Both give t where y > 0 and 0 elsewhere.
    auto apply = [](const Var& t, const Var& y) {
        if (!grad_enabled() && !(forward_enabled() && t.tangent().defined()))
            return Var(relu_backward(t.value(), y.value()));
        return mul(t, constant(gt(y.value(), Tensor::scalar(0, y.dtype(), y.device()))));
    };
    OpRules r;
    r.saves_output = true;
    r.vjp = [apply](const Var& g, const Var& y) { return std::vector<Var>{apply(g, y)}; };
    r.jvp = [apply](const std::vector<Var>& t, const Var& y) {
        return t[0].defined() ? apply(t[0], y) : Var();
    };
    return record_op("relu", relu(x.value()), {x}, std::move(r));
}

Var softplus(const Var& x) {
    return unary(
        "softplus", x, softplus(x.value()), [](const Var& v, const Var&) { return sigmoid(v); },
        false);
}

Var clamp(const Var& x, double low, double high) {
    Tensor inside = mul(ge(x.value(), Tensor::scalar(low, x.dtype(), x.device())),
                        le(x.value(), Tensor::scalar(high, x.dtype(), x.device())));
    return unary(
        "clamp", x, clamp(x.value(), low, high),
        [inside](const Var&, const Var&) { return constant(inside); }, false);
}

Var where(const Tensor& cond, const Var& a, const Var& b) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    Tensor value = where(cond, a.value(), b.value());
    const Shape a_shape = a.shape(), b_shape = b.shape();
    const int rank = value.dim();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        int k = batch_of(g, rank);
        Var zero = rules::scalar_like(g, 0.0);
        Var ga = need_a ? sum_to(where(cond, g, zero), k, a_shape) : Var();
        Var gb = need_b ? sum_to(where(cond, zero, g), k, b_shape) : Var();
        return std::vector<Var>{ga, gb};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& out) {
        const Var& any = t[0].defined() ? t[0] : t[1];
        int k = batch_of(any, static_cast<int>(t[0].defined() ? a_shape.size() : b_shape.size()));
        Var zero = rules::scalar_like(out, 0.0);
        Var ta = t[0].defined() ? lift(t[0], k, rank) : zero;
        Var tb = t[1].defined() ? lift(t[1], k, rank) : zero;
        return rules::expand_to(where(cond, ta, tb), k, out.shape());
    };
    return record_op("where", std::move(value), {a, b}, std::move(r));
}

}  // namespace postr
