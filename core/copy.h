// The data movement Tensor itself needs: strided copy with dtype cast, fill, and transfers
// between host and device. The only arithmetic in core (DESIGN: "core has no math", with the one
// exception a usable Tensor forces).
#pragma once

#include <cstddef>

namespace postr {
class Tensor;
}

namespace postr::detail {

// dst and src on the same device, same shape (src already expanded); any dtypes.
void copy_same_device_cpu(const Tensor& src, const Tensor& dst);
void copy_same_device_cuda(const Tensor& src, const Tensor& dst);
void fill_cpu(const Tensor& dst, double value);
void fill_cuda(const Tensor& dst, double value);
// Contiguous bytes between host and device; synchronous with respect to postr's stream.
void memcpy_host_to_device(void* dst, const void* src, std::size_t nbytes, int device);
void memcpy_device_to_host(void* dst, const void* src, std::size_t nbytes, int device);
void memcpy_device_to_device(void* dst, const void* src, std::size_t nbytes, int device);

}  // namespace postr::detail
