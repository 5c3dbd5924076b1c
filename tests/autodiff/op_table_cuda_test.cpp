// CPU/CUDA parity of every op-table entry: the value, a VJP and a JVP computed on the GPU
// against the same computed on the CPU, in f64. Kernels differ in summation order and libm, so
// agreement is to rounding: 1e-12 relative (sums of at most ~10² terms at ε ≈ 2e-16).
#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "tests/support/op_table.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

struct Modes {
    Tensor value, jv;
    std::vector<Tensor> grads;
};

Modes run(const test::OpEntry& e, Device device) {
    std::vector<Tensor> xs = test::make_inputs(e, 1, device);
    std::vector<Var> vars;
    for (std::size_t i = 0; i < xs.size(); ++i) vars.emplace_back(xs[i], true);
    Var y = e.fn(vars);
    Modes r;
    r.value = y.value().to(Device::cpu());
    Tensor u = test::random_tensor(y.shape(), DType::f64, 2, -1, 1, device);
    for (const Var& g : grad({y}, vars, {u})) r.grads.push_back(g.value().to(Device::cpu()));
    if (e.forward) {
        std::vector<Var> dual;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            Var v(xs[i]);
            v.set_tangent(test::random_tensor(xs[i].shape(), DType::f64, 3 + i, -1, 1, device));
            dual.push_back(v);
        }
        NoGradGuard no_graph;
        r.jv = e.fn(dual).tangent().value().to(Device::cpu());
    }
    return r;
}

class OpTableCuda : public ::testing::TestWithParam<std::size_t> {};

TEST_P(OpTableCuda, ValueVjpAndJvpMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const test::OpEntry& e = test::op_table()[GetParam()];
    SCOPED_TRACE(e.name + ": " + e.label);
    Modes cpu = run(e, Device::cpu()), gpu = run(e, Device::cuda());
    EXPECT_TRUE(test::all_close(gpu.value, cpu.value, 1e-12, 1e-13));
    for (std::size_t i = 0; i < cpu.grads.size(); ++i)
        EXPECT_TRUE(test::all_close(gpu.grads[i], cpu.grads[i], 1e-12, 1e-13)) << "input " << i;
    if (e.forward) {
        EXPECT_TRUE(test::all_close(gpu.jv, cpu.jv, 1e-12, 1e-13));
    }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTableCuda,
                         ::testing::Range<std::size_t>(0, test::op_table().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                             return test::op_table()[info.param].name + "_" +
                                    std::to_string(info.param);
                         });

}  // namespace
}  // namespace postr
