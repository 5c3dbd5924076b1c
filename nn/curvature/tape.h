// The curvature tape: the fast road's record of a forward pass (DESIGN.md decision 2). While a
// tape is active on this thread, every Linear, Conv2d and BatchNorm2d forward records one
// LayerRecord: what the layer's curvature kernel (kernels/curvature_ops.h) needs — its input
// (for BatchNorm2d the normalized input x̂) — the layer's output as a Var in the graph, and
// where its parameter block lives in θ.
//
// The tape also turns the model's parameters into constants for its lifetime, so a backward
// pass from the outputs computes only the cotangents at the layers' outputs (a batch of K per
// sample, in one pass) and never a weight gradient the curvature kernels would recompute.
#pragma once

#include <cstdint>
#include <vector>

#include "postr/autodiff/var.h"
#include "postr/kernels/ops.h"

namespace postr::nn {

class Module;

struct LayerRecord {
    enum class Kind { linear, conv2d, channel_affine };
    Kind kind;
    const Module* layer;
    Tensor input;             // linear: x [N, I]; conv2d: x [N, I, H, W]; affine: x̂ [N, C, H, W]
    Var output;               // in the graph; requires grad
    std::int64_t offset = 0;  // first index of the layer's block in θ
    std::int64_t size = 0;    // P, the block's length: weight then bias
    bool has_bias = false;
    std::int64_t kernel_h = 0, kernel_w = 0;  // conv2d only
    Conv2dOptions options{};                  // conv2d only
};

class CurvatureTape {
  public:
    // Records the forward passes of `model` (its root) run while the tape lives. Throws when
    // another tape is active on this thread or the model is in training mode (curvature is
    // taken at fixed batch-norm statistics: call model.eval()).
    explicit CurvatureTape(Module& model);
    ~CurvatureTape();
    CurvatureTape(const CurvatureTape&) = delete;
    CurvatureTape& operator=(const CurvatureTape&) = delete;

    // The tape recording on this thread, or null.
    static CurvatureTape* active();
    // Called by the layers: stores the record, with its offset found from the layer's first
    // parameter (a view of θ), and returns the Var the layer must return (its output, made a
    // graph input when nothing before it was one).
    Var record(LayerRecord record, const Var& first_parameter);
    const std::vector<LayerRecord>& records() const { return records_; }
    // Throws unless the records cover every parameter of the model exactly once (a layer the
    // fast road does not know, or one applied twice, would make its Jacobian wrong).
    void check_covers_model() const;

  private:
    Module& model_;
    std::vector<Var> frozen_;  // parameter leaves whose requires_grad the tape turned off
    std::vector<LayerRecord> records_;
};

}  // namespace postr::nn
