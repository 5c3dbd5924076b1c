#include "postr/inference/golden_section.h"

#include <cmath>

#include "postr/core/error.h"

namespace postr::inference {

double maximise_on_log_scale(const std::function<double(double)>& f, double low, double high,
                             const char* op, double tolerance) {
    POSTR_CHECK(low > 0 && high > low && std::isfinite(high), op,
                ": needs 0 < low < high < ∞: got [", low, ", ", high,
                "]. Pass the range to search");
    auto g = [&](double log_x) { return f(std::exp(log_x)); };
    const double ratio = (std::sqrt(5.0) - 1) / 2;
    double a = std::log(low), b = std::log(high);
    double c = b - ratio * (b - a), d = a + ratio * (b - a);
    double gc = g(c), gd = g(d);
    while (b - a > tolerance) {
        if (gc > gd) {
            b = d;
            d = c;
            gd = gc;
            c = b - ratio * (b - a);
            gc = g(c);
        } else {
            a = c;
            c = d;
            gc = gd;
            d = a + ratio * (b - a);
            gd = g(d);
        }
    }
    const double best = std::exp(0.5 * (a + b));
    f(best);
    return best;
}

}  // namespace postr::inference
