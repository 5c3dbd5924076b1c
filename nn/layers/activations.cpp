#include "postr/nn/layers/activations.h"

#include "postr/autodiff/ops.h"

namespace postr::nn {

Var ReLU::forward(const Var& x) { return relu(x); }
Var Tanh::forward(const Var& x) { return tanh(x); }
Var Sigmoid::forward(const Var& x) { return sigmoid(x); }

}  // namespace postr::nn
