#include "postr/nn/layers/sequential.h"

#include <string>

namespace postr::nn {

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
    for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
    register_module(std::to_string(children().size()), std::move(module));
}

Var Sequential::forward(const Var& x) {
    Var y = x;
    for (const auto& [name, child] : children()) y = (*child)(y);
    return y;
}

}  // namespace postr::nn
