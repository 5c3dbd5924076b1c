// Batch normalization. Training: y = w·x̂ + b with x̂ = (x − μ)·σ̂⁻¹, μ and σ̂⁻¹ = 1/√(var + eps)
// the per-channel batch mean and inverse std (biased variance) over N and the spatial dims. The
// value comes from the fused kernel (which also updates the running statistics, once per
// forward); the rules are the closed forms (Ioffe & Szegedy 2015, §3; means ⟨·⟩ over N and
// spatial, per channel):
//   x̄ = w·σ̂⁻¹·(ȳ − ⟨ȳ⟩ − x̂·⟨ȳ·x̂⟩),   w̄ = Σ ȳ·x̂,   b̄ = Σ ȳ,
//   ẏ = w·σ̂⁻¹·(ẋ − ⟨ẋ⟩ − x̂·⟨ẋ·x̂⟩) + ẇ·x̂ + ḃ.
// The rules rebuild μ, σ̂⁻¹ and x̂ from x with Var ops (not the kernel's saved statistics), so
// the backward pass is itself differentiable in x. When the VJP is not itself recorded (no
// create_graph) and no tangent flows through it, it instead calls the fused batch_norm_backward
// kernel with the forward's saved statistics (once per cotangent of a batch [K, ...]): the same
// formulas in one pass per channel, instead of about a dozen. Evaluation mode is a composite of
// Var ops, y = x·s + (b − m·s) with s = w/√(v + eps) and the running statistics m, v as
// constants.
#include <utility>

#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::with_batch;

// [1, C, 1, ...]: a per-channel vector laid out to broadcast against x of rank `rank`.
Shape channel_shape(std::int64_t channels, int rank) {
    Shape s(static_cast<std::size_t>(rank), 1);
    s[1] = channels;
    return s;
}

// The dims reduced for the batch statistics (all but the channel dim 1), after k batch dims.
std::vector<int> stat_dims(int rank, int k) {
    std::vector<int> dims{k};
    for (int d = 2; d < rank; ++d) dims.push_back(k + d);
    return dims;
}

void check_running_stat(const char* name, const Tensor& t, const Tensor& x) {
    POSTR_CHECK(t.defined(), "batch_norm: ", name,
                " is undefined in evaluation mode. Pass the running statistics, or training = "
                "true");
    POSTR_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm: ", name, " must be [",
                x.size(1), "] for x of shape ", to_string(x.shape()), ": got ",
                to_string(t.shape()), ". Pass one value per channel (dim 1 of x)");
}

Var batch_norm_eval(const Var& x, const Var& weight, const Var& bias, const Tensor& running_mean,
                    const Tensor& running_var, double eps) {
    check_min_rank("batch_norm", "x", x.value(), 2);
    check_running_stat("running_mean", running_mean, x.value());
    check_running_stat("running_var", running_var, x.value());
    POSTR_CHECK(eps >= 0, "batch_norm: eps must be non-negative: got ", eps, ". Use e.g. 1e-5");
    const Shape pc = channel_shape(x.size(1), x.dim());
    Var scale(rsqrt(add(running_var, eps)).reshape(pc));  // [1, C, 1, ...]
    if (weight.defined()) scale = mul(reshape(weight, pc), scale);
    Var shift = neg(mul(Var(running_mean.reshape(pc)), scale));
    if (bias.defined()) shift = add(shift, reshape(bias, pc));
    return add(mul(x, scale), shift);
}

}  // namespace

