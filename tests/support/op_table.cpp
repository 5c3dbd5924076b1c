#include "tests/support/op_table.h"

#include <random>

namespace postr::test {
namespace {

using V = std::vector<Var>;

// A constant index (or mask) tensor on the device of `like`, so entries also run on CUDA.
Tensor i64(std::vector<std::int64_t> v, const Shape& shape, const Var& like) {
    return Tensor::from_vector(v, shape).to(like.device());
}

std::vector<OpEntry> build() {
    std::vector<OpEntry> t;
    auto unary = [&](std::string name, MultiVarFn fn, double low = -2, double high = 2,
                     double min_abs = 0) {
        t.push_back({name, "[2, 3, 2]", {{2, 3, 2}}, std::move(fn), low, high, min_abs});
    };
    // Elementwise, binary: broadcasting in both directions.
    t.push_back({"add", "broadcast [3, 4] + [4]", {{3, 4}, {4}}, [](const V& x) {
                     return add(x[0], x[1]);
                 }});
    t.push_back({"add", "broadcast [2, 1, 3] + [4, 3]", {{2, 1, 3}, {4, 3}}, [](const V& x) {
                     return add(x[0], x[1]);
                 }});
    t.push_back(
        {"sub", "[3, 4] - [3, 1]", {{3, 4}, {3, 1}}, [](const V& x) { return sub(x[0], x[1]); }});
    t.push_back(
        {"mul", "[2, 3] * [2, 3]", {{2, 3}, {2, 3}}, [](const V& x) { return mul(x[0], x[1]); }});
    t.push_back({"mul", "[3] * [2, 3]", {{3}, {2, 3}}, [](const V& x) { return mul(x[0], x[1]); }});
    t.push_back({"div",
                 "[2, 3] / [3]",
                 {{2, 3}, {3}},
                 [](const V& x) { return div(x[0], x[1]); },
                 -2,
                 2,
                 0.5});
    t.push_back({"pow",
                 "[2, 3] ^ [2, 3], positive base",
                 {{2, 3}, {2, 3}},
                 [](const V& x) { return pow(x[0], x[1]); },
                 0.5,
                 2});
    t.push_back({"maximum", "[4, 3] vs [3]", {{4, 3}, {3}}, [](const V& x) {
                     return maximum(x[0], x[1]);
                 }});
    t.push_back({"minimum", "[4, 3] vs [3]", {{4, 3}, {3}}, [](const V& x) {
                     return minimum(x[0], x[1]);
                 }});
    t.push_back({"where", "constant mask, broadcast", {{2, 3}, {3}}, [](const V& x) {
                     return where(i64({1, 0, 1, 0, 0, 1}, {2, 3}, x[0]), x[0], x[1]);
                 }});
    unary("add_scalar", [](const V& x) { return add(x[0], 1.5); });
    unary("mul_scalar", [](const V& x) { return mul(x[0], -2.5); });
    unary(
        "pow_scalar", [](const V& x) { return pow(x[0], 2.5); }, 0.5, 2);
    unary("neg", [](const V& x) { return neg(x[0]); });
    unary(
        "abs", [](const V& x) { return abs(x[0]); }, -2, 2, 0.1);
    unary("square", [](const V& x) { return square(x[0]); });
    unary("exp", [](const V& x) { return exp(x[0]); });
    unary(
        "log", [](const V& x) { return log(x[0]); }, 0.5, 3);
    unary(
        "log1p", [](const V& x) { return log1p(x[0]); }, -0.5, 2);
    unary("expm1", [](const V& x) { return expm1(x[0]); });
    unary(
        "sqrt", [](const V& x) { return sqrt(x[0]); }, 0.5, 3);
    unary(
        "rsqrt", [](const V& x) { return rsqrt(x[0]); }, 0.5, 3);
    unary(
        "reciprocal", [](const V& x) { return reciprocal(x[0]); }, -2, 2, 0.5);
    unary("tanh", [](const V& x) { return tanh(x[0]); });
    unary("sigmoid", [](const V& x) { return sigmoid(x[0]); });
    unary(
        "relu", [](const V& x) { return relu(x[0]); }, -2, 2, 0.1);
    unary("softplus", [](const V& x) { return softplus(x[0]); });
    unary("clamp", [](const V& x) { return clamp(x[0], -0.5, 0.7); });
    // Reductions.
    t.push_back(
        {"sum", "dim 1 of [3, 4, 5]", {{3, 4, 5}}, [](const V& x) { return sum(x[0], {1}); }});
    t.push_back({"sum", "all dims", {{3, 4}}, [](const V& x) { return sum(x[0]); }});
    t.push_back({"sum", "dims {0, 2}, keepdim", {{3, 4, 2}}, [](const V& x) {
                     return sum(x[0], {0, 2}, true);
                 }});
    t.push_back({"mean", "dim -1", {{3, 4}}, [](const V& x) { return mean(x[0], {-1}); }});
    t.push_back({"var", "dim 1, unbiased", {{3, 5}}, [](const V& x) { return var(x[0], {1}); }});
    t.push_back({"logsumexp", "dim 1", {{3, 5}}, [](const V& x) { return logsumexp(x[0], {1}); }});
    t.push_back({"logsumexp", "dims {0, 1}, keepdim", {{3, 2, 2}}, [](const V& x) {
                     return logsumexp(x[0], {0, 1}, true);
                 }});
    t.push_back(
        {"norm", "p = 2 along dim 1", {{3, 4}}, [](const V& x) { return norm(x[0], 2.0, {1}); }});
    t.push_back({"norm", "p = 2, all", {{3, 4}}, [](const V& x) { return norm(x[0]); }});
    t.push_back(
        {"norm", "p = 1", {{3, 4}}, [](const V& x) { return norm(x[0], 1.0, {0}); }, -2, 2, 0.1});
    t.push_back({"norm", "p = inf, keepdim", {{3, 4}}, [](const V& x) {
                     return norm(x[0], INFINITY, {1}, true);
                 }});
    t.push_back({"max", "dim 1", {{3, 5}}, [](const V& x) { return max(x[0], 1).values; }});
    t.push_back(
        {"max", "dim 0, keepdim", {{4, 3}}, [](const V& x) { return max(x[0], 0, true).values; }});
    t.push_back({"min", "dim -1", {{3, 4}}, [](const V& x) { return min(x[0], -1).values; }});
    // matmul.
    t.push_back({"matmul", "[3, 4] x [4, 2]", {{3, 4}, {4, 2}}, [](const V& x) {
                     return matmul(x[0], x[1]);
                 }});
    t.push_back({"matmul", "batched [2, 3, 4] x [4, 5]", {{2, 3, 4}, {4, 5}}, [](const V& x) {
                     return matmul(x[0], x[1]);
                 }});
    t.push_back(
        {"matmul", "broadcast [2, 1, 3, 4] x [5, 4, 2]", {{2, 1, 3, 4}, {5, 4, 2}}, [](const V& x) {
             return matmul(x[0], x[1]);
         }});
    t.push_back({"matmul", "vector [4] x [4, 3]", {{4}, {4, 3}}, [](const V& x) {
                     return matmul(x[0], x[1]);
                 }});
    t.push_back({"matmul", "[3, 4] x vector [4]", {{3, 4}, {4}}, [](const V& x) {
                     return matmul(x[0], x[1]);
                 }});
    // Views.
    t.push_back({"reshape", "[3, 4] -> [2, 6]", {{3, 4}}, [](const V& x) {
                     return reshape(x[0], {2, 6});
                 }});
    t.push_back({"permute", "{2, 0, 1}", {{2, 3, 4}}, [](const V& x) {
                     return permute(x[0], {2, 0, 1});
                 }});
    t.push_back(
        {"permute", "transpose(0, 1)", {{3, 4}}, [](const V& x) { return transpose(x[0], 0, 1); }});
    t.push_back(
        {"slice", "dim 1, step 2", {{3, 7}}, [](const V& x) { return slice(x[0], 1, 1, 6, 2); }});
    t.push_back(
        {"slice", "narrow dim 0", {{5, 2}}, [](const V& x) { return narrow(x[0], 0, 1, 3); }});
    t.push_back(
        {"select", "dim 1, index 2", {{3, 4}}, [](const V& x) { return select(x[0], 1, 2); }});
    t.push_back(
        {"select", "dim 0, index -1", {{3, 2, 2}}, [](const V& x) { return select(x[0], 0, -1); }});
    t.push_back({"expand", "[3, 1] -> [2, 3, 4]", {{3, 1}}, [](const V& x) {
                     return expand(x[0], {2, 3, 4});
                 }});
    t.push_back({"squeeze", "dim 1", {{3, 1, 4}}, [](const V& x) { return squeeze(x[0], 1); }});
    t.push_back({"unsqueeze", "dim -1", {{3, 4}}, [](const V& x) { return unsqueeze(x[0], -1); }});
    // softmax.
    t.push_back({"softmax", "dim 1", {{3, 5}}, [](const V& x) { return softmax(x[0], 1); }});
    t.push_back({"softmax", "dim 0", {{4, 2}}, [](const V& x) { return softmax(x[0], 0); }});
    t.push_back(
        {"log_softmax", "dim -1", {{3, 5}}, [](const V& x) { return log_softmax(x[0], -1); }});
    t.push_back(
        {"log_softmax", "dim 0", {{4, 3}}, [](const V& x) { return log_softmax(x[0], 0); }});
    // Indexing.
    t.push_back({"index_select", "dim 0, repeated index", {{5, 3}}, [](const V& x) {
                     return index_select(x[0], 0, i64({4, 0, 0, 2}, {4}, x[0]));
                 }});
    t.push_back({"index_select", "dim 1", {{2, 4}}, [](const V& x) {
                     return index_select(x[0], 1, i64({3, 1}, {2}, x[0]));
                 }});
    t.push_back({"gather", "dim 1", {{3, 4}}, [](const V& x) {
                     return gather(x[0], 1, i64({0, 3, 1, 1, 2, 0}, {3, 2}, x[0]));
                 }});
    t.push_back({"scatter_add", "dim 1, duplicates", {{3, 4}, {3, 2}}, [](const V& x) {
                     return scatter_add(x[0], 1, i64({0, 3, 1, 1, 2, 0}, {3, 2}, x[0]), x[1]);
                 }});
    t.push_back({"cat", "dim 0", {{2, 3}, {4, 3}}, [](const V& x) {
                     return cat({x[0], x[1]}, 0);
                 }});
    t.push_back({"cat", "dim 1, three inputs", {{2, 1}, {2, 3}, {2, 2}}, [](const V& x) {
                     return cat({x[0], x[1], x[2]}, 1);
                 }});
    add_conv_entries(t);
    add_linalg_entries(t);
    return t;
}

}  // namespace

const std::vector<OpEntry>& op_table() {
    static const std::vector<OpEntry> table = build();
    return table;
}

std::vector<Tensor> make_inputs(const OpEntry& e, std::uint64_t seed, Device device) {
    std::mt19937_64 rng(seed);
    std::vector<Tensor> out;
    for (const Shape& s : e.shapes) {
        std::uniform_real_distribution<double> dist(e.low, e.high);
        std::vector<double> v(static_cast<std::size_t>(numel(s)));
        for (auto& x : v) {
            do x = dist(rng);
            while (std::abs(x) < e.min_abs);
        }
        out.push_back(Tensor::from_vector(v, s).to(device));
    }
    return out;
}

}  // namespace postr::test
