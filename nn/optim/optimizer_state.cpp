// Checks and copies for loading optimizer state (nn/optim/optimizer_state.h).
#include "postr/nn/optim/optimizer_state.h"

#include <cmath>
#include <cstring>

#include "postr/core/error.h"

namespace postr::nn::detail {

void check_state_names(const char* op, const OptimizerState& state,
                       std::initializer_list<const char*> allowed) {
    std::string expected;
    for (const char* a : allowed) expected += expected.empty() ? a : std::string(", ") + a;
    for (std::size_t i = 0; i < state.size(); ++i) {
        bool known = false;
        for (const char* a : allowed) known = known || state[i].first == a;
        POSTR_CHECK(known, op, ": state entry has an unknown name: \"", state[i].first,
                    "\". Pass entries named ", expected, " (as state() returns them)");
        for (std::size_t j = 0; j < i; ++j)
            POSTR_CHECK(state[j].first != state[i].first, op, ": state entry appears twice: \"",
                        state[i].first, "\". Pass each entry once");
    }
}

Tensor find_state(const OptimizerState& state, const char* name) {
    for (const auto& [key, value] : state)
        if (key == name) return value;
    return Tensor();
}

std::int64_t load_step(const char* op, const OptimizerState& state) {
    const Tensor t = find_state(state, "step");
    POSTR_CHECK(t.defined() && t.numel() == 1, op, ": state has no one-element \"step\" entry",
                t.defined() ? std::string(": it has shape ") + to_string(t.shape()) : "",
                ". Pass the state that state() returned");
    const double step = t.item();
    POSTR_CHECK(step >= 0 && std::trunc(step) == step, op,
                ": state \"step\" is not a count >= 0: ", step,
                ". Pass the state that state() returned");
    return static_cast<std::int64_t>(step);
}

Tensor load_buffer(const char* op, const char* name, const Tensor& t, const Tensor& params) {
    POSTR_CHECK(t.defined(), op, ": state has no \"", name,
                "\" entry. Pass the state that state() returned");
    POSTR_CHECK(t.shape() == params.shape(), op, ": state \"", name,
                "\" does not match params: ", name, " is ", to_string(t.shape()), ", params is ",
                to_string(params.shape()),
                ". Load the state of an optimizer over the same parameters");
    return t.to(params.dtype()).to(params.device()).clone();
}

}  // namespace postr::nn::detail
