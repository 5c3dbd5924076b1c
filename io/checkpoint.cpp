#include "postr/io/checkpoint.h"

#include <string>
#include <unordered_map>

#include "postr/core/error.h"
#include "postr/io/safetensors.h"

namespace postr::io {
namespace {

std::string prefix_of(const std::string& section) { return section + "."; }

// Entries of a section (optimizer state, posterior...) are not part of the model.
bool is_section_entry(const std::string& name) {
    for (const char* section : kCheckpointSections)
        if (name.starts_with(prefix_of(section))) return true;
    return false;
}

void check_section(const char* op, const std::string& section) {
    for (const char* known : kCheckpointSections)
        if (section == known) return;
    throw Error(std::string(op) + ": unknown checkpoint section \"" + section +
                "\". Use one of the names in io::kCheckpointSections");
}

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
        if (!is_section_entry(name)) by_name.emplace(name, &t);
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

void save_checkpoint_with_section(const std::string& path, const nn::Module& model,
                                  const std::string& section, const NamedTensors& entries,
                                  const std::map<std::string, std::string>& metadata) {
    check_section("save_checkpoint_with_section", section);
    NamedTensors all = state_of(model);
    for (const auto& [name, t] : entries) all.emplace_back(prefix_of(section) + name, t);
    save_safetensors(path, all, metadata);
}

CheckpointSection load_checkpoint_with_section(const std::string& path, nn::Module& model,
                                               const std::string& section) {
    check_section("load_checkpoint_with_section", section);
    SafetensorsFile file = load_safetensors(path);
    CheckpointSection out;
    const std::string prefix = prefix_of(section);
    for (const auto& [name, t] : file.tensors)
        if (name.starts_with(prefix)) out.entries.emplace_back(name.substr(prefix.size()), t);
    POSTR_CHECK(!out.entries.empty(), "load_checkpoint_with_section: \"", path, "\" has no \"",
                prefix, "*\" entries: it holds no ", section, " state",
                ". Check the path (a plain model checkpoint loads with load_checkpoint)");
    load_model_entries(path, file, model);
    out.metadata = std::move(file.metadata);
    return out;
}

void save_training_checkpoint(const std::string& path, const nn::Module& model,
                              const nn::OptimizerState& optimizer,
                              const std::map<std::string, std::string>& metadata) {
    save_checkpoint_with_section(path, model, "optimizer", optimizer, metadata);
}

TrainingCheckpoint load_training_checkpoint(const std::string& path, nn::Module& model) {
    CheckpointSection section = load_checkpoint_with_section(path, model, "optimizer");
    return {std::move(section.metadata), std::move(section.entries)};
}

}  // namespace postr::io
