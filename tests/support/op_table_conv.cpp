// Op-table entries of the conv family: conv2d and its two adjoints, the pools and their
// backwards, and batch norm (training and evaluation). Constants are made on the input's
// device and dtype, so the entries also run on CUDA.
#include <cstdint>
#include <vector>

#include "tests/support/op_table.h"

namespace postr::test {
namespace {

using V = std::vector<Var>;

Tensor constant(std::vector<double> v, const Shape& shape, const Var& like) {
    return Tensor::from_vector(v, shape).to(like.dtype()).to(like.device());
}

Tensor i64(std::vector<std::int64_t> v, const Shape& shape, const Var& like) {
    return Tensor::from_vector(v, shape).to(like.device());
}

// Offsets 5·((7·i) mod 25) over [..., 5, 5]: distinct within each 5×5 plane and spaced wider
// than the inputs' range [−2, 2], so every max-pool window has one clear maximum whatever the
// seed, and its position varies from window to window.
Tensor max_pool_offsets(const Shape& shape, const Var& like) {
    std::vector<double> v(static_cast<std::size_t>(numel(shape)));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 5.0 * static_cast<double>((7 * i) % 25);
    return constant(v, shape, like);
}

Conv2dOptions conv_options(std::int64_t stride, std::int64_t pad, std::int64_t dilation) {
    Conv2dOptions o;
    o.stride_h = o.stride_w = stride;
    o.pad_h = o.pad_w = pad;
    o.dilation_h = o.dilation_w = dilation;
    return o;
}

Pool2dOptions pool_options(std::int64_t kernel, std::int64_t stride, std::int64_t pad) {
    Pool2dOptions o;
    o.kernel_h = o.kernel_w = kernel;
    o.stride_h = o.stride_w = stride;
    o.pad_h = o.pad_w = pad;
    return o;
}

void add_conv(std::vector<OpEntry>& t) {
    t.push_back({"conv2d",
                 "x [2, 2, 5, 5], w [3, 2, 3, 3], bias",
                 {{2, 2, 5, 5}, {3, 2, 3, 3}, {3}},
                 [](const V& x) { return conv2d(x[0], x[1], x[2]); }});
    t.push_back(
        {"conv2d", "stride 2, padding 1, bias", {{2, 2, 5, 5}, {3, 2, 3, 3}, {3}}, [](const V& x) {
             return conv2d(x[0], x[1], x[2], conv_options(2, 1, 1));
         }});
    t.push_back(
        {"conv2d", "dilation 2, padding 1, no bias", {{2, 2, 5, 5}, {3, 2, 3, 3}}, [](const V& x) {
             return conv2d(x[0], x[1], Var(), conv_options(1, 1, 2));
         }});
    Conv2dOptions mixed;
    mixed.stride_h = 2;
    mixed.pad_w = 1;
    mixed.dilation_w = 2;
    t.push_back({"conv2d",
                 "stride (2, 1), padding (0, 1), dilation (1, 2), kernel 2x3",
                 {{1, 2, 6, 5}, {2, 2, 2, 3}, {2}},
                 [mixed](const V& x) { return conv2d(x[0], x[1], x[2], mixed); }});

    t.push_back({"conv2d_backward_input",
                 "g [2, 3, 3, 3], w [3, 2, 3, 3] → [2, 2, 5, 5]",
                 {{2, 3, 3, 3}, {3, 2, 3, 3}},
                 [](const V& x) {
                     return conv2d_backward_input(x[0], x[1], {2, 2, 5, 5});
                 }});
    // H = W = 6 with stride 2: the last row and column get no gradient.
    t.push_back({"conv2d_backward_input",
                 "stride 2, uncovered last row/column",
                 {{2, 3, 2, 2}, {3, 2, 3, 3}},
                 [](const V& x) {
                     return conv2d_backward_input(x[0], x[1], {2, 2, 6, 6}, conv_options(2, 0, 1));
                 }});
    t.push_back({"conv2d_backward_input",
                 "stride 2, padding 1, dilation 2",
                 {{2, 3, 2, 2}, {3, 2, 3, 3}},
                 [](const V& x) {
                     return conv2d_backward_input(x[0], x[1], {2, 2, 5, 5}, conv_options(2, 1, 2));
                 }});

    t.push_back({"conv2d_backward_weight",
                 "g [2, 3, 3, 3], x [2, 2, 5, 5] → [3, 2, 3, 3]",
                 {{2, 3, 3, 3}, {2, 2, 5, 5}},
                 [](const V& x) {
                     return conv2d_backward_weight(x[0], x[1], {3, 2, 3, 3});
                 }});
    t.push_back({"conv2d_backward_weight",
                 "stride 2, padding 1, dilation 2",
                 {{2, 3, 2, 2}, {2, 2, 5, 5}},
                 [](const V& x) {
                     return conv2d_backward_weight(x[0], x[1], {3, 2, 3, 3}, conv_options(2, 1, 2));
                 }});
}

void add_pools(std::vector<OpEntry>& t) {
    t.push_back({"max_pool2d", "kernel 2, stride 2, [2, 2, 5, 5]", {{2, 2, 5, 5}}, [](const V& x) {
                     Var shifted = add(x[0], Var(max_pool_offsets(x[0].shape(), x[0])));
                     return max_pool2d(shifted, pool_options(2, 2, 0)).values;
                 }});
    t.push_back({"max_pool2d",
                 "kernel 3, stride 2, padding 1 (overlapping windows)",
                 {{2, 2, 5, 5}},
                 [](const V& x) {
                     Var shifted = add(x[0], Var(max_pool_offsets(x[0].shape(), x[0])));
                     return max_pool2d(shifted, pool_options(3, 2, 1)).values;
                 }});
    // Repeated positions: overlapping windows sharing a maximum, so cotangents add up.
    t.push_back({"max_pool2d_backward",
                 "[2, 2, 2, 2] → [2, 2, 5, 5], repeated indices",
                 {{2, 2, 2, 2}},
                 [](const V& x) {
                     Tensor idx = i64({12, 12, 12, 24, 0, 4, 20, 24, 6, 7, 11, 12, 3, 3, 18, 18},
                                      {2, 2, 2, 2}, x[0]);
                     return max_pool2d_backward(x[0], idx, {2, 2, 5, 5});
                 }});

    t.push_back({"avg_pool2d", "kernel 2, stride 2", {{2, 2, 5, 5}}, [](const V& x) {
                     return avg_pool2d(x[0], pool_options(2, 2, 0));
                 }});
    t.push_back({"avg_pool2d", "kernel 3, stride 2, padding 1", {{2, 2, 5, 5}}, [](const V& x) {
                     return avg_pool2d(x[0], pool_options(3, 2, 1));
                 }});
    t.push_back({"avg_pool2d_backward",
                 "kernel 2, stride 2 → [2, 2, 5, 5]",
                 {{2, 2, 2, 2}},
                 [](const V& x) {
                     return avg_pool2d_backward(x[0], {2, 2, 5, 5}, pool_options(2, 2, 0));
                 }});
    t.push_back({"avg_pool2d_backward",
                 "kernel 3, stride 2, padding 1 → [2, 2, 5, 5]",
                 {{2, 2, 3, 3}},
                 [](const V& x) {
                     return avg_pool2d_backward(x[0], {2, 2, 5, 5}, pool_options(3, 2, 1));
                 }});

    t.push_back({"adaptive_avg_pool2d",
                 "[2, 2, 5, 7] → 3x2 (uneven windows)",
                 {{2, 2, 5, 7}},
                 [](const V& x) { return adaptive_avg_pool2d(x[0], 3, 2); }});
    t.push_back(
        {"adaptive_avg_pool2d", "global, [2, 3, 4, 4] → 1x1", {{2, 3, 4, 4}}, [](const V& x) {
             return adaptive_avg_pool2d(x[0], 1, 1);
         }});
    t.push_back({"adaptive_avg_pool2d_backward",
                 "[2, 2, 3, 2] → [2, 2, 5, 7]",
                 {{2, 2, 3, 2}},
                 [](const V& x) {
                     return adaptive_avg_pool2d_backward(x[0], {2, 2, 5, 7});
                 }});
}

// Training mode updates the running statistics on every call, so each call gets fresh ones:
// the values stay reproducible however often gradcheck evaluates the function.
Var bn_train(const Var& x, const Var& w, const Var& b) {
    const std::int64_t c = x.size(1);
    Tensor running_mean = constant(std::vector<double>(static_cast<std::size_t>(c), 0.0), {c}, x);
    Tensor running_var = constant(std::vector<double>(static_cast<std::size_t>(c), 1.0), {c}, x);
    return batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5);
}

Var bn_eval(const Var& x, const Var& w, const Var& b) {
    Tensor running_mean = constant({0.3, -0.2}, {2}, x);
    Tensor running_var = constant({0.5, 1.7}, {2}, x);
    return batch_norm(x, w, b, running_mean, running_var, false, 0.1, 1e-5);
}

void add_batch_norm(std::vector<OpEntry>& t) {
    t.push_back({"batch_norm",
                 "training, [3, 2, 2, 3], weight and bias",
                 {{3, 2, 2, 3}, {2}, {2}},
                 [](const V& x) { return bn_train(x[0], x[1], x[2]); }});
    t.push_back(
        {"batch_norm", "training, [3, 2, 2, 3], no weight or bias", {{3, 2, 2, 3}}, [](const V& x) {
             return bn_train(x[0], Var(), Var());
         }});
    t.push_back(
        {"batch_norm", "training, [5, 3], weight and bias", {{5, 3}, {3}, {3}}, [](const V& x) {
             return bn_train(x[0], x[1], x[2]);
         }});
    t.push_back({"batch_norm", "training, [4, 2], weight only", {{4, 2}, {2}}, [](const V& x) {
                     return bn_train(x[0], x[1], Var());
                 }});
    t.push_back({"batch_norm",
                 "evaluation, [3, 2, 2, 3], weight and bias",
                 {{3, 2, 2, 3}, {2}, {2}},
                 [](const V& x) { return bn_eval(x[0], x[1], x[2]); }});
    t.push_back({"batch_norm", "evaluation, [4, 2], no weight or bias", {{4, 2}}, [](const V& x) {
                     return bn_eval(x[0], Var(), Var());
                 }});
}

}  // namespace

void add_conv_entries(std::vector<OpEntry>& t) {
    add_conv(t);
    add_pools(t);
    add_batch_norm(t);
}

}  // namespace postr::test
