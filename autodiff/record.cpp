#include "postr/autodiff/record.h"

#include "postr/autodiff/anomaly.h"
#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr {
namespace {
thread_local bool tl_forward_enabled = true;
}  // namespace

bool forward_enabled() { return tl_forward_enabled; }
NoForwardGuard::NoForwardGuard() : previous_(tl_forward_enabled) { tl_forward_enabled = false; }
NoForwardGuard::~NoForwardGuard() { tl_forward_enabled = previous_; }

namespace {

// Anomaly mode: the first op whose output is not finite stops the program, saying where.
void check_output(const char* name, const Tensor& value, const std::vector<Var>& inputs) {
    if (all_finite(value)) return;
    bool inputs_finite = true;
    for (const Var& x : inputs)
        inputs_finite = inputs_finite && (!x.defined() || all_finite(x.value()));
    const std::string scope = anomaly_scope();
    throw Error(
        std::string("anomaly: op ") + name + " produced non-finite values (output " +
        to_string(value.shape()) + ")" +
        (inputs_finite ? " from finite inputs" : " from inputs that were already non-finite") +
        (scope.empty() ? std::string() : ", in " + scope) +
        ". Check this op's inputs (log of 0, division by 0, overflow in exp) or the data");
}

}  // namespace

Var record_op(const char* name, Tensor value, const std::vector<Var>& inputs, OpRules rules) {
    const bool detect = anomaly_detection_enabled();
    if (detect) check_output(name, value, inputs);
    Var out(std::move(value));
    bool needs_node = false, has_tangent = false;
    for (const Var& x : inputs) {
        needs_node = needs_node || x.requires_grad();
        has_tangent = has_tangent || (x.defined() && x.impl()->tangent);
    }
    if (needs_node && grad_enabled()) {
        std::vector<Node::Edge> edges;
        edges.reserve(inputs.size());
        for (const Var& x : inputs) {
            Node::Edge e;
            if (x.grad_fn())
                e.node = x.grad_fn();
            else if (x.requires_grad())
                e.leaf = x.impl();
            edges.push_back(std::move(e));
        }
        auto node =
            std::make_shared<Node>(name, std::move(edges), std::move(rules.vjp), out.shape());
        if (rules.saves_output) node->save_output(out.value());
        if (detect) node->set_scope(anomaly_scope());
        out.impl()->grad_fn = std::move(node);
    }
    if (has_tangent && forward_enabled()) {
        POSTR_CHECK(rules.jvp, name,
                    ": forward mode is not supported for this op. Use reverse "
                    "mode (grad, vjp) for functions that contain it");
        std::vector<Var> tangents;
        tangents.reserve(inputs.size());
        for (const Var& x : inputs) tangents.push_back(x.tangent());
        // Tangents are plain values (forward-over-reverse is not supported), so their rules
        // record no graph: with inputs that require grad they would otherwise build a second
        // graph nobody walks, at the cost of every saved tensor.
        NoForwardGuard off;
        NoGradGuard no_graph;
        Var t = rules.jvp(tangents, out);
        if (t.defined()) out.impl()->tangent = t.impl();
    }
    return out;
}

}  // namespace postr
