#include "postr/nn/curvature/fast_road.h"

#include <algorithm>
#include <numeric>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/kernels/curvature_ops.h"
#include "postr/kernels/ops.h"

namespace postr::nn::detail {

Tensor backpropagate_rows(Module& model, const Tensor& x, const RowsFn& rows_of,
                          const LayerFn& each_layer) {
    CurvatureTape tape(model);
    Var outputs = model(Var(x));
    POSTR_CHECK(outputs.dim() == 2, "curvature: the model's outputs must be [N, C]: got ",
                to_string(outputs.shape()), " for input ", to_string(x.shape()),
                ". Flatten the outputs in the model");
    tape.check_covers_model();
    const Tensor rows = rows_of(outputs.value());
    std::vector<LayerRecord> layers = tape.records();
    std::sort(layers.begin(), layers.end(),
              [](const LayerRecord& a, const LayerRecord& b) { return a.offset < b.offset; });
    std::vector<Var> layer_outputs;
    for (const auto& l : layers) layer_outputs.push_back(l.output);
    // A model whose output is the last layer's output directly still works: grad() hands the
    // rows themselves to that layer.
    std::vector<Var> cotangents = grad({outputs}, layer_outputs, {rows});
    for (std::size_t i = 0; i < layers.size(); ++i) each_layer(layers[i], cotangents[i].value());
    return outputs.value();
}

void layer_jacobian_into(const LayerRecord& l, const Tensor& cot, const Tensor& out) {
    switch (l.kind) {
        case LayerRecord::Kind::linear:
            return linear_jacobian_into(cot, l.input, l.has_bias, out);
        case LayerRecord::Kind::conv2d:
            return conv2d_jacobian_into(cot, l.input, l.kernel_h, l.kernel_w, l.options, l.has_bias,
                                        out);
        case LayerRecord::Kind::channel_affine:
            return channel_affine_jacobian_into(cot, l.input, out);
    }
}

void layer_jacobian_subset_into(const LayerRecord& l, const Tensor& cot, const Tensor& index,
                                const Tensor& out) {
    switch (l.kind) {
        case LayerRecord::Kind::linear:
            return linear_jacobian_subset_into(cot, l.input, l.has_bias, index, out);
        case LayerRecord::Kind::conv2d:
            return conv2d_jacobian_subset_into(cot, l.input, l.kernel_h, l.kernel_w, l.options,
                                               l.has_bias, index, out);
        case LayerRecord::Kind::channel_affine:
            return channel_affine_jacobian_subset_into(cot, l.input, index, out);
    }
}

void layer_jacobian_sq_sum_(const LayerRecord& l, const Tensor& cot, const Tensor& diag) {
    switch (l.kind) {
        case LayerRecord::Kind::linear:
            return linear_jacobian_sq_sum_(cot, l.input, l.has_bias, diag);
        case LayerRecord::Kind::conv2d:
            return conv2d_jacobian_sq_sum_(cot, l.input, l.kernel_h, l.kernel_w, l.options,
                                           l.has_bias, diag);
        case LayerRecord::Kind::channel_affine:
            return channel_affine_jacobian_sq_sum_(cot, l.input, diag);
    }
}

SubsetPlan::SubsetPlan(const Tensor& index, std::int64_t num_parameters, Device device)
    : device_(device) {
    check_defined("curvature", "index", index);
    POSTR_CHECK(index.dtype() == DType::i64 && index.dim() == 1,
                "curvature: the subnetwork index must be i64 [S]: got ", to_string(index.shape()),
                " ", dtype_name(index.dtype()), ". Pass positions into θ");
    const std::vector<std::int64_t> given = index.to(Device::cpu()).to_vector<std::int64_t>();
    for (std::size_t j = 0; j < given.size(); ++j)
        POSTR_CHECK(given[j] >= 0 && given[j] < num_parameters, "curvature: index[", j,
                    "] = ", given[j], " is outside θ's [0, ", num_parameters,
                    "). Pass positions into the model's flat parameter vector");
    std::vector<std::int64_t> order(given.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return given[a] < given[b]; });
    sorted_.resize(given.size());
    std::vector<std::int64_t> rank(given.size());
    bool identity = true;
    for (std::size_t r = 0; r < order.size(); ++r) {
        sorted_[r] = given[static_cast<std::size_t>(order[r])];
        rank[static_cast<std::size_t>(order[r])] = static_cast<std::int64_t>(r);
        identity &= order[r] == static_cast<std::int64_t>(r);
    }
    if (!identity)
        rank_ = Tensor::from_vector(rank, {static_cast<std::int64_t>(rank.size())}).to(device);
}

const SubsetPlan::Piece& SubsetPlan::piece(std::int64_t offset, std::int64_t size) {
    auto it = pieces_.find(offset);
    if (it != pieces_.end()) return it->second;
    const auto first = std::lower_bound(sorted_.begin(), sorted_.end(), offset);
    const auto last = std::lower_bound(first, sorted_.end(), offset + size);
    Piece p;
    p.first_column = first - sorted_.begin();
    p.count = last - first;
    std::vector<std::int64_t> local(first, last);
    for (auto& v : local) v -= offset;
    p.local_index = Tensor::from_vector(local, {p.count}).to(device_);
    return pieces_.emplace(offset, std::move(p)).first->second;
}

Tensor SubsetPlan::restore_order(const Tensor& out_sorted) const {
    return is_sorted() ? out_sorted : index_select(out_sorted, out_sorted.dim() - 1, rank_);
}

}  // namespace postr::nn::detail
