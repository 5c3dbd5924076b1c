#include "postr/nn/curvature/jacobian.h"

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/fast_road.h"

namespace postr::nn {
namespace detail {

Tensor row_jacobians(Module& model, const Tensor& x,
                     const std::function<Tensor(const Tensor&)>& rows_of, const Tensor& index) {
    if (!index.defined()) return row_jacobians(model, x, rows_of, nullptr);
    const ParameterVector& params = model.parameters();
    SubsetPlan plan(index, params.size(), params.device());
    return row_jacobians(model, x, rows_of, &plan);
}

Tensor row_jacobians(Module& model, const Tensor& x,
                     const std::function<Tensor(const Tensor&)>& rows_of, SubsetPlan* plan) {
    const ParameterVector& params = model.parameters();
    Tensor out;
    auto allocate = [&](const Tensor& rows) {
        const std::int64_t columns = plan ? plan->size() : params.size();
        out = Tensor::empty({rows.size(1), rows.size(0), columns}, params.dtype(), params.device());
        return rows;
    };
    backpropagate_rows(
        model, x, [&](const Tensor& outputs) { return allocate(rows_of(outputs)); },
        [&](const LayerRecord& layer, const Tensor& cot) {
            if (!plan) {
                layer_jacobian_into(layer, cot, out.narrow(2, layer.offset, layer.size));
                return;
            }
            const auto& piece = plan->piece(layer.offset, layer.size);
            if (piece.count > 0)
                layer_jacobian_subset_into(layer, cot, piece.local_index,
                                           out.narrow(2, piece.first_column, piece.count));
        });
    return plan ? plan->restore_order(out) : out;
}

}  // namespace detail

namespace {

// The identity rows [C, N, C]: row c of sample n is e_c.
Tensor identity_rows(const Tensor& outputs) {
    const std::int64_t n = outputs.size(0), c = outputs.size(1);
    return eye(c, outputs.dtype(), outputs.device()).view({c, 1, c}).expand({c, n, c});
}

Tensor gradients(Module& model, const Tensor& x, const Tensor& targets,
                 const Likelihood& likelihood, const Tensor& index) {
    Tensor rows = detail::row_jacobians(
        model, x,
        [&](const Tensor& outputs) { return loss_output_gradients(likelihood, outputs, targets); },
        index);
    return rows.select(1, 0);
}

}  // namespace

Tensor per_sample_jacobian(Module& model, const Tensor& x) {
    return detail::row_jacobians(model, x, identity_rows, Tensor());
}

Tensor per_sample_jacobian(Module& model, const Tensor& x, const Tensor& index) {
    return detail::row_jacobians(model, x, identity_rows, index);
}

Tensor per_sample_gradients(Module& model, const Tensor& x, const Tensor& targets,
                            const Likelihood& likelihood) {
    return gradients(model, x, targets, likelihood, Tensor());
}

Tensor per_sample_gradients(Module& model, const Tensor& x, const Tensor& targets,
                            const Likelihood& likelihood, const Tensor& index) {
    return gradients(model, x, targets, likelihood, index);
}

}  // namespace postr::nn
