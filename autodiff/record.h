// How a differentiable op attaches itself to both modes (used by autodiff/rules/*.cpp).
#pragma once

#include <functional>
#include <vector>

#include "postr/autodiff/graph.h"

namespace postr {

// tangents: one per input (undefined Var where the input carries none); out: the output.
// Returns the output's tangent. Rules run with forward mode off, so the rule's own ops do not
// propagate tangents (one level of forward mode).
using JvpRule = std::function<Var(const std::vector<Var>& tangents, const Var& out)>;

struct OpRules {
    VjpRule vjp;
    JvpRule jvp;
    bool saves_output = false;  // the rules read `out`
};

// Wraps `value`, the result of op `name` on `inputs`: records a node when grad mode is on and
// an input requires grad, and computes the tangent when an input carries one.
Var record_op(const char* name, Tensor value, const std::vector<Var>& inputs, OpRules rules);

// Whether forward-mode propagation is on (off inside rules).
bool forward_enabled();
// Turns forward-mode propagation off for its lifetime, restoring the previous mode on exit.
// Rules run under it; callers use it for a backward pass through a graph whose saved values
// carry tangents when the tangent of the gradient is not wanted (it would cost a second pass
// of work: e.g. the GGN-vector product's backward after its tangent-carrying forward).
class NoForwardGuard {
  public:
    NoForwardGuard();
    ~NoForwardGuard();
    NoForwardGuard(const NoForwardGuard&) = delete;
    NoForwardGuard& operator=(const NoForwardGuard&) = delete;

  private:
    bool previous_;
};

}  // namespace postr
