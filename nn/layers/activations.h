// Parameter-free elementwise activations: ReLU, Tanh, Sigmoid (any input shape). Grouped in
// one file because each is a one-line forward.
#pragma once

#include "postr/nn/module.h"

namespace postr::nn {

class ReLU : public Module {
  public:
    Var forward(const Var& x) override;
};

class Tanh : public Module {
  public:
    Var forward(const Var& x) override;
};

class Sigmoid : public Module {
  public:
    Var forward(const Var& x) override;
};

}  // namespace postr::nn
