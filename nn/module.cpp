#include "postr/nn/module.h"

#include "postr/autodiff/anomaly.h"
#include "postr/core/error.h"

namespace postr::nn {

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::check_new_name(const std::string& name) const {
    POSTR_CHECK(!name.empty() && name.find('.') == std::string::npos,
                "Module: name must be non-empty and contain no '.': got \"", name,
                "\". Use a plain identifier");
    bool taken = false;
    for (const auto& s : slots_) taken = taken || s.name == name;
    for (const auto& b : buffers_) taken = taken || b.first == name;
    for (const auto& c : children_) taken = taken || c.first == name;
    POSTR_CHECK(!taken, "Module: name is already registered: \"", name,
                "\". Give each parameter, buffer and child a unique name");
}

std::size_t Module::register_parameter(const std::string& name, const Shape& shape,
                                       Initializer init) {
    check_new_name(name);
    POSTR_CHECK(init != nullptr, "register_parameter: initializer of \"", name,
                "\" is empty. Pass e.g. constant_init(0)");
    slots_.push_back({name, shape, std::move(init), nullptr, 0});
    return slots_.size() - 1;
}

std::size_t Module::register_buffer(const std::string& name, Tensor value) {
    check_new_name(name);
    check_defined("register_buffer", name.c_str(), value);
    buffers_.emplace_back(name, std::move(value));
    return buffers_.size() - 1;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
    check_new_name(name);
    POSTR_CHECK(module != nullptr, "register_module: child \"", name,
                "\" is null. Pass a constructed module");
    children_.emplace_back(name, std::move(module));
}

const Var& Module::param(std::size_t i) const {
    const ParamSlot& s = slots_.at(i);
    POSTR_CHECK(s.owner != nullptr, "Module: parameter \"", s.name,
                "\" has no storage yet. Call finalize(seed) on the root model first");
    return s.owner->var(s.index);
}

void Module::collect_slots(const std::string& prefix,
                           std::vector<std::pair<std::string, ParamSlot*>>& out) {
    for (auto& s : slots_) out.emplace_back(prefix + s.name, &s);
    for (auto& [name, child] : children_) child->collect_slots(prefix + name + ".", out);
}

void Module::collect_buffers(const std::string& prefix,
                             std::vector<std::pair<std::string, Tensor*>>& out) {
    for (auto& [name, t] : buffers_) out.emplace_back(prefix + name, &t);
    for (auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

Var Module::operator()(const Var& x) {
    if (!anomaly_detection_enabled()) return forward(x);
    AnomalyScope scope(path_);
    return forward(x);
}

void Module::assign_paths(const std::string& path) {
    path_ = path.empty() ? "model" : path;
    for (auto& [name, child] : children_)
        child->assign_paths(path.empty() ? name : path + "." + name);
}

void Module::finalize(std::uint64_t seed, DType dtype, Device device) {
    assign_paths("");
    std::vector<std::pair<std::string, ParamSlot*>> slots;
    collect_slots("", slots);
    std::vector<std::pair<std::string, Shape>> layout;
    layout.reserve(slots.size());
    for (const auto& [name, slot] : slots) layout.emplace_back(name, slot->shape);
    auto pv = std::make_shared<ParameterVector>(layout, dtype, device);
    Generator gen(seed);
    for (std::size_t i = 0; i < slots.size(); ++i) {
        ParamSlot* s = slots[i].second;
        Tensor view = pv->var(i).value();
        view.copy_(s->init(s->shape, gen, dtype, device));
        s->owner = pv;
        s->index = i;
    }
    params_ = std::move(pv);
    std::vector<std::pair<std::string, Tensor*>> buffers;
    collect_buffers("", buffers);
    for (auto& [name, t] : buffers) {
        *t = t->to(device);
        if (is_floating(t->dtype())) *t = t->to(dtype);
    }
}

ParameterVector& Module::parameters() {
    POSTR_CHECK(params_ != nullptr,
                "Module::parameters: this module is not a finalized root. Call finalize(seed) "
                "on it (or use the root model's parameters())");
    return *params_;
}

const ParameterVector& Module::parameters() const {
    return const_cast<Module*>(this)->parameters();
}

std::int64_t Module::num_parameters() const {
    std::vector<std::pair<std::string, ParamSlot*>> slots;
    const_cast<Module*>(this)->collect_slots("", slots);
    std::int64_t d = 0;
    for (const auto& [name, s] : slots) d += numel(s->shape);
    return d;
}

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
    std::vector<std::pair<std::string, ParamSlot*>> slots;
    const_cast<Module*>(this)->collect_slots("", slots);
    std::vector<std::pair<std::string, Var>> out;
    out.reserve(slots.size());
    for (const auto& [name, s] : slots) {
        POSTR_CHECK(s->owner != nullptr, "named_parameters: parameter \"", name,
                    "\" has no storage yet. Call finalize(seed) on the root model first");
        out.emplace_back(name, s->owner->var(s->index));
    }
    return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
    std::vector<std::pair<std::string, Tensor*>> buffers;
    const_cast<Module*>(this)->collect_buffers("", buffers);
    std::vector<std::pair<std::string, Tensor>> out;
    out.reserve(buffers.size());
    for (const auto& [name, t] : buffers) out.emplace_back(name, *t);
    return out;
}

void Module::check_movable(const char* op) const {
    POSTR_CHECK(params_ != nullptr || num_parameters() == 0, op,
                ": this module has parameters but is not a finalized root. Call finalize(seed) "
                "on it, or move the root model");
}

void Module::to(Device device) {
    check_movable("Module::to");
    if (params_) params_->to(device);
    std::vector<std::pair<std::string, Tensor*>> buffers;
    collect_buffers("", buffers);
    for (auto& [name, t] : buffers) *t = t->to(device);
}

void Module::to(DType dtype) {
    check_movable("Module::to");
    if (params_) params_->to(dtype);
    std::vector<std::pair<std::string, Tensor*>> buffers;
    collect_buffers("", buffers);
    for (auto& [name, t] : buffers)
        if (is_floating(t->dtype())) *t = t->to(dtype);
}

}  // namespace postr::nn
