// The generic suites over the op table: every entry gets gradcheck and jvpcheck (contiguous and
// non-contiguous inputs), the adjoint identity between its two modes, and batched cotangents
// and tangents checked against one-at-a-time passes.
#include "tests/support/op_table.h"

#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using test::OpEntry;

class OpTable : public ::testing::TestWithParam<std::size_t> {
  protected:
    const OpEntry& entry() const { return test::op_table()[GetParam()]; }
    std::vector<Tensor> inputs(std::uint64_t seed = 1) const {
        return test::make_inputs(entry(), seed);
    }
};

std::string entry_name(const ::testing::TestParamInfo<std::size_t>& info) {
    std::string s = test::op_table()[info.param].name + "_" + std::to_string(info.param);
    return s;
}

// Same values, other layouts: transposed for matrices, every-other-element otherwise.
std::vector<Tensor> relayout(const std::vector<Tensor>& xs) {
    std::vector<Tensor> out;
    for (const Tensor& x : xs)
        out.push_back(x.dim() >= 2 ? test::transposed_copy(x) : test::strided_copy(x));
    return out;
}

// Runs the entry with tangents on every input (batched when the tangents are [K, ...]).
Tensor jvp_all(const OpEntry& e, const std::vector<Tensor>& xs, const std::vector<Tensor>& vs) {
    std::vector<Var> vars;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        Var v(xs[i]);
        v.set_tangent(vs[i]);
        vars.push_back(v);
    }
    NoGradGuard no_graph;
    Var y = e.fn(vars);
    return y.tangent().value();
}

// Cotangents of every input for cotangent u of the output (batched when u is [K, ...]).
std::vector<Tensor> vjp_all(const OpEntry& e, const std::vector<Tensor>& xs, const Tensor& u) {
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.emplace_back(x, true);
    Var y = e.fn(vars);
    std::vector<Tensor> out;
    for (const Var& g : grad({y}, vars, {u})) out.push_back(g.value());
    return out;
}

Shape batched(std::int64_t k, const Shape& s) {
    Shape out = s;
    out.insert(out.begin(), k);
    return out;
}

TEST_P(OpTable, GradcheckPasses) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    auto r = gradcheck(entry().fn, inputs());
    EXPECT_TRUE(r.ok) << r.message;
}

TEST_P(OpTable, GradcheckPassesOnNonContiguousInputs) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    std::vector<Tensor> xs = relayout(inputs(2));
    // gradcheck copies its inputs; run the op itself on the strided layout too.
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.emplace_back(x, true);
    Var y = entry().fn(vars);
    EXPECT_TRUE(test::all_close(y.value(), entry().fn({xs.begin(), xs.end()}).value(), 0, 0));
    std::vector<Tensor> contiguous;
    for (const Tensor& x : xs) contiguous.push_back(x.contiguous());
    Tensor u = test::random_tensor(y.shape(), DType::f64, 3);
    std::vector<Tensor> strided_grads = vjp_all(entry(), xs, u);
    std::vector<Tensor> dense_grads = vjp_all(entry(), contiguous, u);
    for (std::size_t i = 0; i < xs.size(); ++i)
        EXPECT_TRUE(test::all_close(strided_grads[i], dense_grads[i], 1e-14, 1e-14))
            << "input " << i;
    auto r = gradcheck(entry().fn, xs);
    EXPECT_TRUE(r.ok) << r.message;
}

TEST_P(OpTable, JvpcheckPasses) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    if (!entry().forward) GTEST_SKIP() << "no forward rule";
    auto r = jvpcheck(entry().fn, inputs());
    EXPECT_TRUE(r.ok) << r.message;
}

// ⟨u, J v⟩ (forward mode) = Σᵢ ⟨(Jᵀu)ᵢ, vᵢ⟩ (reverse mode): independent of finite differences
// and sharp to rounding (about 1e-14 relative for these sizes; 1e-12 allows sums of 10² terms).
TEST_P(OpTable, AdjointIdentityHolds) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    std::vector<Tensor> xs = inputs(4);
    std::vector<Tensor> vs;
    for (std::size_t i = 0; i < xs.size(); ++i)
        vs.push_back(test::random_tensor(xs[i].shape(), DType::f64, 10 + i));
    Tensor jv = jvp_all(entry(), xs, vs);
    Tensor u = test::random_tensor(jv.shape(), DType::f64, 5);
    std::vector<Tensor> ju = vjp_all(entry(), xs, u);
    double forward = sum(mul(u, jv)).item(), reverse = 0, scale = sum(abs(mul(u, jv))).item();
    for (std::size_t i = 0; i < xs.size(); ++i) {
        reverse += sum(mul(ju[i], vs[i])).item();
        scale += sum(abs(mul(ju[i], vs[i]))).item();
    }
    EXPECT_NEAR(forward, reverse, 1e-12 * scale + 1e-300);
}

// K cotangents pushed through the graph in one pass equal K separate passes.
TEST_P(OpTable, BatchedVjpEqualsSingleVjps) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    const std::int64_t k = 3;
    std::vector<Tensor> xs = inputs(6);
    Shape out_shape = entry().fn({xs.begin(), xs.end()}).shape();
    Tensor us = test::random_tensor(batched(k, out_shape), DType::f64, 7);
    std::vector<Tensor> together = vjp_all(entry(), xs, us);
    for (std::int64_t j = 0; j < k; ++j) {
        std::vector<Tensor> alone = vjp_all(entry(), xs, us[j]);
        for (std::size_t i = 0; i < xs.size(); ++i) {
            ASSERT_EQ(together[i].shape(), batched(k, xs[i].shape())) << "input " << i;
            EXPECT_TRUE(test::all_close(together[i][j], alone[i], 1e-13, 1e-14))
                << "input " << i << ", cotangent " << j;
        }
    }
}

TEST_P(OpTable, BatchedJvpEqualsSingleJvps) {
    SCOPED_TRACE(entry().name + ": " + entry().label);
    if (!entry().forward) GTEST_SKIP() << "no forward rule";
    const std::int64_t k = 3;
    std::vector<Tensor> xs = inputs(8), vs;
    for (std::size_t i = 0; i < xs.size(); ++i)
        vs.push_back(test::random_tensor(batched(k, xs[i].shape()), DType::f64, 20 + i));
    Tensor together = jvp_all(entry(), xs, vs);
    for (std::int64_t j = 0; j < k; ++j) {
        std::vector<Tensor> single;
        for (const Tensor& v : vs) single.push_back(v[j]);
        EXPECT_TRUE(test::all_close(together[j], jvp_all(entry(), xs, single), 1e-13, 1e-14))
            << "tangent " << j;
    }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::Range<std::size_t>(0, test::op_table().size()),
                         entry_name);

TEST(OpTableCoverage, EveryDifferentiableOpHasAnEntry) {
    std::set<std::string> declared, covered;
    for (auto name : kDifferentiableOps) declared.emplace(name);
    for (const auto& e : test::op_table()) covered.insert(e.name);
    EXPECT_EQ(declared, covered);
}

}  // namespace
}  // namespace postr
