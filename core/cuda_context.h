// The CUDA runtime as postr's public headers see it: no CUDA types, just queries and an opaque
// stream. Built without CUDA, every query answers "no device".
#pragma once

#include "postr/config.h"

namespace postr {

// Number of usable CUDA devices; 0 without a driver, a device, or a CUDA build.
int cuda_device_count();
inline bool cuda_is_available() { return cuda_device_count() > 0; }

// Waits for all postr work queued on CUDA device `device`.
void cuda_synchronize(int device = 0);

// The stream postr's kernels on `device` are queued on (a cudaStream_t behind the void*).
// One stream per device keeps the caching allocator's reuse ordered without events.
struct Stream {
    void* handle = nullptr;
};
Stream cuda_stream(int device = 0);

}  // namespace postr
