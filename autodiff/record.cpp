#include "postr/autodiff/record.h"

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"

namespace postr {
namespace {
thread_local bool tl_forward_enabled = true;
}  // namespace

bool forward_enabled() { return tl_forward_enabled; }
NoForwardGuard::NoForwardGuard() : previous_(tl_forward_enabled) { tl_forward_enabled = false; }
NoForwardGuard::~NoForwardGuard() { tl_forward_enabled = previous_; }

Var record_op(const char* name, Tensor value, const std::vector<Var>& inputs, OpRules rules) {
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
