#include "postr/nn/curvature/kfac.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/fast_road.h"
#include "postr/nn/curvature/likelihood.h"

namespace postr::nn {
namespace {

// Samples per forward/backward pass when the caller does not choose (as DiagonalCurvature):
// the cotangents of a chunk live at every layer at once.
constexpr std::int64_t kMaxChunkSamples = 64;

// Input rows a: [R, I'] of a layer for one chunk (R = N for Linear, N·T for Conv2d), with the
// bias column of ones appended; and T, the output positions per sample.
struct LayerInputs {
    Tensor rows;
    std::int64_t positions = 1;
};

LayerInputs input_rows(const LayerRecord& l) {
    Tensor rows;
    std::int64_t positions = 1;
    if (l.kind == LayerRecord::Kind::linear) {
        rows = l.input;  // [N, I]
    } else {
        // Unfold by a convolution with the identity filter bank E: [I, C_in, kH, kW], E[p] = e_p
        // for p = (c·kH + a)·kW + b, so output channel p at position t is the patch entry p:
        // the weight's own layout, with stride, padding and dilation handled by conv2d.
        const Tensor& x = l.input;  // [N, C_in, H, W]
        const std::int64_t c_in = x.size(1), in = c_in * l.kernel_h * l.kernel_w;
        const Tensor identity =
            eye(in, x.dtype(), x.device()).view({in, c_in, l.kernel_h, l.kernel_w});
        const Tensor patches = conv2d(x, identity, Tensor(), l.options);  // [N, I, Ho, Wo]
        positions = patches.size(2) * patches.size(3);
        rows = patches.permute({0, 2, 3, 1}).reshape({-1, in});  // [N·T, I]
    }
    if (l.has_bias)
        rows = cat({rows, Tensor::ones({rows.size(0), 1}, rows.dtype(), rows.device())}, 1);
    return {rows, positions};
}

// Cotangent rows g: [K, N, O] (Linear) or [K, N, O, Ho, Wo] (Conv2d) → [K·N·T, O].
Tensor output_rows(const LayerRecord& l, const Tensor& cot) {
    if (l.kind == LayerRecord::Kind::linear) return cot.reshape({-1, cot.size(2)});
    return cot.permute({0, 1, 3, 4, 2}).reshape({-1, cot.size(2)});
}

std::string layer_name(const LayerRecord& l) {
    return l.kind == LayerRecord::Kind::linear   ? "Linear"
           : l.kind == LayerRecord::Kind::conv2d ? "Conv2d"
                                                 : "BatchNorm2d";
}

Tensor symmetric_from_lower(const Tensor& lower, double scale) {
    Tensor full = lower.clone();
    symmetrize_lower_(full);
    scale_(full, scale);
    return full;
}

}  // namespace

Tensor kronecker_product(const Tensor& a, const Tensor& b) {
    check_defined("kronecker_product", "a", a);
    check_defined("kronecker_product", "b", b);
    check_rank("kronecker_product", "a", a, 2);
    check_rank("kronecker_product", "b", b, 2);
    const std::int64_t m = a.size(0), n = a.size(1), p = b.size(0), q = b.size(1);
    // [m, 1, n, 1] · [1, p, 1, q] → [m, p, n, q], row (i, k), column (j, l).
    return mul(a.view({m, 1, n, 1}), b.view({1, p, 1, q})).reshape({m * p, n * q});
}

Tensor KroneckerFactors::to_matrix(const Tensor& block) const {
    check_defined("KroneckerFactors::to_matrix", "block", block);
    POSTR_CHECK(block.dim() >= 1 && block.size(-1) == size,
                "KroneckerFactors::to_matrix: block must be [..., ", size, "]: got ",
                to_string(block.shape()), ". Pass the layer's slice of θ");
    const std::int64_t o = out_features, i = in_features;
    Shape lead(block.shape().begin(), block.shape().end() - 1);
    Shape w_shape = lead;
    w_shape.insert(w_shape.end(), {o, i});
    const Tensor w = block.narrow(-1, 0, o * i).reshape(w_shape);
    if (!has_bias) return w.clone();
    return cat({w, block.narrow(-1, o * i, o).unsqueeze(-1)}, -1);
}

Tensor KroneckerFactors::from_matrix(const Tensor& m) const {
    check_defined("KroneckerFactors::from_matrix", "m", m);
    const std::int64_t o = out_features, i = in_features, ia = augmented_in();
    POSTR_CHECK(m.dim() >= 2 && m.size(-2) == o && m.size(-1) == ia,
                "KroneckerFactors::from_matrix: m must be [..., ", o, ", ", ia, "]: got ",
                to_string(m.shape()), ". Pass [W | b] of the layer");
    Shape lead(m.shape().begin(), m.shape().end() - 2);
    Shape flat = lead;
    flat.push_back(o * i);
    const Tensor w = m.narrow(-1, 0, i).reshape(flat);
    if (!has_bias) return w.clone();
    return cat({w, m.select(-1, i)}, -1);
}

Tensor KroneckerFactors::dense_block() const {
    POSTR_CHECK(a.defined() && g.defined(),
                "KroneckerFactors::dense_block: the factors are not set. Take them from "
                "KroneckerCurvature::factors()");
    // kron(G, A) is over vec_row(M); θ's order is a permutation of it: θ-local index j holds
    // vec_row(M)[perm[j]], with perm = from_matrix(0, 1, ..., O·I' − 1).
    const std::int64_t n = out_features * augmented_in();
    const Tensor positions =
        arange(0, static_cast<double>(n), 1.0, DType::f64).view({out_features, augmented_in()});
    const Tensor perm = from_matrix(positions).to(DType::i64).to(a.device());
    const Tensor k = kronecker_product(g, a);
    return index_select(index_select(k, 0, perm), 1, perm);
}

KroneckerCurvature::KroneckerCurvature(Module& model, CurvatureOptions options)
    : model_(model), options_(options), gen_(options.seed) {
    POSTR_CHECK(options.mc_samples >= 1 && options.chunk_size >= 0,
                "KroneckerCurvature: mc_samples must be at least 1 and chunk_size non-negative: "
                "got ",
                options.mc_samples, " and ", options.chunk_size, ". Fix the CurvatureOptions");
}

void KroneckerCurvature::accumulate(const Tensor& x, const Tensor& targets) {
    const char* op = "KroneckerCurvature::accumulate";
    check_defined(op, "x", x);
    POSTR_CHECK(x.dim() >= 1, op, ": x must have a batch dim: got ", to_string(x.shape()),
                ". Pass [N, ...]");
    if (options_.type == CurvatureType::empirical_fisher)
        POSTR_CHECK(targets.defined() && targets.dim() >= 1 && targets.size(0) == x.size(0), op,
                    ": the empirical Fisher needs one target per sample: x is ",
                    to_string(x.shape()), ", targets ",
                    targets.defined() ? to_string(targets.shape()) : std::string("undefined"),
                    ". Pass the observed labels");
    const bool first = kron_.empty() && diag_.empty();
    const std::int64_t chunk = options_.chunk_size > 0 ? options_.chunk_size : kMaxChunkSamples;
    for (std::int64_t start = 0; start < x.size(0); start += chunk) {
        const std::int64_t len = std::min(chunk, x.size(0) - start);
        const Tensor yc = targets.defined() ? targets.narrow(0, start, len) : targets;
        const bool creating = first && start == 0;
        detail::backpropagate_rows(
            model_, x.narrow(0, start, len),
            [&](const Tensor& outputs) {
                return detail::curvature_rows(options_, gen_, outputs, yc);
            },
            [&](const LayerRecord& l, const Tensor& cot) { add_layer(l, cot, creating); });
    }
    num_samples_ += x.size(0);
}

void KroneckerCurvature::add_layer(const LayerRecord& l, const Tensor& cot, bool creating) {
    const ParameterVector& params = model_.parameters();
    // Layers are created on the first chunk only; later chunks must find the same ones.
    const auto check_known = [&](bool known) {
        POSTR_CHECK(known || creating,
                    "KroneckerCurvature::accumulate: the model's layers changed since the first "
                    "batch (a new ",
                    layer_name(l), " at θ offset ", l.offset,
                    "). Use one KroneckerCurvature per model structure");
    };
    if (l.kind == LayerRecord::Kind::channel_affine) {
        auto it = diag_.find(l.offset);
        check_known(it != diag_.end());
        if (it == diag_.end()) {
            const Tensor zeros = Tensor::zeros({l.size}, params.dtype(), params.device());
            it = diag_.emplace(l.offset, DiagonalBlock{l.layer, l.offset, l.size, zeros}).first;
        }
        detail::layer_jacobian_sq_sum_(l, cot, it->second.diagonal);
        return;
    }
    const LayerInputs in = input_rows(l);  // [R, I']
    const Tensor g = output_rows(l, cot);  // [K·N·T, O]
    const std::int64_t ia = in.rows.size(1), o = g.size(1);
    auto it = kron_.find(l.offset);
    check_known(it != kron_.end());
    if (it == kron_.end()) {
        POSTR_ASSERT(o * ia == l.size);
        Accumulator acc;
        acc.meta.layer = l.layer;
        acc.meta.offset = l.offset;
        acc.meta.size = l.size;
        acc.meta.out_features = o;
        acc.meta.in_features = ia - (l.has_bias ? 1 : 0);
        acc.meta.has_bias = l.has_bias;
        acc.a_lower = Tensor::zeros({ia, ia}, params.dtype(), params.device());
        acc.g_lower = Tensor::zeros({o, o}, params.dtype(), params.device());
        it = kron_.emplace(l.offset, std::move(acc)).first;
    }
    Accumulator& acc = it->second;
    POSTR_CHECK(acc.a_lower.size(0) == ia && acc.g_lower.size(0) == o,
                "KroneckerCurvature::accumulate: the ", layer_name(l), " at θ offset ", l.offset,
                " changed shape since the first batch. Use one KroneckerCurvature per model "
                "structure");
    syrk_(acc.a_lower, in.rows);
    syrk_(acc.g_lower, g, 1.0 / static_cast<double>(in.positions));
}

std::vector<KroneckerFactors> KroneckerCurvature::factors() const {
    POSTR_CHECK(num_samples_ > 0,
                "KroneckerCurvature::factors: no data accumulated. Call accumulate(x, y) on the "
                "training data first");
    std::vector<KroneckerFactors> out;
    for (const auto& [offset, acc] : kron_) {
        KroneckerFactors f = acc.meta;
        f.a = symmetric_from_lower(acc.a_lower, 1.0 / static_cast<double>(num_samples_));
        f.g = symmetric_from_lower(acc.g_lower, 1.0);
        out.push_back(std::move(f));
    }
    return out;
}

std::vector<DiagonalBlock> KroneckerCurvature::diagonal_blocks() const {
    std::vector<DiagonalBlock> out;
    for (const auto& [offset, block] : diag_)
        out.push_back({block.layer, block.offset, block.size, block.diagonal.clone()});
    return out;
}

}  // namespace postr::nn
