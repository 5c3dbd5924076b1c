// Test tolerances, each with its reason. Compare with |a − b| ≤ atol + rtol·|b|.
#pragma once

namespace postr::test {

// Elementwise f64 against a reference computed with the same formula: a few ulp of different
// libm implementations (CPU vs CUDA) or of FMA contraction.
inline constexpr double kRtolF64 = 1e-13;
inline constexpr double kAtolF64 = 1e-14;
// Elementwise f32: about 4 ulp (2^-23 ≈ 1.2e-7) for transcendental functions.
inline constexpr double kRtolF32 = 5e-7;
inline constexpr double kAtolF32 = 1e-7;

// Sums, GEMMs and factorizations of n terms: rounding grows like n·ε in the worst case and like
// √n·ε typically; we allow n·ε relative to the sum of absolute terms.
inline double sum_tolerance(double n, double eps, double abs_sum) { return n * eps * abs_sum; }

inline constexpr double kEpsF32 = 1.1920929e-7;
inline constexpr double kEpsF64 = 2.220446049250313e-16;

}  // namespace postr::test
