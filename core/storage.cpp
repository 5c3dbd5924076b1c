#include "postr/core/storage.h"

#include <atomic>

#include "postr/core/allocator.h"
#include "postr/core/error.h"

namespace postr {

Storage::Storage(std::size_t nbytes, Device device)
    : data_(allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}

Storage::~Storage() { deallocate(data_, nbytes_, device_); }

namespace {

// Index 0: the host; 1 + i: cuda:i.
constexpr int kMaxLimitedDevices = 65;
std::atomic<std::size_t> g_limits[kMaxLimitedDevices];

std::atomic<std::size_t>& limit_of(Device device) {
    const int slot = device.is_cuda() ? 1 + device.index : 0;
    POSTR_CHECK(slot >= 0 && slot < kMaxLimitedDevices, "memory limit: device index ", device.index,
                " is out of range");
    return g_limits[slot];
}

}  // namespace

void set_memory_limit(Device device, std::size_t bytes) { limit_of(device).store(bytes); }
std::size_t memory_limit(Device device) { return limit_of(device).load(); }

void* allocate(std::size_t nbytes, Device device) {
    if (const std::size_t limit = memory_limit(device); limit != 0 && nbytes != 0) {
        const std::size_t in_use = memory_stats(device).in_use;
        if (in_use + nbytes > limit)
            throw OutOfMemory(
                detail::concat("allocate: ", nbytes, " bytes on ", device.name(),
                               " would pass the memory limit of ", limit, " bytes (", in_use,
                               " in use). Use a smaller chunk, batch or "
                               "subnetwork, or raise the limit (set_memory_limit)"),
                nbytes, limit > in_use ? limit - in_use : 0);
    }
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
