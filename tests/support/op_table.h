// The op table (STYLE 3.6): each differentiable op described once, with inputs and a domain;
// the generic suites in tests/autodiff run every check on every entry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "postr/autodiff/gradcheck.h"
#include "postr/autodiff/ops.h"

namespace postr::test {

struct OpEntry {
    std::string name;   // as in kDifferentiableOps
    std::string label;  // what this entry exercises (shapes, options)
    std::vector<Shape> shapes;
    MultiVarFn fn;
    // Inputs are uniform on [low, high] with |x| >= min_abs (to stay 10h away from kinks and
    // poles).
    double low = -2.0, high = 2.0, min_abs = 0.0;
    bool forward = true;  // has a JVP rule
};

const std::vector<OpEntry>& op_table();

// Entries of the conv/pool/batch-norm and linear-algebra families (op_table_<family>.cpp).
void add_conv_entries(std::vector<OpEntry>& table);
void add_linalg_entries(std::vector<OpEntry>& table);

// f64 inputs for an entry, seeded, on `device`.
std::vector<Tensor> make_inputs(const OpEntry& e, std::uint64_t seed,
                                Device device = Device::cpu());

}  // namespace postr::test
