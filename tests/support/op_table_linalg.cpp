// Op-table entries of the linear-algebra family. Inputs are unconstrained; each function maps
// them into the op's domain with constants (SPD as sym(x) + 3I or B·Bᵀ + nI, triangular factors
// as x + 3I), so finite differences stay inside it. Factors are passed whole: the kernels read
// one triangle only, and the rules must give the other a zero cotangent.
#include "tests/support/op_table.h"

namespace postr::test {
namespace {

using V = std::vector<Var>;

Var sym(const Var& a) { return mul(add(a, transpose(a, -1, -2)), 0.5); }

// x + s·I (broadcast over x's batch dims).
Var shift(const Var& x, double s) { return add(x, Var(mul(eye(x.size(-1), DType::f64), s))); }

// B·Bᵀ + n·I, symmetrized: SPD with a bounded condition number for B in [-2, 2].
Var spd(const Var& b) {
    return sym(shift(matmul(b, transpose(b, -1, -2)), static_cast<double>(b.size(-1))));
}

}  // namespace

void add_linalg_entries(std::vector<OpEntry>& t) {
    // cholesky: sym(x) + 3I is diagonally dominant for |x| ≤ 0.5.
    t.push_back({"cholesky",
                 "sym(a) + 3I, [3, 3]",
                 {{3, 3}},
                 [](const V& x) { return cholesky(shift(sym(x[0]), 3.0)); },
                 -0.5,
                 0.5});
    t.push_back({"cholesky",
                 "sym(a) + 3I, batched [2, 3, 3]",
                 {{2, 3, 3}},
                 [](const V& x) { return cholesky(shift(sym(x[0]), 3.0)); },
                 -0.5,
                 0.5});
    t.push_back({"cholesky", "B·Bᵀ + 4I, [4, 4]", {{4, 4}}, [](const V& x) {
                     return cholesky(spd(x[0]));
                 }});

    // triangular_solve: a + 3I has its diagonal in [2, 4]; the other triangle is ignored.
    t.push_back({"triangular_solve",
                 "lower, [3, 3] \\ [3, 2]",
                 {{3, 3}, {3, 2}},
                 [](const V& x) { return triangular_solve(shift(x[0], 3.0), x[1]); },
                 -1,
                 1});
    t.push_back({"triangular_solve",
                 "upper, transposed, [3, 3] \\ [3, 2]",
                 {{3, 3}, {3, 2}},
                 [](const V& x) { return triangular_solve(shift(x[0], 3.0), x[1], false, true); },
                 -1,
                 1});
    t.push_back({"triangular_solve",
                 "lower, unit diagonal, transposed, [4, 4] \\ [4, 1]",
                 {{4, 4}, {4, 1}},
                 [](const V& x) { return triangular_solve(x[0], x[1], true, true, true); },
                 -1,
                 1});
    t.push_back({"triangular_solve",
                 "upper, unit diagonal, [3, 3] \\ [3, 2]",
                 {{3, 3}, {3, 2}},
                 [](const V& x) { return triangular_solve(x[0], x[1], false, false, true); },
                 -1,
                 1});
    t.push_back({"triangular_solve",
                 "batched a [2, 3, 3] \\ broadcast b [3, 2]",
                 {{2, 3, 3}, {3, 2}},
                 [](const V& x) { return triangular_solve(shift(x[0], 3.0), x[1]); },
                 -1,
                 1});
    t.push_back({"triangular_solve",
                 "upper, broadcast a [3, 3] \\ batched b [2, 3, 2]",
                 {{3, 3}, {2, 3, 2}},
                 [](const V& x) { return triangular_solve(shift(x[0], 3.0), x[1], false); },
                 -1,
                 1});

    // cholesky_solve(b, l): l = x + 3I, read as its lower triangle.
    t.push_back({"cholesky_solve",
                 "[3, 2] with l [3, 3]",
                 {{3, 2}, {3, 3}},
                 [](const V& x) { return cholesky_solve(x[0], shift(x[1], 3.0)); },
                 -1,
                 1});
    t.push_back({"cholesky_solve",
                 "broadcast b [3, 1] with batched l [2, 3, 3]",
                 {{3, 1}, {2, 3, 3}},
                 [](const V& x) { return cholesky_solve(x[0], shift(x[1], 3.0)); },
                 -1,
                 1});
    t.push_back({"cholesky_solve",
                 "batched b [2, 3, 2] with l [3, 3]",
                 {{2, 3, 2}, {3, 3}},
                 [](const V& x) { return cholesky_solve(x[0], shift(x[1], 3.0)); },
                 -1,
                 1});
    t.push_back({"cholesky_solve",
                 "b [4, 2] with l = cholesky(B·Bᵀ + 4I)",
                 {{4, 2}, {4, 4}},
                 [](const V& x) { return cholesky_solve(x[0], cholesky(spd(x[1]))); }});

    // cholesky_logdet reads only the diagonal, kept positive by the input range.
    t.push_back({"cholesky_logdet",
                 "[3, 3], positive diagonal",
                 {{3, 3}},
                 [](const V& x) { return cholesky_logdet(x[0]); },
                 0.5,
                 2});
    t.push_back({"cholesky_logdet",
                 "batched [2, 3, 3], positive diagonal",
                 {{2, 3, 3}},
                 [](const V& x) { return cholesky_logdet(x[0]); },
                 0.5,
                 2});
    t.push_back({"cholesky_logdet", "of cholesky(B·Bᵀ + 4I)", {{4, 4}}, [](const V& x) {
                     return cholesky_logdet(cholesky(spd(x[0])));
                 }});

    // cholesky_inverse: l = x + 3I, read as its lower triangle.
    t.push_back({"cholesky_inverse",
                 "l [3, 3]",
                 {{3, 3}},
                 [](const V& x) { return cholesky_inverse(shift(x[0], 3.0)); },
                 -1,
                 1});
    t.push_back({"cholesky_inverse",
                 "batched l [2, 3, 3]",
                 {{2, 3, 3}},
                 [](const V& x) { return cholesky_inverse(shift(x[0], 3.0)); },
                 -1,
                 1});
    t.push_back({"cholesky_inverse", "of cholesky(B·Bᵀ + 4I)", {{4, 4}}, [](const V& x) {
                     return cholesky_inverse(cholesky(spd(x[0])));
                 }});
}

}  // namespace postr::test
