// Linear-algebra rules. Each op's value comes from the kernel op of the same name; both rules
// are written with differentiable Var ops (triangular_solve, cholesky_solve, matmul, masks), so
// they can be differentiated again. The kernels read only one triangle (or the diagonal) of
// their matrix arguments, so cotangents and tangents are masked to what is read. Below, tri(·)
// is that mask, Φ(X) the lower triangle of X with its diagonal halved, sym(X) = (X + Xᵀ)/2.
//
//   L = cholesky(A), the factor of sym(A) (symmetric convention: A is treated as sym(A), so
//   the cotangent is symmetric and the two modes are adjoint for any direction):
//     L̇ = L·Φ(L⁻¹ sym(Ȧ) L⁻ᵀ),   Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹)          (Murray 2016, eqs. 8, 10)
//   X = triangular_solve(A, B) = op(A)⁻¹B, op(A) = A or Aᵀ:
//     Ẋ = op(A)⁻¹(Ḃ − op(tri Ȧ) X),   B̄ = op(A)⁻ᵀ X̄,   Ā = −tri(B̄Xᵀ) or −tri(X B̄ᵀ) (transposed)
//   X = cholesky_solve(B, L) = (LLᵀ)⁻¹B, with L = tril(L) and Ȧ = L̇Lᵀ + LL̇ᵀ (L̇ = tril L̇):
//     Ẋ = (LLᵀ)⁻¹(Ḃ − Ȧ X),   B̄ = (LLᵀ)⁻¹X̄,   L̄ = −tril((B̄Xᵀ + X B̄ᵀ) L)
//   d = cholesky_logdet(L) = 2 Σᵢ log Lᵢᵢ:
//     ḋ = 2 Σᵢ L̇ᵢᵢ/Lᵢᵢ,   L̄ = diag(2 d̄ / Lᵢᵢ)
//   S = cholesky_inverse(L) = (LLᵀ)⁻¹, from dS = −S dA S (Giles 2008, sec. 2.2.1) and SL = L⁻ᵀ:
//     Ṡ = −(M + Mᵀ) with M = S L̇ L⁻¹,   L̄ = −tril(S (S̄ + S̄ᵀ) L⁻ᵀ)
// cholesky_solve and cholesky_inverse are primitives rather than composites of
// triangular_solve so that their values are the kernels' (one potrs/potri call, and an exactly
// symmetric inverse); their rules are composites.
#include <vector>

#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::lift;

Var mT(const Var& x) { return transpose(x, -1, -2); }

// A constant [n, n] like `like` (dtype, device): `diag` on the diagonal, 1 strictly inside the
// lower (or upper) triangle, 0 elsewhere.
Tensor triangle_mask(const Tensor& like, std::int64_t n, bool lower, double diag) {
    std::vector<double> m(static_cast<std::size_t>(n * n), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j)
            if (i == j)
                m[static_cast<std::size_t>(i * n + j)] = diag;
            else if (lower ? j < i : j > i)
                m[static_cast<std::size_t>(i * n + j)] = 1.0;
    return Tensor::from_vector(m, {n, n}).to(like.dtype()).to(like.device());
}

// The diagonal of x: [..., n, n] → [..., n] (eye: the identity as a constant).
Var diagonal(const Var& x, const Tensor& eye) { return sum(mul(x, Var(eye)), {-1}); }

}  // namespace

Var cholesky(const Var& a) {
    Tensor value = cholesky(a.value());
    const Tensor phi = triangle_mask(value, value.size(-1), true, 0.5);
    OpRules r;
    r.saves_output = true;
    r.vjp = [phi](const Var& g, const Var& l) {
        Var p = mul(matmul(mT(l), g), Var(phi));             // Φ(Lᵀ L̄)
        Var y = triangular_solve(l, p, true, true);          // L⁻ᵀ Φ
        Var s = mT(triangular_solve(l, mT(y), true, true));  // L⁻ᵀ Φ L⁻¹
        return std::vector<Var>{mul(add(s, mT(s)), 0.5)};
    };
    r.jvp = [phi](const std::vector<Var>& t, const Var& l) {
        Var adot = mul(add(t[0], mT(t[0])), 0.5);
        Var y = triangular_solve(l, adot, true, false);   // L⁻¹ Ȧ
        Var p = triangular_solve(l, mT(y), true, false);  // L⁻¹ Ȧ L⁻ᵀ (Ȧ symmetric)
        return matmul(l, mul(p, Var(phi)));
    };
    return record_op("cholesky", std::move(value), {a}, std::move(r));
}

