// A model as a function of its flat parameter vector: the bridge from nn to the functional
// autodiff API (autodiff/functional.h) and to posterior algorithms that move θ as a Var
// (VI's reparameterized samples, Hessian-vector products, Jacobians w.r.t. θ).
#pragma once

#include "postr/autodiff/functional.h"
#include "postr/autodiff/var.h"
#include "postr/nn/module.h"

namespace postr::nn {

// model(x) with every parameter a view of `theta` ([D], the model's dtype and device) instead
// of the model's own θ: gradients and tangents flow to `theta`. The model's θ is not read or
// changed. Throws postr::Error when theta's size, dtype or device differ from the model's.
Var functional_call(Module& model, const Var& theta, const Var& x);

// θ ↦ model(x) as a VarFn, for jacobian, jvp, vjp, ggn_vector_product... The model is held by
// reference and must outlive the function; x is shared (a handle, not a copy).
VarFn as_function_of_theta(Module& model, const Tensor& x);

}  // namespace postr::nn
