// Model checkpoints: a module's parameters and buffers under their PyTorch state-dict names
// ("conv1.weight", "layer1.0.bn1.running_mean", ...) in one safetensors file, so a checkpoint
// written by PyTorch loads here and one written here loads in PyTorch.
#pragma once

#include <map>
#include <string>

#include "postr/io/safetensors.h"
#include "postr/nn/module.h"
#include "postr/nn/optim/optimizer_state.h"

namespace postr::io {

// Writes every named parameter and buffer of a finalized `model` (atomically: a temporary file
// renamed over `path`, see save_safetensors), with `metadata`.
void save_checkpoint(const std::string& path, const nn::Module& model,
                     const std::map<std::string, std::string>& metadata = {});

// Loads `path` into `model` in place (θ and buffers keep their device and dtype; values are
// converted). Every parameter and buffer must be present with its shape; a missing, extra or
// misshapen entry throws postr::Error naming it, before anything is changed. Returns the
// file's metadata. Entries under "optimizer." (a training checkpoint's) are ignored.
std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& model);

// A model checkpoint with a section of extra entries stored under `section` + "." (the
// optimizer's state of a training checkpoint, a fitted posterior...), plus metadata. It stays
// a valid model checkpoint: load_checkpoint and PyTorch skip the sections named in
// kCheckpointSections. `section` must be one of them.
inline constexpr const char* kCheckpointSections[] = {"optimizer", "posterior"};
void save_checkpoint_with_section(const std::string& path, const nn::Module& model,
                                  const std::string& section, const NamedTensors& entries,
                                  const std::map<std::string, std::string>& metadata = {});
struct CheckpointSection {
    std::map<std::string, std::string> metadata;
    NamedTensors entries;  // names without the section prefix; CPU tensors
};
// Loads the model in place (as load_checkpoint) and returns the section's entries and the
// metadata. Throws postr::Error, before changing the model, when the file has no entry in the
// section (naming what the file is instead).
CheckpointSection load_checkpoint_with_section(const std::string& path, nn::Module& model,
                                               const std::string& section);

// A training checkpoint, for resuming a run exactly: the model as above, plus the optimizer's
// state (Sgd::state(), Adam::state()) under "optimizer.<name>", plus the caller's metadata
// (epoch, step, settings...). Still a valid model checkpoint for load_checkpoint and PyTorch.
void save_training_checkpoint(const std::string& path, const nn::Module& model,
                              const nn::OptimizerState& optimizer,
                              const std::map<std::string, std::string>& metadata = {});
struct TrainingCheckpoint {
    std::map<std::string, std::string> metadata;
    nn::OptimizerState optimizer;  // pass to the optimizer's load_state
};
// Loads the model in place (as load_checkpoint) and returns the optimizer state and metadata.
TrainingCheckpoint load_training_checkpoint(const std::string& path, nn::Module& model);

}  // namespace postr::io
