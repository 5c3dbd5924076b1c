// Scalar pieces of the reductions and softmax, shared by the CPU loops and the CUDA kernels so
// both devices use the same summation order (where they can) and the same finishing formulas.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "postr/core/host_device.h"

namespace postr::math {

// The cascade: a row is summed in blocks of kSumBlock elements (kSumLanes interleaved lanes,
// then a fixed tree over the lanes), and block sums are combined pairwise (PairwiseSum). The
// error then grows like log2(n)·ε rather than n·ε, and the order depends only on the row length.
inline constexpr std::int64_t kSumBlock = 128;
inline constexpr int kSumLanes = 8;

// Pairwise combination of a stream of block sums by a binary counter: after 2^k pushes the first
// 2^k values form one complete binary tree. Splitting a row into chunks of 2^k blocks, summing
// each chunk with its own PairwiseSum and pushing the chunk sums into another gives bitwise the
// same result as one PairwiseSum over all blocks; that is what makes parallel sums reproducible.
template <class T>
struct PairwiseSum {
    T level[48];  // enough for 2^48 pushes
    std::int64_t count = 0;
    int top = 0;

    POSTR_HD void push(T v) {
        for (std::int64_t c = count; c & 1; c >>= 1) v = level[--top] + v;
        level[top++] = v;
        ++count;
    }
    POSTR_HD T finish() const {
        if (top == 0) return T(0);
        T s = level[top - 1];
        for (int k = top - 2; k >= 0; --k) s = level[k] + s;
        return s;
    }
};

// The sum of f(p[i·stride]) for i in [0, n) with n ≤ kSumBlock, in the fixed lane order.
template <class T, class F>
POSTR_HD inline T block_sum(const T* p, std::int64_t stride, std::int64_t n, F f) {
    T lane[kSumLanes] = {};
    std::int64_t i = 0;
    if (stride == 1) {  // the same order; a separate loop so the compiler can vectorize it
        for (; i + kSumLanes <= n; i += kSumLanes)
            for (int k = 0; k < kSumLanes; ++k) lane[k] += f(p[i + k]);
    } else {
        for (; i + kSumLanes <= n; i += kSumLanes)
            for (int k = 0; k < kSumLanes; ++k) lane[k] += f(p[(i + k) * stride]);
    }
    for (int k = 0; i < n; ++i, ++k) lane[k] += f(p[i * stride]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// The cascade sum of f(p[i·stride]) for i in [0, n).
template <class T, class F>
POSTR_HD inline T cascade_sum(const T* p, std::int64_t stride, std::int64_t n, F f) {
    PairwiseSum<T> acc;
    for (std::int64_t b = 0; b < n; b += kSumBlock)
        acc.push(block_sum(p + b * stride, stride, n - b < kSumBlock ? n - b : kSumBlock, f));
    return acc.finish();
}

template <class T>
POSTR_HD inline bool is_nan(T v) {
    return v != v;  // false for integers
}

// Whether v replaces the running extremum `best`: strictly more extreme, or NaN over a number
// (NaN counts as the extremum and propagates). Strictness keeps the first of equal values.
template <class T>
POSTR_HD inline bool max_takes(T v, T best) {
    return v > best || (is_nan(v) && !is_nan(best));
}
template <class T>
POSTR_HD inline bool min_takes(T v, T best) {
    return v < best || (is_nan(v) && !is_nan(best));
}
// As max_takes/min_takes between two candidates in any order: ties (or two NaNs) go to the
// lower index, so a tree combination finds the first extremum.
template <class T>
POSTR_HD inline bool arg_takes(bool largest, T v, std::int64_t i, T best, std::int64_t best_i) {
    bool more = largest ? max_takes(v, best) : min_takes(v, best);
    bool tie = v == best || (is_nan(v) && is_nan(best));
    return more || (tie && i < best_i);
}

// The element maps applied before summing, each given a per-row parameter p.
struct MapIdentity {
    template <class T>
    POSTR_HD T operator()(T x, T) const {
        return x;
    }
};
struct MapAbs {
    template <class T>
    POSTR_HD T operator()(T x, T) const {
        return std::fabs(x);
    }
};
// (x − mean)², the second pass of var.
struct MapSquaredDeviation {
    template <class T>
    POSTR_HD T operator()(T x, T p) const {
        T d = x - p;
        return d * d;
    }
};
// e^(x − shift), the second pass of logsumexp and the softmax denominator.
struct MapExpShift {
    template <class T>
    POSTR_HD T operator()(T x, T p) const {
        return std::exp(x - p);
    }
};
// (x / scale)², the second pass of the 2-norm; scaling by max |x| avoids overflow/underflow.
struct MapScaledSquare {
    template <class T>
    POSTR_HD T operator()(T x, T p) const {
        T y = x / p;
        return y * y;
    }
};

// The shift used for a row whose maximum is m: m itself when finite, else 0, so that rows of
// −inf (or containing +inf) do not produce −inf − (−inf) = NaN.
template <class T>
POSTR_HD inline T exp_shift(T m) {
    return std::isfinite(m) ? m : T(0);
}
// log Σ e^x from the row maximum m and s = Σ e^(x − exp_shift(m)).
template <class T>
POSTR_HD inline T logsumexp_finish(T m, T s) {
    if (is_nan(m)) return m;
    if (m == std::numeric_limits<T>::infinity()) return m;
    return exp_shift(m) + std::log(s);  // s = 0 for an empty or all −inf row: −inf
}
// The scale of the 2-norm from a = max |x|: a itself when finite and nonzero, else 1.
template <class T>
POSTR_HD inline T norm_scale(T a) {
    return std::isfinite(a) && a > T(0) ? a : T(1);
}
// ‖x‖₂ from a = max |x| and s = Σ (x / norm_scale(a))².
template <class T>
POSTR_HD inline T norm2_finish(T a, T s) {
    if (is_nan(a) || a == std::numeric_limits<T>::infinity()) return a;
    return norm_scale(a) * std::sqrt(s);
}
// Variance from the sum of squared deviations over n elements; NaN when n − correction ≤ 0
// (NumPy returns NaN there too, with a warning).
template <class T>
POSTR_HD inline T var_finish(T ss, std::int64_t n, std::int64_t correction) {
    std::int64_t dof = n - correction;
    return dof > 0 ? ss / T(dof) : std::numeric_limits<T>::quiet_NaN();
}

}  // namespace postr::math
