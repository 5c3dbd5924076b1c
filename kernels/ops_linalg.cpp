// Public matmul and linear-algebra ops: argument checks, output allocation, device dispatch.
#include <climits>
#include <cstdint>
#include <initializer_list>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/kernels/dispatch.h"
#include "postr/kernels/linalg.h"
#include "postr/kernels/matmul.h"
#include "postr/kernels/ops.h"

namespace postr {
namespace {

// A floating tensor, defined, of at least `min_rank`.
void check_floating_operand(const char* op, const char* name, const Tensor& t, int min_rank) {
    check_defined(op, name, t);
    check_floating(op, name, t);
    check_min_rank(op, name, t, min_rank);
}

// Both operands floating, of one dtype, on one device.
void check_pair(const char* op, const char* name_a, const Tensor& a, int min_rank_a,
                const char* name_b, const Tensor& b, int min_rank_b) {
    check_floating_operand(op, name_a, a, min_rank_a);
    check_floating_operand(op, name_b, b, min_rank_b);
    check_same_dtype(op, name_a, a, name_b, b);
    check_same_device(op, name_a, a, name_b, b);
}

// BLAS and LAPACK index with 32-bit ints.
void check_blas_dims(const char* op, const Tensor& t) {
    for (int d = t.dim() - 2; d < t.dim(); ++d)
        POSTR_CHECK(t.size(d) <= INT_MAX, op,
                    ": matrix too large for 32-bit BLAS indices: ", to_string(t.shape()),
                    ". Split the matrix into blocks below 2^31 per dim");
}

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

Shape concat_shape(Shape batch, std::initializer_list<std::int64_t> tail) {
    batch.insert(batch.end(), tail);
    return batch;
}

void gemm_dispatch(const char* op, const Tensor& a, const Tensor& b, const Tensor& c, double alpha,
                   double beta) {
    check_blas_dims(op, a);
    check_blas_dims(op, b);
    detail::dispatch(
        op, c, [&] { cpu::gemm(a, b, c, alpha, beta); }, [&] { cuda::gemm(a, b, c, alpha, beta); });
}

}  // namespace

// ============================== matmul ==============================

Tensor matmul(const Tensor& a, const Tensor& b) {
    check_pair("matmul", "a", a, 1, "b", b, 1);
    // A rank-1 a is a row [1, K] and a rank-1 b a column [K, 1]; that dim is dropped after.
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    POSTR_CHECK(a2.size(-1) == b2.size(-2), "matmul: inner dimensions differ: a is ",
                to_string(a.shape()), ", b is ", to_string(b.shape()),
                ". Transpose b or check the layer sizes");
    const std::int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
    const Shape batch = broadcast_shapes("matmul", batch_of(a2.shape()), batch_of(b2.shape()));
    Tensor out = Tensor::empty(concat_shape(batch, {m, n}), a.dtype(), a.device());
    gemm_dispatch("matmul", a2.expand(concat_shape(batch, {m, k})),
                  b2.expand(concat_shape(batch, {k, n})), out, 1.0, 0.0);
    if (a.dim() == 1) out = out.squeeze(-2);
    if (b.dim() == 1) out = out.squeeze(-1);
    return out;
}

void gemm_(Tensor& c, const Tensor& a, const Tensor& b, double alpha, double beta) {
    check_pair("gemm_", "a", a, 2, "b", b, 2);
    check_floating_operand("gemm_", "c", c, 2);
    check_rank("gemm_", "a", a, 2);
    check_rank("gemm_", "b", b, 2);
    check_rank("gemm_", "c", c, 2);
    check_same_dtype("gemm_", "a", a, "c", c);
    check_same_device("gemm_", "a", a, "c", c);
    POSTR_CHECK(a.size(1) == b.size(0), "gemm_: inner dimensions differ: a is ",
                to_string(a.shape()), ", b is ", to_string(b.shape()),
                ". Transpose b or check the layer sizes");
    POSTR_CHECK(c.size(0) == a.size(0) && c.size(1) == b.size(1),
                "gemm_: c has the wrong shape: c is ", to_string(c.shape()), ", a is ",
                to_string(a.shape()), ", b is ", to_string(b.shape()), ". Pass c of shape [",
                a.size(0), ", ", b.size(1), "]");
    // BLAS forbids the output to overlap an input; a shared buffer is read from a copy.
    const Tensor a_in = a.shares_storage_with(c) ? a.clone() : a;
    const Tensor b_in = b.shares_storage_with(c) ? b.clone() : b;
    gemm_dispatch("gemm_", a_in, b_in, c, alpha, beta);
}

// ============================== linear algebra ==============================

Tensor cholesky(const Tensor& a) {
    check_floating_operand("cholesky", "a", a, 2);
    check_square("cholesky", "a", a);
    check_blas_dims("cholesky", a);
    Tensor l = Tensor::empty(a.shape(), a.dtype(), a.device());
    detail::dispatch(
        "cholesky", a, [&] { cpu::cholesky(a, l); }, [&] { cuda::cholesky(a, l); });
    return l;
}

namespace {

// The right-hand sides b: [..., n, k] copied into a fresh output of the broadcast batch shape,
// and the matrix a: [..., n, n] expanded to that batch, for the in-place solves.
struct SolveOperands {
    Tensor a;
    Tensor x;
};

SolveOperands solve_operands(const char* op, const char* name_a, const Tensor& a, const Tensor& b) {
    check_pair(op, name_a, a, 2, "b", b, 2);
    check_square(op, name_a, a);
    check_blas_dims(op, a);
    check_blas_dims(op, b);
    POSTR_CHECK(a.size(-1) == b.size(-2), op, ": ", name_a, " and b differ in n: ", name_a, " is ",
                to_string(a.shape()), ", b is ", to_string(b.shape()),
                ". b must be [..., n, k] for ", name_a, " [..., n, n]");
    const std::int64_t n = a.size(-1), k = b.size(-1);
    const Shape batch = broadcast_shapes(op, batch_of(a.shape()), batch_of(b.shape()));
    Tensor x = Tensor::empty(concat_shape(batch, {n, k}), b.dtype(), b.device());
    x.copy_(b);
    return {a.expand(concat_shape(batch, {n, n})), x};
}

}  // namespace

Tensor cholesky_solve(const Tensor& b, const Tensor& l) {
    const SolveOperands s = solve_operands("cholesky_solve", "l", l, b);
    detail::dispatch(
        "cholesky_solve", s.x, [&] { cpu::cholesky_solve(s.x, s.a); },
        [&] { cuda::cholesky_solve(s.x, s.a); });
    return s.x;
}

Tensor triangular_solve(const Tensor& a, const Tensor& b, bool lower, bool transpose,
                        bool unit_diagonal) {
    const SolveOperands s = solve_operands("triangular_solve", "a", a, b);
    detail::dispatch(
        "triangular_solve", s.x,
        [&] { cpu::triangular_solve(s.a, s.x, lower, transpose, unit_diagonal); },
        [&] { cuda::triangular_solve(s.a, s.x, lower, transpose, unit_diagonal); });
    return s.x;
}

void syrk_(Tensor& c, const Tensor& a, double alpha, double beta) {
    check_pair("syrk_", "c", c, 2, "a", a, 2);
    check_rank("syrk_", "c", c, 2);
    check_rank("syrk_", "a", a, 2);
    check_square("syrk_", "c", c);
    check_blas_dims("syrk_", a);
    POSTR_CHECK(a.size(1) == c.size(0), "syrk_: a's columns differ from c's size: a is ",
                to_string(a.shape()), ", c is ", to_string(c.shape()),
                ". Pass a: [M, n] for c: [n, n]");
    // BLAS forbids the output to overlap the input; a shared buffer is read from a copy.
    const Tensor a_in = a.shares_storage_with(c) ? a.clone() : a;
    detail::dispatch(
        "syrk_", c, [&] { cpu::syrk(c, a_in, alpha, beta); },
        [&] { cuda::syrk(c, a_in, alpha, beta); });
}

void symmetrize_lower_(Tensor& c) {
    check_floating_operand("symmetrize_lower_", "c", c, 2);
    check_square("symmetrize_lower_", "c", c);
    detail::dispatch(
        "symmetrize_lower_", c, [&] { cpu::symmetrize_lower(c); },
        [&] { cuda::symmetrize_lower(c); });
}

Tensor cholesky_logdet(const Tensor& l) {
    check_floating_operand("cholesky_logdet", "l", l, 2);
    check_square("cholesky_logdet", "l", l);
    Tensor out = Tensor::empty(batch_of(l.shape()), l.dtype(), l.device());
    detail::dispatch(
        "cholesky_logdet", l, [&] { cpu::cholesky_logdet(l, out); },
        [&] { cuda::cholesky_logdet(l, out); });
    return out;
}

Tensor cholesky_inverse(const Tensor& l) {
    check_floating_operand("cholesky_inverse", "l", l, 2);
    check_square("cholesky_inverse", "l", l);
    check_blas_dims("cholesky_inverse", l);
    Tensor out = Tensor::empty(l.shape(), l.dtype(), l.device());
    detail::dispatch(
        "cholesky_inverse", l, [&] { cpu::cholesky_inverse(l, out); },
        [&] { cuda::cholesky_inverse(l, out); });
    return out;
}

EighResult eigh(const Tensor& a) {
    check_floating_operand("eigh", "a", a, 2);
    check_square("eigh", "a", a);
    check_blas_dims("eigh", a);
    const std::int64_t n = a.size(-1);
    EighResult r;
    r.eigenvalues = Tensor::empty(concat_shape(batch_of(a.shape()), {n}), a.dtype(), a.device());
    r.eigenvectors = Tensor::empty(a.shape(), a.dtype(), a.device());
    detail::dispatch(
        "eigh", a, [&] { cpu::eigh(a, r.eigenvalues, r.eigenvectors); },
        [&] { cuda::eigh(a, r.eigenvalues, r.eigenvectors); });
    return r;
}

}  // namespace postr
