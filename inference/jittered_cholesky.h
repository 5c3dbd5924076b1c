// Cholesky factorization of a posterior precision that may be numerically indefinite (a GGN
// accumulated in f32, a Hessian away from the mode). By default a failure is an error naming
// the failing leading minor; with an opt-in jitter budget the factorization is retried with
// δ·I added, δ growing tenfold from 1e-10 × the mean diagonal up to the budget, and the
// jitter that worked is reported, so a caller never gets a silently regularised answer.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"

namespace postr::inference {

struct JitteredCholesky {
    Tensor factor;        // lower L with L Lᵀ = A + jitter·I
    double jitter = 0.0;  // 0 when A itself factorized
    int attempts = 1;     // factorizations tried
};

// a: symmetric [n, n] (lower triangle read). max_jitter: the largest δ to try, absolute (0: no
// retry). Throws NotPositiveDefinite naming `op`, the failing minor and, after retries, the
// largest jitter tried and what to do.
JitteredCholesky jittered_cholesky(const Tensor& a, double max_jitter, const char* op);

}  // namespace postr::inference
