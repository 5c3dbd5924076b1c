// softmax and log_softmax along one dim, with their rules in closed form:
//   y = softmax(x):      x̄ = y ⊙ (ȳ − Σ_dim ȳ⊙y),    ẏ = y ⊙ (ẋ − Σ_dim ẋ⊙y)
//   y = log_softmax(x):  x̄ = ȳ − e^y ⊙ Σ_dim ȳ,       ẏ = ẋ − Σ_dim e^y⊙ẋ
#include "postr/autodiff/rules/helpers.h"

namespace postr {

Var softmax(const Var& x, int dim) {
    Tensor value = softmax(x.value(), dim);
    const int d = rules::from_end("softmax", dim, x.dim());
    auto apply = [d](const Var& v, const Var& y) {
        return mul(y, sub(v, sum(mul(v, y), {d}, true)));
    };
    OpRules r;
    r.saves_output = true;
    r.vjp = [apply](const Var& g, const Var& y) { return std::vector<Var>{apply(g, y)}; };
    r.jvp = [apply](const std::vector<Var>& t, const Var& y) { return apply(t[0], y); };
    return record_op("softmax", std::move(value), {x}, std::move(r));
}

Var log_softmax(const Var& x, int dim) {
    Tensor value = log_softmax(x.value(), dim);
    const int d = rules::from_end("log_softmax", dim, x.dim());
    OpRules r;
    r.saves_output = true;
    r.vjp = [d](const Var& g, const Var& y) {
        return std::vector<Var>{sub(g, mul(exp(y), sum(g, {d}, true)))};
    };
    r.jvp = [d](const std::vector<Var>& t, const Var& y) {
        return sub(t[0], sum(mul(exp(y), t[0]), {d}, true));
    };
    return record_op("log_softmax", std::move(value), {x}, std::move(r));
}

}  // namespace postr
