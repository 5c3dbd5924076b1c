#include "postr/nn/curvature/tape.h"

#include <algorithm>

#include "postr/core/error.h"
#include "postr/nn/module.h"

namespace postr::nn {
namespace {

thread_local CurvatureTape* tl_active_tape = nullptr;

}  // namespace

CurvatureTape::CurvatureTape(Module& model) : model_(model) {
    POSTR_CHECK(tl_active_tape == nullptr,
                "CurvatureTape: another tape is already recording on this thread. Finish one "
                "curvature computation before starting the next");
    POSTR_CHECK(!model.is_training(),
                "CurvatureTape: the model is in training mode. Curvature is taken at fixed "
                "batch-norm statistics and without dropout: call model.eval() first");
    for (auto& [name, p] : model.named_parameters()) {
        if (!p.requires_grad()) continue;
        p.set_requires_grad(false);
        frozen_.push_back(p);
    }
    tl_active_tape = this;
}

CurvatureTape::~CurvatureTape() {
    tl_active_tape = nullptr;
    for (Var& p : frozen_) p.set_requires_grad(true);
}

CurvatureTape* CurvatureTape::active() { return tl_active_tape; }

Var CurvatureTape::record(LayerRecord record, const Var& first_parameter) {
    const Tensor& theta = model_.parameters().theta();
    const Tensor& p = first_parameter.value();
    POSTR_ASSERT(p.storage() == theta.storage());
    record.offset = p.offset() - theta.offset();
    if (!record.output.requires_grad()) record.output = Var(record.output.value(), true);
    records_.push_back(record);
    return records_.back().output;
}

void CurvatureTape::check_covers_model() const {
    std::vector<const Module*> layers;
    for (const auto& r : records_) layers.push_back(r.layer);
    std::sort(layers.begin(), layers.end());
    POSTR_CHECK(std::adjacent_find(layers.begin(), layers.end()) == layers.end(),
                "curvature: a layer was applied twice in one forward pass (shared weights). The "
                "fast road needs each layer once: use the autodiff road (jacobian, "
                "ggn_vector_product in autodiff/functional.h)");
    std::vector<std::pair<std::int64_t, std::int64_t>> blocks;
    for (const auto& r : records_) blocks.emplace_back(r.offset, r.size);
    std::sort(blocks.begin(), blocks.end());
    std::int64_t next = 0;
    for (const auto& [offset, size] : blocks) {
        POSTR_CHECK(offset == next,
                    offset < next
                        ? "curvature: a layer was applied twice in one forward pass (shared "
                          "weights). The fast road needs each layer once: use the autodiff "
                          "road (jacobian, ggn_vector_product in autodiff/functional.h)"
                        : "curvature: the model has parameters in a layer the fast road does "
                          "not know (it knows Linear, Conv2d and BatchNorm2d). Use the "
                          "autodiff road (autodiff/functional.h) for this model");
        next = offset + size;
    }
    POSTR_CHECK(next == model_.num_parameters(),
                "curvature: the model has parameters in a layer the fast road does not know (it "
                "knows Linear, Conv2d and BatchNorm2d), or a layer was not used in the forward "
                "pass. Use the autodiff road (autodiff/functional.h) for this model");
}

}  // namespace postr::nn
