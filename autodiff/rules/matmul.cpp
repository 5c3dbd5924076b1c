// matmul. For rank ≥ 2 operands C = A·B gives Ā = C̄·Bᵀ and B̄ = Aᵀ·C̄, each summed back over
// broadcast batch dims, and Ċ = Ȧ·B + A·Ḃ. Rank-1 operands are handled by unsqueezing to
// matrices and squeezing the result (a composite, so it needs no rules of its own).
#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

Var matmul_2d(const Var& a, const Var& b) {
    Tensor value = matmul(a.value(), b.value());
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    const int rank = value.dim();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        int k = rules::batch_of(g, rank);
        Var ga = need_a ? sum_to(matmul(g, transpose(b, -1, -2)), k, a.shape()) : Var();
        Var gb = need_b ? sum_to(matmul(transpose(a, -1, -2), g), k, b.shape()) : Var();
        return std::vector<Var>{ga, gb};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        Var ta, tb;
        if (t[0].defined()) ta = matmul(rules::lift(t[0], rules::batch_of(t[0], a.dim()), rank), b);
        if (t[1].defined()) tb = matmul(a, rules::lift(t[1], rules::batch_of(t[1], b.dim()), rank));
        return rules::add_terms(ta, tb);
    };
    return record_op("matmul", std::move(value), {a, b}, std::move(r));
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
    check_min_rank("matmul", "a", a.value(), 1);
    check_min_rank("matmul", "b", b.value(), 1);
    if (a.dim() >= 2 && b.dim() >= 2) return matmul_2d(a, b);
    Var am = a.dim() == 1 ? unsqueeze(a, 0) : a;
    Var bm = b.dim() == 1 ? unsqueeze(b, 1) : b;
    Var c = matmul_2d(am, bm);
    if (b.dim() == 1) c = squeeze(c, -1);
    if (a.dim() == 1) c = squeeze(c, a.dim() == 1 && b.dim() == 1 ? -1 : -2);
    return c;
}

}  // namespace postr
