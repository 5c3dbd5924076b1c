// The diagonal (mean-field) normal N(μ, diag(σ²)) over the flat parameter vector: its
// log-density, batched over leading dims, and reparameterised sampling μ + σ ε. The
// distribution every diagonal posterior here reports (diagonal Laplace, diagonal VI, SWAG's
// diagonal part); parameterised by the standard deviation σ, with a helper from the precision
// 1/σ² because that is what diagonal Laplace and EKF states hold.
#pragma once

#include <cstdint>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"

namespace postr::inference {

struct DiagonalNormal {
    Tensor mean;  // μ [D]
    Tensor sd;    // σ [D], > 0

    // σ = 1/√precision. mean, precision [D], precision > 0 and finite. Throws postr::Error like
    // the constructor check below.
    static DiagonalNormal from_precision(const Tensor& mean, const Tensor& precision);

    // Σ_d log N(x_d | μ_d, σ_d²) = −½ Σ_d ((x_d − μ_d)/σ_d)² − Σ_d log σ_d − (D/2) log 2π.
    // x [..., D] → [...] (a rank-0 tensor for x [D]); x of mean's dtype and device.
    Tensor log_density(const Tensor& x) const;
    // n draws μ + σ ε, ε ~ N(0, I) from gen (n·D normals, row by row): → [n, D]. n ≥ 0.
    Tensor sample(std::int64_t n, Generator& gen) const;
    // σ² [D].
    Tensor variance() const;
};

// Throws postr::Error naming `op` unless mean and sd are defined, rank 1 of the same length
// D ≥ 1, floating, of one dtype and device, mean finite and sd finite and > 0. Called by every
// method above (one host read-back of min(sd) and the finiteness flags).
void check_diagonal_normal(const char* op, const DiagonalNormal& normal);

}  // namespace postr::inference
