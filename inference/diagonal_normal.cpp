// Diagonal normal (see diagonal_normal.h): tensor ops only, so CPU and CUDA, f32 and f64.
#include "postr/inference/diagonal_normal.h"

#include <cmath>
#include <numbers>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference {

void check_diagonal_normal(const char* op, const DiagonalNormal& normal) {
    check_defined(op, "mean", normal.mean);
    check_defined(op, "sd", normal.sd);
    check_floating(op, "mean", normal.mean);
    check_rank(op, "mean", normal.mean, 1);
    check_same_shape(op, "sd", normal.sd, "mean", normal.mean);
    check_same_dtype(op, "sd", normal.sd, "mean", normal.mean);
    check_same_device(op, "sd", normal.sd, "mean", normal.mean);
    POSTR_CHECK(normal.mean.numel() > 0, op,
                ": mean is empty: [0]. Pass a distribution over at least one parameter.");
    check_finite(op, "mean", normal.mean);
    check_finite(op, "sd", normal.sd);
    const double smallest = min(normal.sd).item();
    POSTR_CHECK(smallest > 0.0, op, ": sd must be > 0 everywhere, got a minimum of ", smallest,
                ". Pass standard deviations, not log standard deviations or variances.");
}

DiagonalNormal DiagonalNormal::from_precision(const Tensor& mean, const Tensor& precision) {
    const char* op = "DiagonalNormal::from_precision";
    check_defined(op, "precision", precision);
    check_floating(op, "precision", precision);
    check_finite(op, "precision", precision);
    POSTR_CHECK(precision.numel() == 0 || min(precision).item() > 0.0, op,
                ": precision must be > 0 everywhere, got a minimum of ",
                precision.numel() == 0 ? 0.0 : min(precision).item(),
                ". Add the prior precision (or jitter) before converting.");
    DiagonalNormal normal{mean, rsqrt(precision)};
    check_diagonal_normal(op, normal);
    return normal;
}

Tensor DiagonalNormal::log_density(const Tensor& x) const {
    const char* op = "DiagonalNormal::log_density";
    check_diagonal_normal(op, *this);
    check_defined(op, "x", x);
    check_same_dtype(op, "x", x, "mean", mean);
    check_same_device(op, "x", x, "mean", mean);
    POSTR_CHECK(x.dim() >= 1 && x.size(-1) == mean.size(0), op, ": x is ", to_string(x.shape()),
                " but the distribution is over D = ", mean.size(0),
                " parameters. Pass x as [..., D].");
    const std::int64_t dim = mean.size(0);
    // z = (x − μ)/σ [..., D], broadcast over x's leading dims.
    const Tensor z = div(sub(x, mean), sd);
    const double constant = 0.5 * static_cast<double>(dim) * std::log(2.0 * std::numbers::pi);
    // −Σ log σ − (D/2) log 2π is one number for every x.
    const double log_normaliser = -sum(log(sd)).item() - constant;
    return add(mul(sum(square(z), {-1}), -0.5), log_normaliser);
}

Tensor DiagonalNormal::sample(std::int64_t n, Generator& gen) const {
    const char* op = "DiagonalNormal::sample";
    check_diagonal_normal(op, *this);
    POSTR_CHECK(n >= 0, op, ": n must be >= 0, got ", n, ". Ask for a number of samples.");
    const std::int64_t dim = mean.size(0);
    Tensor draws = normal({n, dim}, gen, 0.0, 1.0, mean.dtype(), mean.device());  // ε [n, D]
    return add(mul(draws, sd), mean);
}

Tensor DiagonalNormal::variance() const {
    check_diagonal_normal("DiagonalNormal::variance", *this);
    return square(sd);
}

}  // namespace postr::inference
