// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::io {

// Reads an IDX file of unsigned bytes (type code 0x08) into a CPU tensor whose shape is the
// file's dimensions, e.g. [N, 28, 28] for images and [N] for labels. Values are the raw bytes
// 0..255 converted to `dtype` (f32, f64 or i64). Gzip is detected from the magic bytes 1f 8b, so
// "x.gz" and "x" are read the same way.
// Throws postr::Error naming the path when the file is missing or unreadable, the gzip stream is
// corrupt, the magic number or type code is wrong, or the data size disagrees with the dims.
Tensor read_idx(const std::string& path, DType dtype = DType::f32);

// The whole file, decompressed when it starts with the gzip magic. Throws as read_idx.
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path, const char* op);

}  // namespace postr::io
