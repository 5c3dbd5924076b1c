// The machinery shared by the fast-road curvature functions (jacobian.h, ggn.h): one forward
// pass on a CurvatureTape, one backward pass of K cotangent rows per sample to every layer's
// output, and the per-layer kernels of kernels/curvature_ops.h on what arrives there.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "postr/core/tensor.h"
#include "postr/nn/curvature/tape.h"
#include "postr/nn/module.h"

namespace postr::nn::detail {

// outputs [N, C] → cotangent rows [K, N, C].
using RowsFn = std::function<Tensor(const Tensor& outputs)>;
// (layer, cotangent at its output [K, N, ...its output shape]).
using LayerFn = std::function<void(const LayerRecord& layer, const Tensor& cotangent)>;

// Runs model(x) (in eval mode) on a tape, then pushes rows_of(outputs) back to every recorded
// layer in one pass and calls each_layer on them in θ order. Returns the outputs [N, C].
// Throws when the outputs are not [N, C] or the tape does not cover the model.
Tensor backpropagate_rows(Module& model, const Tensor& x, const RowsFn& rows_of,
                          const LayerFn& each_layer);

// The per-layer kernels, by the layer's kind (see kernels/curvature_ops.h).
void layer_jacobian_into(const LayerRecord& layer, const Tensor& cotangent, const Tensor& out);
void layer_jacobian_subset_into(const LayerRecord& layer, const Tensor& cotangent,
                                const Tensor& local_index, const Tensor& out);
void layer_jacobian_sq_sum_(const LayerRecord& layer, const Tensor& cotangent, const Tensor& diag);

// A subset of θ (i64 [S] indices, any order, on any device) split by layer: the kernels fill
// columns in sorted order, a contiguous range per layer, and restore_order puts them back in
// the caller's order.
class SubsetPlan {
  public:
    // Throws postr::Error for an index that is not i64 [S] or out of [0, D).
    SubsetPlan(const Tensor& index, std::int64_t num_parameters, Device device);
    std::int64_t size() const { return static_cast<std::int64_t>(sorted_.size()); }
    struct Piece {
        std::int64_t first_column = 0, count = 0;
        Tensor local_index;  // i64 [count]: positions inside the layer's block, on `device`
    };
    // The part of the subset inside θ[offset, offset + size).
    const Piece& piece(std::int64_t offset, std::int64_t size);
    // out_sorted: [..., S] with columns in sorted-index order → the caller's order.
    Tensor restore_order(const Tensor& out_sorted) const;
    bool is_sorted() const { return !rank_.defined(); }

  private:
    std::vector<std::int64_t> sorted_;
    Tensor rank_;  // i64 [S]: position in sorted_ of each caller column; undefined if sorted
    Device device_;
    std::map<std::int64_t, Piece> pieces_;  // by offset
};

}  // namespace postr::nn::detail
