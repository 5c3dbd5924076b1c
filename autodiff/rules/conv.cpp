// conv2d and its two adjoints, each a bilinear Var op whose rules are the other two:
//   y = conv(x, w) + b:  x̄ = bwd_in(ȳ, w),  w̄ = bwd_w(ȳ, x),  b̄ = Σ_{N,H,W} ȳ,
//                        ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃ;
//   z = bwd_in(g, w):    ḡ = conv(z̄, w),  w̄ = bwd_w(g, z̄),  ż = bwd_in(ġ, w) + bwd_in(g, ẇ);
//   z = bwd_w(g, x):     ḡ = conv(x, z̄),  x̄ = bwd_in(g, z̄),  ż = bwd_w(ġ, x) + bwd_w(g, ẋ).
// All follow from the one trilinear form ⟨g, conv(x, w)⟩ = ⟨bwd_in(g, w), x⟩ = ⟨bwd_w(g, x), w⟩.
//
// Batched cotangents and tangents ([K, ...] over a rank-4 operand) are folded into a channel or
// batch dim the kernels already sum independently over, so K items cost one kernel call:
// K into N for x-like operands and for ȳ, K into C_out or C_in for weight-like ones (each
// (C_out, C_in) pair of a weight gradient is its own sum over N, H, W).
#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::with_batch;

// Product of the first k dims of t.
std::int64_t batch_numel(const Var& t, int k) {
    std::int64_t n = 1;
    for (int d = 0; d < k; ++d) n *= t.size(d);
    return n;
}

// t: [B..., a, b, c, d] with k batch dims → [kk·a, b, c, d] (kk = ΠB).
Var fold_into_first(const Var& t, int k) {
    return reshape(t, {batch_numel(t, k) * t.size(k), t.size(k + 1), t.size(k + 2), t.size(k + 3)});
}

// t: [B..., a, b, c, d] → [a, kk·b, c, d], the batch placed just outside dim b.
Var fold_into_second(const Var& t, int k) {
    const std::int64_t kk = batch_numel(t, k);
    Var flat = reshape(t, {kk, t.size(k), t.size(k + 1), t.size(k + 2), t.size(k + 3)});
    return reshape(permute(flat, {1, 0, 2, 3, 4}),
                   {t.size(k), kk * t.size(k + 1), t.size(k + 2), t.size(k + 3)});
}

// r: [a, kk·b, c, d] → [B..., a, b, c, d] (B from `like`'s first k dims); inverse of the above.
Var unfold_from_second(const Var& r, const Var& like, int k) {
    const std::int64_t kk = batch_numel(like, k);
    const std::int64_t a = r.size(0), b = r.size(1) / kk;
    Var split = reshape(r, {a, kk, b, r.size(2), r.size(3)});
    return reshape(permute(split, {1, 0, 2, 3, 4}),
                   with_batch(like, k, {a, b, r.size(2), r.size(3)}));
}

Shape fold_shape_first(std::int64_t kk, const Shape& s) { return {kk * s[0], s[1], s[2], s[3]}; }
Shape fold_shape_second(std::int64_t kk, const Shape& s) { return {s[0], kk * s[1], s[2], s[3]}; }

// conv2d(x, w) without bias, x possibly batched: K folded into N.
Var conv_batched_x(const Var& x, const Var& w, const Conv2dOptions& o) {
    const int k = batch_of(x, 4);
    if (k == 0) return conv2d(x, w, Var(), o);
    Var y = conv2d(fold_into_first(x, k), w, Var(), o);
    return reshape(y, with_batch(x, k, {x.size(k), y.size(1), y.size(2), y.size(3)}));
}

// conv2d(x, w) without bias, w possibly batched: K folded into C_out.
Var conv_batched_w(const Var& x, const Var& w, const Conv2dOptions& o) {
    const int k = batch_of(w, 4);
    if (k == 0) return conv2d(x, w, Var(), o);
    Var y = conv2d(x, fold_into_first(w, k), Var(), o);  // [N, kk·C_out, H_out, W_out]
    return unfold_from_second(y, w, k);
}

// conv2d_backward_input(g, w), g possibly batched: K folded into N.
Var bwd_in_batched_g(const Var& g, const Var& w, const Shape& in, const Conv2dOptions& o) {
    const int k = batch_of(g, 4);
    if (k == 0) return conv2d_backward_input(g, w, in, o);
    Var r =
        conv2d_backward_input(fold_into_first(g, k), w, fold_shape_first(batch_numel(g, k), in), o);
    return reshape(r, with_batch(g, k, in));
}

