// Shared pieces of the derivative rules (internal to autodiff/rules).
#pragma once

#include <vector>

#include "postr/autodiff/ops.h"
#include "postr/autodiff/record.h"
#include "postr/core/error.h"

namespace postr::rules {

// Leading batch dims of a cotangent or tangent `t` for a value of rank `rank` (0 or 1).
inline int batch_of(const Var& t, int rank) { return t.dim() - rank; }

// Shape of `t`'s batch dims followed by `shape`.
inline Shape with_batch(const Var& t, int batch, const Shape& shape) {
    Shape s(t.shape().begin(), t.shape().begin() + batch);
    s.insert(s.end(), shape.begin(), shape.end());
    return s;
}

// Inserts size-1 dims after the batch dims so that t's per-item rank becomes `rank`, so it
// broadcasts against values of that rank from the right.
inline Var lift(const Var& t, int batch, int rank) {
    int have = t.dim() - batch;
    if (have >= rank) return t;
    Shape s(t.shape().begin(), t.shape().begin() + batch);
    s.insert(s.end(), static_cast<std::size_t>(rank - have), 1);
    s.insert(s.end(), t.shape().begin() + batch, t.shape().end());
    return reshape(t, s);
}

// A constant zero tensor of `t`'s batch dims followed by `shape`, in t's dtype and device.
inline Var zeros_with_batch(const Var& t, int batch, const Shape& shape) {
    return Var(Tensor::zeros(with_batch(t, batch, shape), t.dtype(), t.device()));
}

inline Var scalar_like(const Var& t, double v) {
    return Var(Tensor::scalar(v, t.dtype(), t.device()));
}

// t expanded to its batch dims followed by `shape` (a no-op when it already has that shape).
inline Var expand_to(const Var& t, int batch, const Shape& shape) {
    Shape full = with_batch(t, batch, shape);
    return t.shape() == full ? t : expand(t, full);
}

// a + b where either may be undefined (an absent tangent term).
inline Var add_terms(const Var& a, const Var& b) {
    if (!a.defined()) return b;
    if (!b.defined()) return a;
    return add(a, b);
}

// `dim` of a rank-`rank` value, counted from the end (so it holds for batched cotangents).
inline int from_end(const char* op, int dim, int rank) { return wrap_dim(op, dim, rank) - rank; }

}  // namespace postr::rules
