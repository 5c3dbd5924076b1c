// The CUDA entry points of core for a build without CUDA: no devices, and a clear error for
// anyone who asks for one anyway.
#include "postr/core/allocator.h"
#include "postr/core/cuda_context.h"
#include "postr/core/error.h"

namespace postr {

int cuda_device_count() { return 0; }
void cuda_synchronize(int) { throw_cuda_unavailable("cuda_synchronize"); }
Stream cuda_stream(int) { throw_cuda_unavailable("cuda_stream"); }

namespace detail {
void* cuda_allocate(std::size_t, int) { throw_cuda_unavailable("allocate"); }
void cuda_deallocate(void*, std::size_t, int) {}
MemoryStats cuda_memory_stats(int) { throw_cuda_unavailable("memory_stats"); }
void cuda_reset_peak(int) { throw_cuda_unavailable("reset_peak_memory"); }
void cuda_empty_cache(int) { throw_cuda_unavailable("empty_cache"); }
}  // namespace detail

}  // namespace postr
