// Model checkpoints: a module's parameters and buffers under their PyTorch state-dict names
// ("conv1.weight", "layer1.0.bn1.running_mean", ...) in one safetensors file, so a checkpoint
// written by PyTorch loads here and one written here loads in PyTorch.
#pragma once

#include <map>
#include <string>

#include "postr/nn/module.h"

namespace postr::io {

// Writes every named parameter and buffer of a finalized `model` (atomically: a temporary file
// renamed over `path`, see save_safetensors), with `metadata`.
void save_checkpoint(const std::string& path, const nn::Module& model,
                     const std::map<std::string, std::string>& metadata = {});

// Loads `path` into `model` in place (θ and buffers keep their device and dtype; values are
// converted). Every parameter and buffer must be present with its shape; a missing, extra or
// misshapen entry throws postr::Error naming it, before anything is changed. Returns the
// file's metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& model);

}  // namespace postr::io
