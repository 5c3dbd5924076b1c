// Module: the base of every layer and model. A module registers named parameters (shape and
// initializer), named buffers and named child modules at construction; finalize() on the root
// then allocates ONE ParameterVector for the whole tree and makes every parameter a view of it.
//
// Parameter order (the flat-θ contract, see parameter_vector.h): a module's own parameters in
// registration order (weight, then bias), then each child's in registration order, recursively.
// Names are PyTorch's: "<child>.<param>", e.g. "layer1.0.conv1.weight", "fc.bias";
// buffers likewise ("layer1.0.bn1.running_mean", "bn1.num_batches_tracked").
//
// Typical use:
//   auto model = resnet18(10, 3, true);       // factories return finalized models
//   Sequential mlp({std::make_shared<Linear>(2, 16), std::make_shared<ReLU>(), ...});
//   mlp.finalize(/*seed=*/0);                  // allocate θ, initialize from the seed
//   Var loss = cross_entropy(mlp(x), labels);
//   loss.backward();
//   mlp.parameters().collect_grads();           // flat gradient in parameters().grad()
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "postr/autodiff/var.h"
#include "postr/nn/init.h"
#include "postr/nn/parameter_vector.h"

namespace postr::nn {

class Module {
  public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // The layer's computation. Throws if the module has not been finalized (directly or as
    // part of a finalized parent).
    virtual Var forward(const Var& x) = 0;
    // Runs forward; in anomaly mode (autodiff/anomaly.h) under a scope naming this module's
    // path in the finalized tree ("layer1.0.conv1"; "model" for the root).
    Var operator()(const Var& x);

    // Training mode (default) or evaluation mode, for this module and all its children.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // Makes this module the root: allocates one ParameterVector (dtype f32/f64, on `device`)
    // for every parameter in the tree, in the documented order, and initializes them with one
    // Generator(seed) in that order, so a seed fixes θ. Buffers are moved to dtype/device.
    // Calling it again re-initializes from the new seed.
    void finalize(std::uint64_t seed = 0, DType dtype = DType::f32, Device device = Device::cpu());
    bool finalized() const { return params_ != nullptr; }

    // The flat θ and gradient shared by the tree. Throws before finalize().
    ParameterVector& parameters();
    const ParameterVector& parameters() const;
    // D; available before finalize() too.
    std::int64_t num_parameters() const;
    // Name → leaf Var (value: a view of θ), in θ order, names prefixed from this module.
    std::vector<std::pair<std::string, Var>> named_parameters() const;
    // Name → buffer tensor (the module's own, so in-place changes are seen by the layer).
    std::vector<std::pair<std::string, Tensor>> named_buffers() const;
    // Name → child, this module's direct children in registration order.
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
        return children_;
    }

    // Evaluates the model at another θ: copies theta ([D]) into the flat vector.
    void load_flat(const Tensor& theta) { parameters().load_flat(theta); }
    // Moves θ, its gradient and the floating buffers (i64 buffers keep their dtype) to a device
    // or dtype, keeping the single flat layout. Only on the finalized root (or a module without
    // parameters); throws otherwise.
    void to(Device device);
    void to(DType dtype);

  protected:
    // Registration, for use in constructors. Each returns the index to use with param() /
    // buffer() / the child pointer. Names must be unique within the module.
    std::size_t register_parameter(const std::string& name, const Shape& shape, Initializer init);
    std::size_t register_buffer(const std::string& name, Tensor value);
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        add_child(name, module);
        return module;
    }

    // The leaf Var of own parameter i (a view of θ). Throws before finalize().
    const Var& param(std::size_t i) const;
    Tensor& buffer(std::size_t i) { return buffers_.at(i).second; }

  private:
    struct ParamSlot {
        std::string name;
        Shape shape;
        Initializer init;
        std::shared_ptr<ParameterVector> owner;  // set by the root's finalize()
        std::size_t index = 0;                   // entry in owner
    };

    void add_child(const std::string& name, std::shared_ptr<Module> module);
    void check_new_name(const std::string& name) const;
    void check_movable(const char* op) const;
    // Visits (full name, slot) in θ order.
    void collect_slots(const std::string& prefix,
                       std::vector<std::pair<std::string, ParamSlot*>>& out);
    void collect_buffers(const std::string& prefix,
                         std::vector<std::pair<std::string, Tensor*>>& out);

    void assign_paths(const std::string& path);

    bool training_ = true;
    std::string path_ = "model";  // set by the root's finalize()
    std::vector<ParamSlot> slots_;
    std::vector<std::pair<std::string, Tensor>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    std::shared_ptr<ParameterVector> params_;  // only on a finalized root
};

}  // namespace postr::nn
