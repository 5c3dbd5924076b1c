#include "postr/nn/functional_call.h"

#include <utility>
#include <vector>

namespace postr::nn {
namespace {

// Restores the model's own parameter Vars on scope exit, also when forward throws.
class BoundParameters {
  public:
    BoundParameters(ParameterVector& params, const Var& theta)
        : params_(params), previous_(params.bind_vars(theta)) {}
    ~BoundParameters() { params_.restore_vars(std::move(previous_)); }
    BoundParameters(const BoundParameters&) = delete;
    BoundParameters& operator=(const BoundParameters&) = delete;

  private:
    ParameterVector& params_;
    std::vector<Var> previous_;
};

}  // namespace

Var functional_call(Module& model, const Var& theta, const Var& x) {
    BoundParameters bound(model.parameters(), theta);
    return model(x);
}

VarFn as_function_of_theta(Module& model, const Tensor& x) {
    return [&model, x](const Var& theta) { return functional_call(model, theta, Var(x)); };
}

}  // namespace postr::nn
