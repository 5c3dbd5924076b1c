// Pooling. Every op here is linear in its input (max pooling once its argmax indices are fixed)
// and comes paired with its adjoint, which is its VJP; the JVP is the op itself:
//   max_pool2d:          y = gather(x, idx)  ⇔  x̄ = max_pool2d_backward(ȳ, idx) (scatter-add)
//   avg_pool2d:          y = A x             ⇔  x̄ = avg_pool2d_backward(ȳ) = Aᵀ ȳ
//   adaptive_avg_pool2d: y = B x             ⇔  x̄ = adaptive_avg_pool2d_backward(ȳ) = Bᵀ ȳ
// and the *_backward ops in turn have the forward op as their VJP. max_pool2d's derivative is
// that of the selected element: with ties it goes to the element the kernel picked (the
// first maximum of the window), a subgradient. Batched cotangents and tangents
// ([K, N, C, H, W]) are folded into N, since every op works plane by plane.
#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::with_batch;

// Applies a plane-wise op f ([N', C, H, W] → [N', C', H', W']) to t: [B..., N, C, H, W], with
// the batch dims B folded into N.
template <class F>
Var on_planes(const Var& t, F&& f) {
    const int k = batch_of(t, 4);
    if (k == 0) return f(t);
    std::int64_t kk = 1;
    for (int d = 0; d < k; ++d) kk *= t.size(d);
    Var r = f(reshape(t, {kk * t.size(k), t.size(k + 1), t.size(k + 2), t.size(k + 3)}));
    return reshape(r, with_batch(t, k, {t.size(k), r.size(1), r.size(2), r.size(3)}));
}

// `shape` with its first dim replaced by n.
Shape with_n(const Shape& shape, std::int64_t n) { return {n, shape[1], shape[2], shape[3]}; }

// t: [B..., N, C, H, W] gathered at idx: [N, C, H_out, W_out] (positions h·W + w in each plane)
// → [B..., N, C, H_out, W_out].
Var gather_planes(const Var& t, const Tensor& idx) {
    const int k = batch_of(t, 4);
    const std::int64_t n = idx.size(0), c = idx.size(1), h = idx.size(2), w = idx.size(3);
    Var flat = reshape(t, with_batch(t, k, {n, c, t.size(k + 2) * t.size(k + 3)}));
    Tensor index = idx.reshape({n, c, h * w}).expand(with_batch(t, k, {n, c, h * w}));
    return reshape(gather(flat, -1, index), with_batch(t, k, {n, c, h, w}));
}

// max_pool2d_backward of a possibly batched g: [B..., N, C, H_out, W_out].
Var scatter_planes(const Var& g, const Tensor& idx, const Shape& input_shape) {
    const int k = batch_of(g, 4);
    if (k == 0) return max_pool2d_backward(g, idx, input_shape);
    Tensor index = idx.expand(g.shape());
    return on_planes(g, [&](const Var& gf) {
        std::int64_t n = gf.size(0);
        return max_pool2d_backward(gf, index.reshape(with_n(idx.shape(), n)),
                                   with_n(input_shape, n));
    });
}

}  // namespace

VarValuesIndices max_pool2d(const Var& x, const Pool2dOptions& options) {
    ValuesIndices vi = max_pool2d(x.value(), options);
    const Tensor idx = vi.indices;
    const Shape in = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) { return std::vector<Var>{scatter_planes(g, idx, in)}; };
    r.jvp = [=](const std::vector<Var>& t, const Var&) { return gather_planes(t[0], idx); };
    return {record_op("max_pool2d", std::move(vi.values), {x}, std::move(r)), vi.indices};
}

Var max_pool2d_backward(const Var& grad_out, const Tensor& indices, const Shape& input_shape) {
    Tensor value = max_pool2d_backward(grad_out.value(), indices, input_shape);
    OpRules r;
    r.vjp = [=](const Var& u, const Var&) { return std::vector<Var>{gather_planes(u, indices)}; };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return scatter_planes(t[0], indices, input_shape);
    };
    return record_op("max_pool2d_backward", std::move(value), {grad_out}, std::move(r));
}

Var avg_pool2d(const Var& x, const Pool2dOptions& options) {
    Tensor value = avg_pool2d(x.value(), options);
    const Shape in = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{on_planes(g, [&](const Var& gf) {
            return avg_pool2d_backward(gf, with_n(in, gf.size(0)), options);
        })};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return on_planes(t[0], [&](const Var& tf) { return avg_pool2d(tf, options); });
    };
    return record_op("avg_pool2d", std::move(value), {x}, std::move(r));
}

Var avg_pool2d_backward(const Var& grad_out, const Shape& input_shape,
                        const Pool2dOptions& options) {
    Tensor value = avg_pool2d_backward(grad_out.value(), input_shape, options);
    OpRules r;
    r.vjp = [=](const Var& u, const Var&) {
        return std::vector<Var>{
            on_planes(u, [&](const Var& uf) { return avg_pool2d(uf, options); })};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return on_planes(t[0], [&](const Var& tf) {
            return avg_pool2d_backward(tf, with_n(input_shape, tf.size(0)), options);
        });
    };
    return record_op("avg_pool2d_backward", std::move(value), {grad_out}, std::move(r));
}

Var adaptive_avg_pool2d(const Var& x, std::int64_t out_h, std::int64_t out_w) {
    Tensor value = adaptive_avg_pool2d(x.value(), out_h, out_w);
    const Shape in = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{on_planes(g, [&](const Var& gf) {
            return adaptive_avg_pool2d_backward(gf, with_n(in, gf.size(0)));
        })};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return on_planes(t[0],
                         [&](const Var& tf) { return adaptive_avg_pool2d(tf, out_h, out_w); });
    };
    return record_op("adaptive_avg_pool2d", std::move(value), {x}, std::move(r));
}

Var adaptive_avg_pool2d_backward(const Var& grad_out, const Shape& input_shape) {
    Tensor value = adaptive_avg_pool2d_backward(grad_out.value(), input_shape);
    const std::int64_t out_h = grad_out.size(2), out_w = grad_out.size(3);
    OpRules r;
    r.vjp = [=](const Var& u, const Var&) {
        return std::vector<Var>{
            on_planes(u, [&](const Var& uf) { return adaptive_avg_pool2d(uf, out_h, out_w); })};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return on_planes(t[0], [&](const Var& tf) {
            return adaptive_avg_pool2d_backward(tf, with_n(input_shape, tf.size(0)));
        });
    };
    return record_op("adaptive_avg_pool2d_backward", std::move(value), {grad_out}, std::move(r));
}

}  // namespace postr
