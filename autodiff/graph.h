// The reverse-mode graph: one Node per recorded op, edges to the nodes (or leaves) of its
// inputs, and the op's vector-Jacobian rule. backward walks the nodes in topological order
// (Kahn's algorithm over dependency counts), so each node's rule runs once, after every
// cotangent for its output has been summed.
//
// Batched cotangents: a cotangent for an output of shape S may be [K, ...S]. Rules index dims
// from the end and find K as the rank difference, so K cotangents flow through the graph in one
// pass (PyTorch's is_grads_batched, without a loop).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postr/autodiff/var.h"

namespace postr {

// grad_out: the cotangent of the op's output, out: the output (as a Var whose history is this
// node, so the rule is itself differentiable). Returns one cotangent per input, in input order;
// an undefined Var where an input needs none.
using VjpRule = std::function<std::vector<Var>(const Var& grad_out, const Var& out)>;

class Node : public std::enable_shared_from_this<Node> {
  public:
    struct Edge {
        std::shared_ptr<Node> node;             // input produced by an op, or
        std::shared_ptr<detail::VarImpl> leaf;  // input is a leaf that requires grad
    };

    Node(const char* name, std::vector<Edge> edges, VjpRule vjp, Shape out_shape);

    const char* name() const { return name_; }
    const std::vector<Edge>& edges() const { return edges_; }
    const Shape& out_shape() const { return out_shape_; }
    bool released() const { return !vjp_; }

    // Runs the rule; throws if the graph was released by an earlier backward.
    std::vector<Var> apply(const Var& grad_out);
    // Keeps the op's output value for rules that need it (exp, tanh, ...).
    void save_output(const Tensor& out) { output_ = out; }
    // Frees the rule and what it saved.
    void release();
    // Where the op was recorded (anomaly_scope() at the time; set only in anomaly mode).
    const std::string& scope() const { return scope_; }
    void set_scope(std::string scope) { scope_ = std::move(scope); }

  private:
    void check_cotangents(const Var& grad_out, const std::vector<Var>& grads) const;

    const char* name_;
    std::vector<Edge> edges_;
    VjpRule vjp_;
    Shape out_shape_;
    Tensor output_;
    std::string scope_;
};

// Whether ops record graph nodes on this thread (on by default).
bool grad_enabled();

// Turns recording off for its lifetime (inference, optimizer steps, rules run without
// create_graph), restoring the previous mode on exit.
class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};

// Turns recording back on for its lifetime inside a NoGradGuard (e.g. a gradient computed
// inside a function that is itself evaluated without a graph).
class EnableGradGuard {
  public:
    EnableGradGuard();
    ~EnableGradGuard();
    EnableGradGuard(const EnableGradGuard&) = delete;
    EnableGradGuard& operator=(const EnableGradGuard&) = delete;

  private:
    bool previous_;
};

// Gradients of `outputs` with respect to `inputs` (leaves or intermediate Vars), given one
// cotangent per output (omitted: 1 for one-element outputs). Cotangents may carry a leading
// batch dim K; then every result has it too. Inputs the outputs do not depend on get zeros.
// create_graph records the backward pass itself, so the results can be differentiated again
// (Hessian-vector products by reverse-over-reverse). Leaves' .grad is not touched.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                      bool create_graph = false);

namespace detail {
// The engine behind Var::backward and grad(): returns the gradients w.r.t. `inputs` and, when
// accumulate_leaves, adds the gradients of leaves that require grad into their .grad.
std::vector<Var> run_backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
                              const std::vector<Var>& inputs, bool retain_graph, bool create_graph,
                              bool accumulate_leaves);
}  // namespace detail

}  // namespace postr
