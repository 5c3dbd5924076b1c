#include "postr/autodiff/graph.h"

#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "postr/autodiff/anomaly.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr {
namespace {

thread_local bool tl_grad_enabled = true;

// Sums cotangents arriving at one place.
Var accumulate(const Var& total, const Var& g) { return total.defined() ? add(total, g) : g; }

}  // namespace

Node::Node(const char* name, std::vector<Edge> edges, VjpRule vjp, Shape out_shape)
    : name_(name),
      edges_(std::move(edges)),
      vjp_(std::move(vjp)),
      out_shape_(std::move(out_shape)) {}

void Node::check_cotangents(const Var& grad_out, const std::vector<Var>& grads) const {
    for (std::size_t k = 0; k < grads.size(); ++k) {
        if (!grads[k].defined() || all_finite(grads[k].value())) continue;
        const bool incoming_finite = all_finite(grad_out.value());
        throw Error(std::string("anomaly: backward of op ") + name_ +
                    " produced a non-finite gradient for its input " + std::to_string(k) +
                    (incoming_finite ? " from a finite incoming gradient"
                                     : " (its incoming gradient was already non-finite)") +
                    (scope_.empty() ? std::string() : "; the op was recorded in " + scope_) +
                    ". Check the op's inputs at that point (e.g. sqrt or log near 0)");
    }
}

std::vector<Var> Node::apply(const Var& grad_out) {
    POSTR_CHECK(vjp_, "backward of ", name_,
                ": the graph was released by an earlier backward. Pass retain_graph=true to the "
                "first backward to run another");
    Var out;
    if (output_.defined()) {
        auto impl = std::make_shared<detail::VarImpl>();
        impl->value = output_;
        impl->grad_fn = shared_from_this();
        out = Var(std::move(impl));
    }
    const bool detect = anomaly_detection_enabled();
    std::vector<Var> grads;
    {
        // In anomaly mode the rule's cotangents are checked below, as this op's backward: the
        // ops inside the rule are not checked one by one (they would be reported by their own
        // names, which say nothing about where the forward op was).
        DetectAnomalyGuard rule_ops_unchecked(false);
        grads = vjp_(grad_out, out);
    }
    POSTR_ASSERT(grads.size() == edges_.size());
    if (detect) check_cotangents(grad_out, grads);
    return grads;
}

void Node::release() {
    vjp_ = nullptr;
    output_ = Tensor();
}

