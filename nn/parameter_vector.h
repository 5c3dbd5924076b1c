// ParameterVector: the one flat parameter vector θ ∈ R^D of a model (DESIGN decision 1) and its
// flat gradient, with an ordered registry of named parameters that are views into θ.
//
// Layout contract: parameters are laid out in registration order, each one contiguous and
// row-major at its offset. Modules register their own parameters before their children's, and
// each layer registers weight then bias, so a model's θ is "layer by layer, weight then bias"
// in the order of named_parameters() (the order PyTorch's named_parameters() uses).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "postr/autodiff/var.h"
#include "postr/core/tensor.h"

namespace postr::nn {

class ParameterVector {
  public:
    struct Entry {
        std::string name;
        std::int64_t offset = 0;  // in elements, into θ
        Shape shape;
    };

    ParameterVector() = default;
    // Allocates θ and its gradient (zeros, [D] with D = Σ numel(shape)) and one leaf Var per
    // entry whose value is a view of θ. Throws on duplicate names or negative sizes.
    ParameterVector(const std::vector<std::pair<std::string, Shape>>& layout,
                    DType dtype = DType::f32, Device device = Device::cpu());

    std::int64_t size() const { return theta_.defined() ? theta_.numel() : 0; }  // D
    DType dtype() const { return theta_.dtype(); }
    Device device() const { return theta_.device(); }

    // θ: [D]. In-place updates (optimizers, samplers) are seen by every parameter view.
    Tensor& theta() { return theta_; }
    const Tensor& theta() const { return theta_; }
    // The flat gradient: [D], filled by collect_grads().
    Tensor& grad() { return grad_; }
    const Tensor& grad() const { return grad_; }

    const std::vector<Entry>& entries() const { return entries_; }
    std::size_t count() const { return entries_.size(); }
    // The leaf Var (requires grad) of entry i; its value is a view of θ.
    const Var& var(std::size_t i) const { return vars_.at(i); }
    // Makes every var(i) a view of `theta` (a [D] Var of θ's dtype and device, e.g. one that
    // requires grad or carries a tangent), so the model computes as a function of it; returns
    // the previous Vars for restore_vars. Used by functional_call (nn/functional_call.h).
    std::vector<Var> bind_vars(const Var& theta);
    void restore_vars(std::vector<Var> previous) { vars_ = std::move(previous); }
    // Index of the entry called `name`; throws if there is none.
    std::size_t index_of(const std::string& name) const;

    // Copies each leaf's accumulated .grad into its slice of grad() (zero where a leaf got
    // none) and clears the leaf grads, so the next backward starts from zero.
    void collect_grads();
    // Zeros grad() and clears the leaf grads.
    void zero_grad();
    // θ ← theta (a [D] tensor of any floating dtype/device; cast and copied). Throws when the
    // size differs.
    void load_flat(const Tensor& theta);

    // Moves θ and its gradient to a device or dtype (f32/f64), keeping the layout; the leaf
    // Vars are rebuilt over the new θ (handles obtained earlier keep the old values).
    void to(Device device);
    void to(DType dtype);

  private:
    void rebuild_vars();

    std::vector<Entry> entries_;
    Tensor theta_;
    Tensor grad_;
    std::vector<Var> vars_;
};

}  // namespace postr::nn
