// The functional API over plain tensors: what inference algorithms call. Functions take and
// return Vars; these entry points build the Vars, run the modes, and hand back Tensors.
#pragma once

#include <functional>
#include <utility>

#include "postr/autodiff/var.h"

namespace postr {

using VarFn = std::function<Var(const Var&)>;

// f(θ) and ∇f(θ) for a scalar (one-element) f of one flat parameter tensor θ: the entry point
// of every posterior algorithm (log posteriors of the flat parameter vector).
struct ValueAndGrad {
    Tensor value;  // f(θ), f's shape
    Tensor grad;   // θ's shape
};
ValueAndGrad value_and_grad(const VarFn& f, const Tensor& theta);
Tensor grad(const VarFn& f, const Tensor& theta);

// (f(x), uᵀJ): cotangent u has f(x)'s shape, or [K, ...that] to pull K cotangents back in one
// pass (the result is then [K, ...x's shape]).
std::pair<Tensor, Tensor> vjp(const VarFn& f, const Tensor& x, const Tensor& cotangent);

// (f(x), J v) by forward mode, without a reverse graph: v has x's shape, or [K, ...that] for K
// tangents in one pass (J v is then [K, ...f(x)'s shape]).
std::pair<Tensor, Tensor> jvp(const VarFn& f, const Tensor& x, const Tensor& v);

// The Jacobian [...f(x) shape, ...x shape], from one batched vjp with the identity as its
// cotangents (meant for small outputs).
Tensor jacobian(const VarFn& f, const Tensor& x);

// ∇²f(x) v for a scalar f, by reverse-over-reverse: the gradient is recorded (create_graph)
// and ⟨∇f, v⟩ is differentiated again.
Tensor hessian_vector_product(const VarFn& f, const Tensor& x, const Tensor& v);

// Jᵀ H J v: J the Jacobian of model f at x, H the Hessian of loss at z = f(x). By jvp (J v),
// then the loss's Hessian-vector product at z, then vjp. loss maps f's output to a scalar.
Tensor ggn_vector_product(const VarFn& f, const VarFn& loss, const Tensor& x, const Tensor& v);

}  // namespace postr