Var batch_norm(const Var& x, const Var& weight, const Var& bias, Tensor& running_mean,
               Tensor& running_var, bool training, double momentum, double eps) {
    if (!training) return batch_norm_eval(x, weight, bias, running_mean, running_var, eps);
    BatchNormResult res = batch_norm_train(x.value(), weight.defined() ? weight.value() : Tensor(),
                                           bias.defined() ? bias.value() : Tensor(), running_mean,
                                           running_var, momentum, eps);
    const int rank = x.dim();
    const Shape pc = channel_shape(x.size(1), rank), x_shape = x.shape();
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad(),
               need_b = bias.requires_grad();
    // x̂ and w·σ̂⁻¹ ([1, C, 1, ...]) from x, as Var ops.
    auto normalize = [=]() {
        const std::vector<int> dims = stat_dims(rank, 0);
        Var mu = mean(x, dims, true);
        Var invstd = rsqrt(add(var(x, dims, 0, true), eps));
        Var xhat = mul(sub(x, mu), invstd);
        Var scale = weight.defined() ? mul(reshape(weight, pc), invstd) : invstd;
        return std::pair{xhat, scale};
    };
    // t − ⟨t⟩ − x̂·⟨t·x̂⟩ for t with k batch dims: the projection shared by both modes.
    auto project = [=](const Var& t, const Var& xhat, const Var& t_xhat, int k) {
        const std::vector<int> dims = stat_dims(rank, k);
        return sub(sub(t, mean(t, dims, true)), mul(xhat, mean(t_xhat, dims, true)));
    };
    OpRules r;
    // The fused backward needs only values: no recording, and no tangent on what it reads.
    auto value_only = [=](const Var& g) {
        auto no_tangent = [](const Var& v) { return !v.defined() || !v.tangent().defined(); };
        return !grad_enabled() &&
               (!forward_enabled() || (no_tangent(g) && no_tangent(x) && no_tangent(weight)));
    };
    const Tensor save_mean = res.save_mean, save_invstd = res.save_invstd;
    auto fused_vjp = [=](const Var& g, int k) {
        const Tensor xv = x.value(), wv = weight.defined() ? weight.value() : Tensor();
        const Tensor gv = g.value();
        if (k == 0) {
            BatchNormGrads f = batch_norm_backward(gv, xv, wv, save_mean, save_invstd);
            return std::vector<Var>{need_x ? Var(f.grad_x) : Var(),
                                    need_w ? Var(f.grad_weight) : Var(),
                                    need_b ? Var(f.grad_bias) : Var()};
        }
        // K cotangents: K separate problems sharing x (the statistics couple samples within
        // N, so K must not be folded into N).
        const std::int64_t kk = gv.size(0), c = xv.size(1);
        Tensor gx = Tensor::empty(gv.shape(), gv.dtype(), gv.device());
        Tensor gw = Tensor::empty({kk, c}, gv.dtype(), gv.device());
        Tensor gb = Tensor::empty({kk, c}, gv.dtype(), gv.device());
        for (std::int64_t i = 0; i < kk; ++i) {
            BatchNormGrads f = batch_norm_backward(gv.select(0, i), xv, wv, save_mean, save_invstd);
            gx.select(0, i).copy_(f.grad_x);
            gw.select(0, i).copy_(f.grad_weight);
            gb.select(0, i).copy_(f.grad_bias);
        }
        return std::vector<Var>{need_x ? Var(gx) : Var(), need_w ? Var(gw) : Var(),
                                need_b ? Var(gb) : Var()};
    };
    r.vjp = [=](const Var& g, const Var&) {
        const int k = batch_of(g, rank);
        if (k <= 1 && value_only(g)) return fused_vjp(g, k);
        auto [xhat, scale] = normalize();
        Var g_xhat = mul(g, xhat);
        Var gx = need_x ? mul(scale, project(g, xhat, g_xhat, k)) : Var();
        Var gw = need_w ? sum(g_xhat, stat_dims(rank, k)) : Var();
        Var gb = need_b ? sum(g, stat_dims(rank, k)) : Var();
        return std::vector<Var>{gx, gw, gb};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        auto [xhat, scale] = normalize();
        Var y;
        if (t[0].defined()) {
            const int k = batch_of(t[0], rank);
            y = mul(scale, project(t[0], xhat, mul(t[0], xhat), k));
        }
        if (t[1].defined()) {
            const int k = batch_of(t[1], 1);
            y = rules::add_terms(y, mul(reshape(t[1], with_batch(t[1], k, pc)), xhat));
        }
        if (t[2].defined()) {
            const int k = batch_of(t[2], 1);
            Var b = reshape(t[2], with_batch(t[2], k, pc));
            y = y.defined() ? add(y, b) : rules::expand_to(b, k, x_shape);
        }
        return y;
    };
    return record_op("batch_norm", std::move(res.out), {x, weight, bias}, std::move(r));
}

}  // namespace postr
