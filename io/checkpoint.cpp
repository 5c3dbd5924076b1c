#include "postr/io/checkpoint.h"

#include <unordered_map>

#include "postr/core/error.h"
#include "postr/io/safetensors.h"

namespace postr::io {
namespace {

// The model's state dict: parameter views of θ, then buffers, by name.
NamedTensors state_of(const nn::Module& model) {
    NamedTensors state;
    for (const auto& [name, var] : model.named_parameters()) state.emplace_back(name, var.value());
    for (const auto& [name, buffer] : model.named_buffers()) state.emplace_back(name, buffer);
    return state;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model,
                     const std::map<std::string, std::string>& metadata) {
    save_safetensors(path, state_of(model), metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& model) {
    SafetensorsFile file = load_safetensors(path);
    std::unordered_map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : file.tensors) by_name.emplace(name, &t);
    NamedTensors state = state_of(model);
    // Validate everything first, so a bad file leaves the model untouched.
    for (const auto& [name, target] : state) {
        auto it = by_name.find(name);
        POSTR_CHECK(it != by_name.end(), "load_checkpoint: \"", path, "\" has no entry \"", name,
                    "\". Check that the file was saved from the same architecture");
        POSTR_CHECK(it->second->shape() == target.shape(), "load_checkpoint: entry \"", name,
                    "\" in \"", path, "\" has shape ", to_string(it->second->shape()),
                    " but the model expects ", to_string(target.shape()),
                    ". Check the architecture (classes, channels, width)");
    }
    POSTR_CHECK(by_name.size() == state.size(), "load_checkpoint: \"", path, "\" has ",
                by_name.size(), " entries but the model has ", state.size(),
                " parameters and buffers. Check that the file was saved from the same "
                "architecture");
    for (auto& [name, target] : state) Tensor(target).copy_(*by_name.at(name));
    return file.metadata;
}

}  // namespace postr::io
