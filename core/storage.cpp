#include "postr/core/storage.h"

#include "postr/core/allocator.h"

namespace postr {

Storage::Storage(std::size_t nbytes, Device device)
    : data_(allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}

Storage::~Storage() { deallocate(data_, nbytes_, device_); }

void* allocate(std::size_t nbytes, Device device) {
    return device.is_cuda() ? detail::cuda_allocate(nbytes, device.index)
                            : detail::cpu_allocate(nbytes);
}

void deallocate(void* ptr, std::size_t nbytes, Device device) {
    if (device.is_cuda())
        detail::cuda_deallocate(ptr, nbytes, device.index);
    else
        detail::cpu_deallocate(ptr, nbytes);
}

MemoryStats memory_stats(Device device) {
    return device.is_cuda() ? detail::cuda_memory_stats(device.index) : detail::cpu_memory_stats();
}

void reset_peak_memory(Device device) {
    if (device.is_cuda())
        detail::cuda_reset_peak(device.index);
    else
        detail::cpu_reset_peak();
}

void empty_cache(Device device) {
    if (device.is_cuda())
        detail::cuda_empty_cache(device.index);
    else
        detail::cpu_empty_cache();
}

}  // namespace postr