Var triangular_solve(const Var& a, const Var& b, bool lower, bool transpose, bool unit_diagonal) {
    Tensor value = triangular_solve(a.value(), b.value(), lower, transpose, unit_diagonal);
    // Entries of a the kernel reads: its triangle, without the diagonal when that is unit.
    const Tensor read = triangle_mask(value, a.size(-1), lower, unit_diagonal ? 0.0 : 1.0);
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    const Shape a_shape = a.shape(), b_shape = b.shape();
    const int rank = value.dim(), a_rank = a.dim(), b_rank = b.dim();
    OpRules r;
    r.saves_output = true;
    r.vjp = [=](const Var& g, const Var& x) {
        const int k = batch_of(g, rank);
        Var gb = triangular_solve(a, g, lower, !transpose, unit_diagonal);  // op(A)⁻ᵀ X̄
        Var ga;
        if (need_a) {
            Var outer = transpose ? matmul(x, mT(gb)) : matmul(gb, mT(x));
            ga = sum_to(neg(mul(outer, Var(read))), k, a_shape);
        }
        return std::vector<Var>{ga, need_b ? sum_to(gb, k, b_shape) : Var()};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& x) {
        // Lifting to the output's rank lines a tangent's batch dim K up with x's batch dims.
        Var rhs;
        if (t[1].defined()) rhs = lift(t[1], batch_of(t[1], b_rank), rank);
        if (t[0].defined()) {
            Var adot = mul(lift(t[0], batch_of(t[0], a_rank), rank), Var(read));
            Var term = matmul(transpose ? mT(adot) : adot, x);
            rhs = rhs.defined() ? sub(rhs, term) : neg(term);
        }
        return triangular_solve(a, rhs, lower, transpose, unit_diagonal);
    };
    return record_op("triangular_solve", std::move(value), {a, b}, std::move(r));
}

Var cholesky_solve(const Var& b, const Var& l) {
    Tensor value = cholesky_solve(b.value(), l.value());
    const Tensor tril = triangle_mask(value, l.size(-1), true, 1.0);
    const bool need_b = b.requires_grad(), need_l = l.requires_grad();
    const Shape b_shape = b.shape(), l_shape = l.shape();
    const int rank = value.dim(), b_rank = b.dim(), l_rank = l.dim();
    OpRules r;
    r.saves_output = true;
    r.vjp = [=](const Var& g, const Var& x) {
        const int k = batch_of(g, rank);
        Var gb = cholesky_solve(g, l);  // A⁻¹ X̄ (A symmetric)
        Var gl;
        if (need_l) {
            Var outer = matmul(gb, mT(x));  // B̄ Xᵀ
            Var lt = mul(l, Var(tril));
            gl = sum_to(neg(mul(matmul(add(outer, mT(outer)), lt), Var(tril))), k, l_shape);
        }
        return std::vector<Var>{need_b ? sum_to(gb, k, b_shape) : Var(), gl};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& x) {
        Var rhs;
        if (t[0].defined()) rhs = lift(t[0], batch_of(t[0], b_rank), rank);
        if (t[1].defined()) {
            Var ldot = mul(lift(t[1], batch_of(t[1], l_rank), rank), Var(tril));
            Var lt = mul(l, Var(tril));
            // Ȧ X = L̇ (Lᵀ X) + L (L̇ᵀ X), without forming Ȧ.
            Var term = add(matmul(ldot, matmul(mT(lt), x)), matmul(lt, matmul(mT(ldot), x)));
            rhs = rhs.defined() ? sub(rhs, term) : neg(term);
        }
        return cholesky_solve(rhs, l);
    };
    return record_op("cholesky_solve", std::move(value), {b, l}, std::move(r));
}

Var cholesky_logdet(const Var& l) {
    Tensor value = cholesky_logdet(l.value());
    const Tensor eye = postr::eye(l.size(-1), l.dtype(), l.device());
    OpRules r;
    r.vjp = [l, eye](const Var& g, const Var&) {
        Var coef = mul(reciprocal(diagonal(l, eye)), 2.0);  // [..., n]: 2 / Lᵢᵢ
        Var scaled = mul(unsqueeze(g, -1), coef);           // [K, ..., n]
        return std::vector<Var>{mul(unsqueeze(scaled, -1), Var(eye))};
    };
    r.jvp = [l, eye](const std::vector<Var>& t, const Var&) {
        Var coef = mul(reciprocal(diagonal(l, eye)), 2.0);
        return sum(mul(diagonal(t[0], eye), coef), {-1});
    };
    return record_op("cholesky_logdet", std::move(value), {l}, std::move(r));
}

Var cholesky_inverse(const Var& l) {
    Tensor value = cholesky_inverse(l.value());
    const Tensor tril = triangle_mask(value, l.size(-1), true, 1.0);
    OpRules r;
    r.saves_output = true;
    r.vjp = [l, tril](const Var& g, const Var& s) {
        // S W L⁻ᵀ = (L⁻¹ W S)ᵀ for symmetric W = S̄ + S̄ᵀ and S.
        Var w = add(g, mT(g));
        Var swl = mT(triangular_solve(l, matmul(w, s), true, false));
        return std::vector<Var>{neg(mul(swl, Var(tril)))};
    };
    r.jvp = [l, tril](const std::vector<Var>& t, const Var& s) {
        Var ldot = mul(t[0], Var(tril));
        Var ldot_linv = mT(triangular_solve(l, mT(ldot), true, true));  // L̇ L⁻¹
        Var m = matmul(s, ldot_linv);
        return neg(add(m, mT(m)));
    };
    return record_op("cholesky_inverse", std::move(value), {l}, std::move(r));
}

}  // namespace postr
