// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), readable
// by PyTorch, JAX and the Hugging Face tools: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then
// the raw little-endian data.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
    NamedTensors tensors;  // in file data order; CPU, contiguous
    std::map<std::string, std::string> metadata;
};

// Writes `tensors` (f32 → "F32", f64 → "F64", i64 → "I64"; any device, any layout: CUDA
// tensors are copied to the host) with their data in the given order, and `metadata`.
// Atomic: the bytes go to `path` + ".tmp", which is flushed, fsynced and renamed over `path` (and
// the directory fsynced), so an existing file survives any failure, a SIGKILL or a power loss.
// Concurrent saves to one path (other processes or threads) take turns on a lock of the
// temporary file; a SIGKILLed save may leave "<path>.tmp", which the next save reuses. Throws
// postr::Error naming the path and the system's reason when a file cannot be opened, written or
// renamed, for an undefined tensor, an empty or duplicate name, or the reserved name
// "__metadata__".
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a safetensors file into CPU tensors. Validates everything before trusting it: file size
// ≥ 8, the header length within the file, the JSON, dtypes (F32, F64, I64; others such as F16 or
// BF16 are rejected by name), shapes, offsets within the data section, non-overlapping, and each
// size equal to numel × itemsize. Throws postr::Error naming the path and the problem; never
// crashes on a truncated or corrupt file.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace postr::io
