// Device entry points of top-k, declared once for the CPU and once for CUDA, and the
// order-preserving key both devices rank by, so their results agree exactly.
//
// The order: an element a comes before b when key(a) > key(b), or the keys are equal and a's
// index is lower. key() maps a float to an unsigned integer that preserves the order of values
// (largest = true) or reverses it (largest = false), with two documented choices:
//   - NaN counts as larger than +inf (as torch.topk does): first when largest, last when not;
//     all NaNs tie, whatever their sign or payload;
//   - -0.0 and +0.0 tie (they compare equal), so the lower index comes first.
#pragma once

#include <cstdint>
#include <cstring>

#include "postr/core/host_device.h"
#include "postr/core/tensor.h"

namespace postr {

namespace detail {
POSTR_HD inline std::uint32_t topk_key(float v, bool largest) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (v != v) bits = 0x7fffffffu;  // NaN: above +inf (0x7f800000) once mapped
    if (v == 0.0f) bits = 0;         // -0.0 ties with +0.0
    // Negative floats order inversely to their bit patterns: flip all bits; positive ones
    // only gain the sign bit, so they sit above every negative.
    std::uint32_t key = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    return largest ? key : ~key;
}
POSTR_HD inline std::uint64_t topk_key(double v, bool largest) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (v != v) bits = 0x7fffffffffffffffull;
    if (v == 0.0) bits = 0;
    std::uint64_t key = (bits & 0x8000000000000000ull) ? ~bits : bits | 0x8000000000000000ull;
    return largest ? key : ~key;
}
}  // namespace detail

namespace cpu {
// x: [D] f32/f64 (any stride), 0 <= k <= D; values: [k] of x's dtype, indices: [k] i64, both
// contiguous.
void topk(const Tensor& x, std::int64_t k, bool largest, const Tensor& values,
          const Tensor& indices);
}  // namespace cpu

namespace cuda {
// As the CPU version; D < 2^32 (indices are carried as 32 bits inside the kernels).
void topk(const Tensor& x, std::int64_t k, bool largest, const Tensor& values,
          const Tensor& indices);
}  // namespace cuda

}  // namespace postr
