#include "postr/autodiff/functional.h"

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr {
namespace {

Var leaf(const Tensor& x, const char* op) {
    check_defined(op, "x", x);
    check_floating(op, "x", x);
    return Var(x, true);
}

// Checks that t has `shape` or [K, ...shape]; returns the number of batch dims.
int check_batched(const char* op, const char* name, const Tensor& t, const Shape& shape,
                  const char* of) {
    check_defined(op, name, t);
    int b = t.dim() - static_cast<int>(shape.size());
    bool ok =
        (b == 0 || b == 1) && Shape(t.shape().begin() + std::max(b, 0), t.shape().end()) == shape;
    POSTR_CHECK(ok, op, ": ", name, " has shape ", to_string(t.shape()), " but ", of, " has shape ",
                to_string(shape), ". Pass that shape, or [K, ...that shape]");
    return b;
}

}  // namespace

ValueAndGrad value_and_grad(const VarFn& f, const Tensor& theta) {
    Var x = leaf(theta, "value_and_grad");
    Var y = f(x);
    POSTR_CHECK(y.defined() && y.numel() == 1, "value_and_grad: f must return one element: got ",
                y.defined() ? to_string(y.shape()) : "an undefined Var",
                ". Reduce it (sum, mean) or use vjp");
    if (!y.requires_grad()) return {y.value(), zeros_like(theta)};
    return {y.value(), grad({y}, {x})[0].value()};
}

Tensor grad(const VarFn& f, const Tensor& theta) { return value_and_grad(f, theta).grad; }

std::pair<Tensor, Tensor> vjp(const VarFn& f, const Tensor& x, const Tensor& cotangent) {
    Var xv = leaf(x, "vjp");
    Var y = f(xv);
    int b = check_batched("vjp", "cotangent", cotangent, y.shape(), "f(x)");
    if (!y.requires_grad()) {
        Shape s = x.shape();
        if (b) s.insert(s.begin(), cotangent.size(0));
        return {y.value(), Tensor::zeros(s, x.dtype(), x.device())};
    }
    return {y.value(), grad({y}, {xv}, {cotangent})[0].value()};
}

std::pair<Tensor, Tensor> jvp(const VarFn& f, const Tensor& x, const Tensor& v) {
    check_floating("jvp", "x", x);
    int b = check_batched("jvp", "v", v, x.shape(), "x");
    check_same_device("jvp", "x", x, "v", v);
    check_same_dtype("jvp", "x", x, "v", v);
    Var xv(x);
    xv.set_tangent(v);
    Var y;
    {
        NoGradGuard no_graph;  // forward mode needs no reverse graph
        y = f(xv);
    }
    Var t = y.tangent();
    if (!t.defined()) {
        Shape s = y.shape();
        if (b) s.insert(s.begin(), v.size(0));
        return {y.value(), Tensor::zeros(s, y.dtype(), y.device())};
    }
    return {y.value(), t.value()};
}

Tensor jacobian(const VarFn& f, const Tensor& x) {
    Tensor y = [&] {
        NoGradGuard no_graph;
        return f(Var(x)).value();
    }();
    const std::int64_t m = y.numel();
    Shape cot_shape = y.shape();
    cot_shape.insert(cot_shape.begin(), m);
    Tensor identity = eye(m, y.dtype(), y.device()).reshape(cot_shape);
    Tensor rows = vjp(f, x, identity).second;  // [m, ...x shape]
    Shape out = y.shape();
    out.insert(out.end(), x.shape().begin(), x.shape().end());
    return rows.reshape(out);
}

Tensor hessian_vector_product(const VarFn& f, const Tensor& x, const Tensor& v) {
    check_same_shape("hessian_vector_product", "v", v, "x", x);
    Var xv = leaf(x, "hessian_vector_product");
    Var y = f(xv);
    POSTR_CHECK(y.numel() == 1, "hessian_vector_product: f must return one element: got ",
                to_string(y.shape()), ". Reduce it (sum, mean)");
    if (!y.requires_grad()) return zeros_like(x);
    Var g = grad({y}, {xv}, {}, true, true)[0];
    Var gv = sum(mul(g, Var(v)));
    if (!gv.requires_grad()) return zeros_like(x);  // f is linear in x
    return grad({gv}, {xv})[0].value();
}

Tensor ggn_vector_product(const VarFn& f, const VarFn& loss, const Tensor& x, const Tensor& v) {
    check_same_shape("ggn_vector_product", "v", v, "x", x);
    auto [z, jv] = jvp(f, x, v);
    Tensor hjv = hessian_vector_product(loss, z, jv);
    return vjp(f, x, hjv).second;
}

}  // namespace postr
