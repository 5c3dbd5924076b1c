// Checks derivative rules against central finite differences in f64: reverse mode (gradcheck)
// and forward mode (jvpcheck). Public, so users can check their own functions.
//
// Step h = ∛ε·max(1, |x|) ≈ 6e-6·max(1, |x|). Truncation error is O(h²) and rounding error
// O(ε/h), so a well-scaled function is differenced to about ε^(2/3) ≈ 4e-11; the default pass
// rule |a − b| ≤ 1e-8 + 1e-6·|b| leaves room for sums of up to ~10³ terms (each adding about
// ε/h of rounding). Widen per function only with a reason.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "postr/autodiff/var.h"

namespace postr {

using MultiVarFn = std::function<Var(const std::vector<Var>&)>;

struct GradcheckOptions {
    double atol = 1e-8;
    double rtol = 1e-6;
    // Inputs and outputs up to this many elements are checked entry by entry (the full
    // Jacobian); larger ones along `directions` random directions.
    std::int64_t full_limit = 256;
    int directions = 8;
    std::uint64_t seed = 0;
};

struct GradcheckResult {
    bool ok = true;
    std::string message;  // the first mismatch: input, entry, analytic and numeric values
    explicit operator bool() const { return ok; }
};

// Reverse mode: every input's cotangent of f (via grad) against finite differences of f.
// Inputs must be f64 (the check refuses f32: its rounding swamps the differences).
GradcheckResult gradcheck(const MultiVarFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
// Forward mode: J v (via jvp, every input carrying a tangent) against finite differences.
GradcheckResult jvpcheck(const MultiVarFn& f, const std::vector<Tensor>& inputs,
                         const GradcheckOptions& options = {});

}  // namespace postr
