#include "postr/io/checkpoint.h"

#include <string_view>
#include <unordered_map>

#include "postr/core/error.h"
#include "postr/io/safetensors.h"

namespace postr::io {
namespace {

constexpr std::string_view kOptimizerPrefix = "optimizer.";

bool is_optimizer_entry(const std::string& name) { return name.starts_with(kOptimizerPrefix); }

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

namespace {

// Copies the model's entries of `file` into `model`, after checking all of them.
void load_model_entries(const std::string& path, const SafetensorsFile& file, nn::Module& model) {
    std::unordered_map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : file.tensors)
        if (!is_optimizer_entry(name)) by_name.emplace(name, &t);
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
}

}  // namespace

std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& model) {
    SafetensorsFile file = load_safetensors(path);
    load_model_entries(path, file, model);
    return file.metadata;
}

void save_training_checkpoint(const std::string& path, const nn::Module& model,
                              const nn::OptimizerState& optimizer,
                              const std::map<std::string, std::string>& metadata) {
    NamedTensors entries = state_of(model);
    for (const auto& [name, t] : optimizer)
        entries.emplace_back(std::string(kOptimizerPrefix) + name, t);
    save_safetensors(path, entries, metadata);
}

TrainingCheckpoint load_training_checkpoint(const std::string& path, nn::Module& model) {
    SafetensorsFile file = load_safetensors(path);
    TrainingCheckpoint out;
    for (const auto& [name, t] : file.tensors)
        if (is_optimizer_entry(name))
            out.optimizer.emplace_back(name.substr(kOptimizerPrefix.size()), t);
    POSTR_CHECK(!out.optimizer.empty(), "load_training_checkpoint: \"", path,
                "\" has no optimizer state (no \"optimizer.*\" entries). It is a model "
                "checkpoint: load it with load_checkpoint and start a fresh optimizer");
    load_model_entries(path, file, model);
    out.metadata = std::move(file.metadata);
    return out;
}

}  // namespace postr::io
