#include "postr/nn/parameter_vector.h"

#include <set>

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

ParameterVector::ParameterVector(const std::vector<std::pair<std::string, Shape>>& layout,
                                 DType dtype, Device device) {
    POSTR_CHECK(is_floating(dtype), "ParameterVector: dtype must be f32 or f64: got ",
                dtype_name(dtype), ". Use DType::f32 or DType::f64");
    std::set<std::string> seen;
    std::int64_t offset = 0;
    for (const auto& [name, shape] : layout) {
        POSTR_CHECK(seen.insert(name).second, "ParameterVector: parameter name is duplicated: \"",
                    name, "\". Give each parameter a unique name");
        for (std::int64_t s : shape)
            POSTR_CHECK(s >= 0, "ParameterVector: parameter \"", name,
                        "\" has a negative size: ", to_string(shape), ". Check the layer sizes");
        entries_.push_back({name, offset, shape});
        offset += numel(shape);
    }
    theta_ = Tensor::zeros({offset}, dtype, device);
    grad_ = Tensor::zeros({offset}, dtype, device);
    rebuild_vars();
}

void ParameterVector::rebuild_vars() {
    vars_.clear();
    vars_.reserve(entries_.size());
    for (const Entry& e : entries_) {
        // narrow + view share θ's storage: no copy, and in-place θ updates are visible.
        Tensor view = theta_.narrow(0, e.offset, numel(e.shape)).view(e.shape);
        vars_.emplace_back(view, true);
    }
}

std::size_t ParameterVector::index_of(const std::string& name) const {
    for (std::size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].name == name) return i;
    detail::fail("ParameterVector: no parameter named \"", name,
                 "\". See named_parameters() for the names");
}

void ParameterVector::collect_grads() {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        Tensor slot = grad_.narrow(0, e.offset, numel(e.shape)).view(e.shape);
        Var& v = vars_[i];
        const Tensor g = v.grad();
        if (g.defined())
            slot.copy_(g);
        else
            slot.zero_();
        v.zero_grad();
    }
}

void ParameterVector::zero_grad() {
    if (grad_.defined()) grad_.zero_();
    for (Var& v : vars_) v.zero_grad();
}

void ParameterVector::load_flat(const Tensor& theta) {
    check_defined("load_flat", "theta", theta);
    POSTR_CHECK(theta.dim() == 1 && theta.numel() == size(),
                "load_flat: theta has the wrong shape: got ", to_string(theta.shape()),
                ", the model has D = ", size(), " parameters. Pass a [D] tensor");
    check_floating("load_flat", "theta", theta);
    theta_.copy_(theta);
}

void ParameterVector::to(Device device) {
    theta_ = theta_.to(device);
    grad_ = grad_.to(device);
    rebuild_vars();
}

void ParameterVector::to(DType dtype) {
    POSTR_CHECK(is_floating(dtype), "ParameterVector::to: dtype must be f32 or f64: got ",
                dtype_name(dtype), ". Use DType::f32 or DType::f64");
    theta_ = theta_.to(dtype);
    grad_ = grad_.to(dtype);
    rebuild_vars();
}

}  // namespace postr::nn

namespace postr::nn {

std::vector<Var> ParameterVector::bind_vars(const Var& theta) {
    POSTR_CHECK(theta.defined() && theta.dim() == 1 && theta.size(0) == size(),
                "functional_call: theta must be [", size(), "] (the model's D): got ",
                theta.defined() ? to_string(theta.shape()) : std::string("undefined"),
                ". Pass a flat parameter vector of this model");
    POSTR_CHECK(theta.dtype() == dtype() && theta.device() == device(),
                "functional_call: theta is ", dtype_name(theta.dtype()), " on ",
                theta.device().name(), " but the model is ", dtype_name(dtype()), " on ",
                device().name(), ". Convert theta, or move the model with to()");
    std::vector<Var> bound;
    bound.reserve(entries_.size());
    for (const Entry& e : entries_)
        bound.push_back(reshape(narrow(theta, 0, e.offset, numel(e.shape)), e.shape));
    std::swap(bound, vars_);
    return bound;
}

}  // namespace postr::nn
