#include "postr/inference/jittered_cholesky.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference {
namespace {

double mean_diagonal(const Tensor& a) {
    const Tensor c = a.contiguous();
    const std::int64_t n = c.size(0);
    return mean(c.as_strided({n}, {n + 1}, c.offset())).item();
}

}  // namespace

JitteredCholesky jittered_cholesky(const Tensor& a, double max_jitter, const char* op) {
    POSTR_CHECK(max_jitter >= 0 && std::isfinite(max_jitter), op,
                ": max_jitter must be finite and ≥ 0: got ", max_jitter);
    try {
        return {cholesky(a), 0.0, 1};
    } catch (const NotPositiveDefinite& first) {
        const std::int64_t n = a.size(0);
        std::ostringstream what;
        what << op << ": the " << n << "×" << n
             << " posterior precision is not positive definite (leading minor " << first.minor()
             << " fails)";
        if (max_jitter == 0) {
            what << ". Check the curvature for NaN or a negative-curvature Hessian, raise the "
                    "prior precision, or allow a jitter retry (max_jitter)";
            throw NotPositiveDefinite(what.str(), first.minor());
        }
        // The mean diagonal sets the scale (a jitter below rounding of the diagonal would be
        // a no-op); a non-finite diagonal cannot be repaired by jitter.
        const double scale = mean_diagonal(a);
        POSTR_CHECK(std::isfinite(scale), what.str(),
                    ", and its diagonal is not finite. Check "
                    "the curvature accumulation for NaN or inf");
        const Tensor identity = eye(n, a.dtype(), a.device());
        int attempts = 1;
        std::int64_t minor = first.minor();
        for (double jitter = 1e-10 * std::max(std::abs(scale), 1e-300); jitter <= max_jitter;
             jitter *= 10) {
            ++attempts;
            try {
                return {cholesky(add(a, mul(identity, jitter))), jitter, attempts};
            } catch (const NotPositiveDefinite& again) {
                minor = again.minor();
            }
        }
        what << "; retries with a jitter up to " << max_jitter << " failed too (leading minor "
             << minor << "). Raise max_jitter or the prior precision, or check the curvature";
        throw NotPositiveDefinite(what.str(), minor);
    }
}

}  // namespace postr::inference