bool grad_enabled() { return tl_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(tl_grad_enabled) { tl_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { tl_grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(tl_grad_enabled) { tl_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { tl_grad_enabled = previous_; }

namespace detail {

std::vector<Var> run_backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
                              const std::vector<Var>& inputs, bool retain_graph, bool create_graph,
                              bool accumulate_leaves) {
    POSTR_ASSERT(outputs.size() == grad_outputs.size());
    // Where the caller wants gradients: at a node (intermediate input) or at a leaf.
    std::unordered_map<const Node*, std::vector<std::size_t>> wanted_at_node;
    std::unordered_map<const VarImpl*, std::vector<std::size_t>> wanted_at_leaf;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        check_defined("grad", "input", inputs[i].defined() ? inputs[i].value() : Tensor());
        if (inputs[i].grad_fn())
            wanted_at_node[inputs[i].grad_fn().get()].push_back(i);
        else
            wanted_at_leaf[inputs[i].impl().get()].push_back(i);
    }
    std::vector<Var> results(inputs.size());

    // Dependency counts over the nodes reachable from the outputs.
    std::unordered_map<Node*, int> pending;
    std::vector<Node*> stack;
    for (const Var& o : outputs)
        if (o.grad_fn() && pending.emplace(o.grad_fn().get(), 0).second)
            stack.push_back(o.grad_fn().get());
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        for (const auto& e : n->edges()) {
            if (!e.node) continue;
            auto [it, inserted] = pending.emplace(e.node.get(), 0);
            ++it->second;
            if (inserted) stack.push_back(e.node.get());
        }
    }

    // Nodes whose rule must run: those with a path to a wanted input (or, when accumulating, to
    // a leaf that requires grad). Others are skipped, so asking for the gradient at a late
    // layer does not pay for the backward pass through the early ones.
    auto wants_leaf = [&](const std::shared_ptr<VarImpl>& leaf) {
        return wanted_at_leaf.count(leaf.get()) > 0 || (accumulate_leaves && leaf->requires_grad);
    };
    std::unordered_map<Node*, bool> needed;
    for (auto& [root, count] : pending) {
        if (needed.count(root)) continue;
        // Iterative post-order DFS: a node is decided once all its inputs are.
        std::vector<std::pair<Node*, bool>> todo{{root, false}};
        while (!todo.empty()) {
            auto [n, inputs_done] = todo.back();
            todo.pop_back();
            if (needed.count(n)) continue;
            if (!inputs_done) {
                todo.emplace_back(n, true);
                for (const auto& e : n->edges())
                    if (e.node && !needed.count(e.node.get()))
                        todo.emplace_back(e.node.get(), false);
                continue;
            }
            bool need = wanted_at_node.count(n) > 0;
            for (const auto& e : n->edges())
                need = need || (e.node ? needed.at(e.node.get()) : e.leaf && wants_leaf(e.leaf));
            needed[n] = need;
        }
    }

    std::unordered_map<Node*, Var> cotangent;
    auto deliver_to_leaf = [&](const std::shared_ptr<VarImpl>& leaf, const Var& g) {
        if (auto it = wanted_at_leaf.find(leaf.get()); it != wanted_at_leaf.end())
            for (std::size_t i : it->second) results[i] = accumulate(results[i], g);
        if (accumulate_leaves && leaf->requires_grad) {
            Tensor v = g.value();
            leaf->grad = leaf->grad.defined() ? postr::add(leaf->grad, v) : v.clone();
        }
    };
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const Var& o = outputs[i];
        if (o.grad_fn())
            cotangent[o.grad_fn().get()] =
                accumulate(cotangent[o.grad_fn().get()], grad_outputs[i]);
        else
            deliver_to_leaf(o.impl(), grad_outputs[i]);
    }

    std::optional<NoGradGuard> no_grad;
    if (!create_graph) no_grad.emplace();
    std::vector<Node*> ready;
    for (auto& [n, count] : pending)
        if (count == 0) ready.push_back(n);
    while (!ready.empty()) {
        Node* n = ready.back();
        ready.pop_back();
        Var g = std::move(cotangent[n]);
        cotangent.erase(n);
        if (auto it = wanted_at_node.find(n); it != wanted_at_node.end())
            for (std::size_t i : it->second) results[i] = g;
        std::vector<Var> grads;
        if (g.defined() && needed.at(n)) grads = n->apply(g);
        for (std::size_t k = 0; k < n->edges().size(); ++k) {
            const Node::Edge& e = n->edges()[k];
            const bool has_grad = k < grads.size() && grads[k].defined();
            if (e.node) {
                if (has_grad)
                    cotangent[e.node.get()] = accumulate(cotangent[e.node.get()], grads[k]);
                if (--pending[e.node.get()] == 0) ready.push_back(e.node.get());
            } else if (e.leaf && has_grad) {
                deliver_to_leaf(e.leaf, grads[k]);
            }
        }
        if (!retain_graph) n->release();
    }

    // Inputs nothing flowed to get zeros, with the cotangents' batch dims.
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (results[i].defined()) continue;
        Shape shape = inputs[i].shape();
        if (!grad_outputs.empty() && !outputs.empty()) {
            int batch = grad_outputs[0].dim() - outputs[0].dim();
            shape.insert(shape.begin(), grad_outputs[0].shape().begin(),
                         grad_outputs[0].shape().begin() + batch);
        }
        results[i] = Var(Tensor::zeros(shape, inputs[i].dtype(), inputs[i].device()));
    }
    return results;
}

}  // namespace detail

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Tensor>& grad_outputs, bool retain_graph,
                      bool create_graph) {
    POSTR_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "grad: got ",
                grad_outputs.size(), " cotangents for ", outputs.size(),
                " outputs. Pass one per output, or none for one-element outputs");
    std::vector<Var> cotangents;
    int batch = -1;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const Var& o = outputs[i];
        Tensor g;
        if (grad_outputs.empty()) {
            POSTR_CHECK(o.numel() == 1,
                        "grad: cotangents may be omitted only for one-element "
                        "outputs: output ",
                        i, " has shape ", to_string(o.shape()), ". Pass grad_outputs");
            g = Tensor::ones(o.shape(), o.dtype(), o.device());
        } else {
            g = grad_outputs[i];
            check_defined("grad", "grad_outputs", g);
            int b = g.dim() - o.dim();
            Shape tail(g.shape().begin() + std::max(b, 0), g.shape().end());
            POSTR_CHECK((b == 0 || b == 1) && tail == o.shape() && (batch < 0 || batch == b),
                        "grad: cotangent ", i, " has shape ", to_string(g.shape()), " but output ",
                        i, " has shape ", to_string(o.shape()),
                        ". Pass the output's shape, or [K, ...that shape] for a batch of K "
                        "(the same for every output)");
            check_same_device("grad", "cotangent", g, "output", o.value());
            batch = b;
        }
        cotangents.emplace_back(g);
    }
    return detail::run_backward(outputs, cotangents, inputs, retain_graph, create_graph, false);
}

}  // namespace postr
