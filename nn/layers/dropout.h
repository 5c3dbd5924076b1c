// Dropout: zeroes each element with probability p and scales the rest by 1/(1 − p). Active in
// training mode, or in any mode after set_active(true) (MC-dropout at prediction time). The
// mask comes from the layer's own seeded Generator, so runs are reproducible.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/nn/module.h"

namespace postr::nn {

class Dropout : public Module {
  public:
    // Throws when p is outside [0, 1].
    explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
    // Any shape → same shape.
    Var forward(const Var& x) override;
    // Keeps dropout on in evaluation mode too (MC-dropout).
    void set_active(bool on) { active_ = on; }
    bool is_active() const { return active_ || is_training(); }
    double p() const { return p_; }

  private:
    double p_;
    bool active_ = false;
    Generator gen_;
};

}  // namespace postr::nn
