// Linear: y = x·Wᵀ + b with W: [out, in], b: [out] (optional). Parameters "weight", "bias";
// PyTorch's default init U(−1/√in, 1/√in) for both.
#pragma once

#include "postr/nn/module.h"

namespace postr::nn {

class Linear : public Module {
  public:
    // Throws when a size is not positive.
    Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
    // x: [..., in] → [..., out].
    Var forward(const Var& x) override;
    const Var& weight() const { return param(weight_); }
    // Undefined Var when the layer has no bias.
    Var bias() const { return has_bias_ ? param(bias_) : Var(); }
    std::int64_t in_features() const { return in_; }
    std::int64_t out_features() const { return out_; }

  private:
    std::int64_t in_, out_;
    bool has_bias_;
    std::size_t weight_ = 0, bias_ = 0;
};

}  // namespace postr::nn
