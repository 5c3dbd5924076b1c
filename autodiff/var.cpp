#include "postr/autodiff/var.h"

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr {

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<detail::VarImpl>()) {
    check_defined("Var", "value", value);
    impl_->value = std::move(value);
    if (requires_grad) set_requires_grad(true);
}

const Tensor& Var::value() const {
    POSTR_CHECK(impl_, "Var: this Var is undefined. Construct it from a tensor first");
    return impl_->value;
}

bool Var::requires_grad() const { return impl_ && (impl_->requires_grad || impl_->grad_fn); }
bool Var::is_leaf() const { return impl_ && !impl_->grad_fn; }

Var& Var::set_requires_grad(bool enable) {
    POSTR_CHECK(is_leaf(),
                "set_requires_grad: only leaves can be marked; this Var was computed by ",
                impl_ && impl_->grad_fn ? impl_->grad_fn->name() : "nothing",
                ". Use detach() to make a leaf");
    POSTR_CHECK(!enable || is_floating(impl_->value.dtype()),
                "set_requires_grad: gradients need f32 or f64 values: got ",
                dtype_name(impl_->value.dtype()), ". Convert with .to(DType::f64)");
    impl_->requires_grad = enable;
    return *this;
}

Tensor Var::grad() const { return value().defined() ? impl_->grad : Tensor(); }
void Var::zero_grad() {
    if (impl_) impl_->grad = Tensor();
}
const std::shared_ptr<Node>& Var::grad_fn() const {
    static const std::shared_ptr<Node> none;
    return impl_ ? impl_->grad_fn : none;
}

Var Var::detach() const { return Var(value()); }

Var& Var::set_tangent(const Tensor& tangent) {
    check_defined("set_tangent", "tangent", tangent);
    impl_->tangent = Var(tangent).impl();
    return *this;
}

Var& Var::clear_tangent() {
    if (impl_) impl_->tangent.reset();
    return *this;
}

Var Var::tangent() const { return impl_ && impl_->tangent ? Var(impl_->tangent) : Var(); }

void Var::backward(const Tensor& grad_out, bool retain_graph) const {
    POSTR_CHECK(requires_grad(),
                "backward: this Var does not require grad: no input of the ops "
                "that produced it was marked requires_grad. Mark a leaf first");
    Tensor g = grad_out;
    if (!g.defined()) {
        POSTR_CHECK(numel() == 1,
                    "backward: grad_out may be omitted only for a one-element Var: "
                    "this one has shape ",
                    to_string(shape()), ". Pass a cotangent of that shape");
        g = Tensor::ones(shape(), dtype(), device());
    }
    check_same_shape("backward", "grad_out", g, "output", value());
    detail::run_backward({*this}, {Var(g)}, {}, retain_graph, false, true);
}

}  // namespace postr
