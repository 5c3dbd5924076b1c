// Running mean and covariance of a stream of D-vectors (SG-MCMC draws, SWAG iterates, ensemble
// members) without storing them: Welford's update for single vectors, Chan, Golub & LeVeque's
// pairwise combination for batches [B, D] and for merging two accumulators (e.g. per-chain or
// per-device ones).
//
// Numerical stability. Welford's update alone loses accuracy when the data sit far from zero
// relative to their spread (offset/σ = 1e8 gave a 4e-9 relative error in the variance of 2,000
// f64 draws, because the running mean is rounded to ulp(offset) at every step); the naive Σx²,
// Σx formula loses everything. So the accumulator also shifts: it keeps the moments of x − c,
// with c the first vector it sees (Chan, Golub & LeVeque 1983, "shifted data"), and x − c is
// exact when x and c are within a factor 2 of each other. Then the f64 results agree with a
// two-pass computation to ~1e-13 relative even at an offset of 1e8.
//
// Two variants: diagonal (variances [D], O(D) per update) and dense (covariance [D, D], O(D²)
// per update through one gemm). Tensor ops only: CPU and CUDA, f32 and f64.
#pragma once

#include <cstdint>

#include "postr/core/tensor.h"

namespace postr::inference {

class RunningMoments {
  public:
    enum class Kind { diagonal, dense };

    // An empty accumulator over D ≥ 1 dimensions, for tensors of `dtype` (f32/f64) on `device`.
    // Throws postr::Error for D < 1 or a non-floating dtype.
    RunningMoments(std::int64_t dim, Kind kind, DType dtype = DType::f64,
                   Device device = Device::cpu());

    // Adds one vector x [D] (Welford) or a batch x [B, D] (its two-pass moments combined with
    // Chan's formula; B = 0 is a no-op). x of the accumulator's dtype and device. Throws
    // postr::Error on another shape, dtype or device, or non-finite values.
    void update(const Tensor& x);
    // Combines `other` (same D, kind, dtype and device) into this accumulator: the result is
    // that of one accumulator fed both streams (up to rounding). Throws postr::Error otherwise.
    void merge(const RunningMoments& other);

    std::int64_t count() const { return count_; }
    std::int64_t dim() const { return dim_; }
    Kind kind() const { return kind_; }
    // Sample mean [D]. Throws postr::Error when count() = 0.
    Tensor mean() const;
    // Σ (x − x̄)² / (count − correction) [D], for both kinds (correction 1: unbiased, 0: the
    // maximum-likelihood estimate). Throws postr::Error when count() ≤ correction.
    Tensor variance(std::int64_t correction = 1) const;
    // Σ (x − x̄)(x − x̄)ᵀ / (count − correction) [D, D]; dense kind only. Throws postr::Error for
    // the diagonal kind or count() ≤ correction.
    Tensor covariance(std::int64_t correction = 1) const;

  private:
    // Combines moments (n_b, mean_b, m2_b) of shifted data x − shift_ into this accumulator.
    void combine(std::int64_t count_b, const Tensor& mean_b, const Tensor& m2_b);

    std::int64_t dim_;
    Kind kind_;
    std::int64_t count_ = 0;
    Tensor shift_;  // c [D]: the first vector seen (undefined while count_ = 0)
    Tensor mean_;   // mean of x − c [D]
    Tensor m2_;  // Σ (x − x̄)² [D] (diagonal) or Σ (x − x̄)(x − x̄)ᵀ [D, D] (dense)
    Tensor delta_;  // [D] workspace
};

}  // namespace postr::inference