// conv2d_backward_input(g, w), w possibly batched: K folded into C_in.
Var bwd_in_batched_w(const Var& g, const Var& w, const Shape& in, const Conv2dOptions& o) {
    const int k = batch_of(w, 4);
    if (k == 0) return conv2d_backward_input(g, w, in, o);
    Var r = conv2d_backward_input(g, fold_into_second(w, k),
                                  fold_shape_second(batch_numel(w, k), in), o);
    return unfold_from_second(r, w, k);
}

// conv2d_backward_weight(g, x), g possibly batched: K folded into C_out.
Var bwd_w_batched_g(const Var& g, const Var& x, const Shape& ws, const Conv2dOptions& o) {
    const int k = batch_of(g, 4);
    if (k == 0) return conv2d_backward_weight(g, x, ws, o);
    Var r = conv2d_backward_weight(fold_into_second(g, k), x,
                                   fold_shape_first(batch_numel(g, k), ws), o);
    return reshape(r, with_batch(g, k, ws));  // [kk·C_out, ...] is K-major
}

// conv2d_backward_weight(g, x), x possibly batched: K folded into C_in.
Var bwd_w_batched_x(const Var& g, const Var& x, const Shape& ws, const Conv2dOptions& o) {
    const int k = batch_of(x, 4);
    if (k == 0) return conv2d_backward_weight(g, x, ws, o);
    Var r = conv2d_backward_weight(g, fold_into_second(x, k),
                                   fold_shape_second(batch_numel(x, k), ws), o);
    return unfold_from_second(r, x, k);
}

}  // namespace

Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dOptions& options) {
    Tensor value =
        conv2d(x.value(), weight.value(), bias.defined() ? bias.value() : Tensor(), options);
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad(),
               need_b = bias.requires_grad();
    const Shape x_shape = x.shape(), w_shape = weight.shape(), out_shape = value.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        const int k = batch_of(g, 4);
        Var gx = need_x ? bwd_in_batched_g(g, weight, x_shape, options) : Var();
        Var gw = need_w ? bwd_w_batched_g(g, x, w_shape, options) : Var();
        Var gb = need_b ? sum(g, {k, k + 2, k + 3}) : Var();
        return std::vector<Var>{gx, gw, gb};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        Var y;
        if (t[0].defined()) y = conv_batched_x(t[0], weight, options);
        if (t[1].defined()) y = rules::add_terms(y, conv_batched_w(x, t[1], options));
        if (t[2].defined()) {
            const int k = batch_of(t[2], 1);
            Var b = reshape(t[2], with_batch(t[2], k, {1, w_shape[0], 1, 1}));
            y = y.defined() ? add(y, b) : rules::expand_to(b, k, out_shape);
        }
        return y;
    };
    return record_op("conv2d", std::move(value), {x, weight, bias}, std::move(r));
}

Var conv2d_backward_input(const Var& grad_out, const Var& weight, const Shape& input_shape,
                          const Conv2dOptions& options) {
    Tensor value = conv2d_backward_input(grad_out.value(), weight.value(), input_shape, options);
    const bool need_g = grad_out.requires_grad(), need_w = weight.requires_grad();
    const Shape w_shape = weight.shape();
    OpRules r;
    r.vjp = [=](const Var& u, const Var&) {
        Var gg = need_g ? conv_batched_x(u, weight, options) : Var();
        Var gw = need_w ? bwd_w_batched_x(grad_out, u, w_shape, options) : Var();
        return std::vector<Var>{gg, gw};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        Var y;
        if (t[0].defined()) y = bwd_in_batched_g(t[0], weight, input_shape, options);
        if (t[1].defined())
            y = rules::add_terms(y, bwd_in_batched_w(grad_out, t[1], input_shape, options));
        return y;
    };
    return record_op("conv2d_backward_input", std::move(value), {grad_out, weight}, std::move(r));
}

Var conv2d_backward_weight(const Var& grad_out, const Var& x, const Shape& weight_shape,
                           const Conv2dOptions& options) {
    Tensor value = conv2d_backward_weight(grad_out.value(), x.value(), weight_shape, options);
    const bool need_g = grad_out.requires_grad(), need_x = x.requires_grad();
    const Shape x_shape = x.shape();
    OpRules r;
    r.vjp = [=](const Var& u, const Var&) {
        Var gg = need_g ? conv_batched_w(x, u, options) : Var();
        Var gx = need_x ? bwd_in_batched_w(grad_out, u, x_shape, options) : Var();
        return std::vector<Var>{gg, gx};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        Var y;
        if (t[0].defined()) y = bwd_w_batched_g(t[0], x, weight_shape, options);
        if (t[1].defined())
            y = rules::add_terms(y, bwd_w_batched_x(grad_out, t[1], weight_shape, options));
        return y;
    };
    return record_op("conv2d_backward_weight", std::move(value), {grad_out, x}, std::move(r));
}

}  // namespace postr
