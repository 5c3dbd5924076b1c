// Shapes and strides (in elements), and the broadcasting rules every op shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace postr {

using Shape = std::vector<std::int64_t>;

// Highest rank a tensor may have; CUDA kernels carry index arithmetic for this many dims.
inline constexpr int kMaxDims = 10;

std::int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);  // "[2, 3]"

// Normalizes a possibly negative dim against rank `ndim`; throws naming `op` if out of range.
int wrap_dim(const char* op, int dim, int ndim);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

}  // namespace postr
