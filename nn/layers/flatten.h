// Flatten: [N, ...] → [N, prod(...)] (PyTorch's nn.Flatten with start_dim 1).
#pragma once

#include "postr/nn/module.h"

namespace postr::nn {

class Flatten : public Module {
  public:
    // Throws on a rank-0 input.
    Var forward(const Var& x) override;
};

}  // namespace postr::nn
