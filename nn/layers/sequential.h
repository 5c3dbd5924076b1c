// Sequential: applies its children in order; they are named "0", "1", ... as in PyTorch.
#pragma once

#include <memory>
#include <vector>

#include "postr/nn/module.h"

namespace postr::nn {

class Sequential : public Module {
  public:
    Sequential() = default;
    explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
    // Appends a child (named by its position); call before finalize().
    void push_back(std::shared_ptr<Module> module);
    std::size_t size() const { return children().size(); }
    Module& operator[](std::size_t i) const { return *children().at(i).second; }
    Var forward(const Var& x) override;
};

}  // namespace postr::nn
