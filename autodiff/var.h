// Var: a Tensor that remembers how it was computed. Ops on Vars (postr/autodiff/ops.h) record a
// graph node when an input requires a gradient (reverse mode) and push tangents along when an
// input carries one (forward mode). Copying a Var copies the handle.
#pragma once

#include <memory>

#include "postr/core/tensor.h"

namespace postr {

class Node;

namespace detail {
struct VarImpl {
    Tensor value;
    Tensor grad;                       // accumulated by backward() on leaves that require grad
    std::shared_ptr<Node> grad_fn;     // the op that produced this value; null for leaves
    bool requires_grad = false;        // set on leaves by the user
    std::shared_ptr<VarImpl> tangent;  // forward mode: the directional derivative of value
};
}  // namespace detail

class Var {
  public:
    Var() = default;
    // A leaf holding `value` (not copied). Implicit, so tensors can be passed where Vars are
    // expected; they then act as constants.
    Var(Tensor value, bool requires_grad = false);  // NOLINT(google-explicit-constructor)

    bool defined() const { return impl_ != nullptr; }
    const Tensor& value() const;
    const Shape& shape() const { return value().shape(); }
    int dim() const { return value().dim(); }
    std::int64_t size(int d) const { return value().size(d); }
    std::int64_t numel() const { return value().numel(); }
    DType dtype() const { return value().dtype(); }
    Device device() const { return value().device(); }

    // True for leaves marked requires_grad and for results of ops on such Vars.
    bool requires_grad() const;
    bool is_leaf() const;
    // Marks a leaf as needing a gradient; throws on a non-leaf.
    Var& set_requires_grad(bool enable);
    // The gradient accumulated by backward(); undefined until backward reaches this leaf.
    Tensor grad() const;
    void zero_grad();
    // The recording op, or null for a leaf.
    const std::shared_ptr<Node>& grad_fn() const;
    // The same value with no history and no tangent.
    Var detach() const;

    // Backpropagates from this Var into the .grad of every leaf that requires grad.
    // grad_out: this Var's shape; may be omitted for a one-element Var (then 1).
    // retain_graph keeps the graph for another backward.
    void backward(const Tensor& grad_out = Tensor(), bool retain_graph = false) const;

    // Forward mode: the tangent carried by this Var (undefined Var when none).
    Var tangent() const;
    // Attaches a tangent: the value's shape, or [K, ...that] for K tangents at once. Ops on this
    // Var then carry tangents forward (see jvp in functional.h).
    Var& set_tangent(const Tensor& tangent);
    // Removes the tangent, so later ops on this Var carry none.
    Var& clear_tangent();

    const std::shared_ptr<detail::VarImpl>& impl() const { return impl_; }
    explicit Var(std::shared_ptr<detail::VarImpl> impl) : impl_(std::move(impl)) {}

  private:
    std::shared_ptr<detail::VarImpl> impl_;
};

}  // namespace postr
