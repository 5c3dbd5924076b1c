// Caching CUDA allocator. Blocks are rounded to 512 bytes (to a 2 MiB multiple from 1 MiB up)
// and kept on free. All postr work on a device runs on one stream, so a freed block can be
// handed out again at once: later work is queued behind the work that used it.
#include "postr/core/allocator.h"

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "postr/core/cuda/check.h"
#include "postr/core/cuda_context.h"

namespace postr::detail {
namespace {

std::size_t round_size(std::size_t n) {
    constexpr std::size_t kSmall = 512, kLarge = std::size_t{2} << 20;
    if (n < (std::size_t{1} << 20)) return (n + kSmall - 1) / kSmall * kSmall;
    return (n + kLarge - 1) / kLarge * kLarge;
}

struct DeviceCache {
    std::multimap<std::size_t, void*> free_blocks;  // block size -> block
    std::unordered_map<void*, std::size_t> live;    // block -> its size (may exceed the request)
    MemoryStats stats;
};

struct CudaCache {
    std::mutex mutex;
    std::vector<DeviceCache> devices;
    DeviceCache& at(int device) {
        if (devices.empty()) devices.resize(static_cast<std::size_t>(cuda_device_count()));
        POSTR_CHECK(device >= 0 && device < static_cast<int>(devices.size()), "cuda: device ",
                    device, " does not exist: ", devices.size(), " device(s) found. Use cuda:0");
        return devices[static_cast<std::size_t>(device)];
    }
};

CudaCache& cache() {
    static CudaCache* c = new CudaCache;  // never destroyed: the driver may be gone at exit
    return *c;
}

void release_all_locked(DeviceCache& d) {
    for (auto& [size, ptr] : d.free_blocks) {
        POSTR_CUDA_CHECK_NOTHROW(cudaFree(ptr));
        d.stats.reserved -= size;
    }
    d.free_blocks.clear();
}

class DeviceGuard {
  public:
    explicit DeviceGuard(int device) {
        POSTR_CUDA_CHECK(cudaGetDevice(&previous_));
        if (previous_ != device) POSTR_CUDA_CHECK(cudaSetDevice(device));
    }
    ~DeviceGuard() { POSTR_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_)); }

  private:
    int previous_ = 0;
};

}  // namespace

void* cuda_allocate(std::size_t nbytes, int device) {
    if (nbytes == 0) return nullptr;
    std::size_t n = round_size(nbytes);
    std::lock_guard lock(cache().mutex);
    DeviceCache& d = cache().at(device);
    ++d.stats.allocations;
    void* p = nullptr;
    // Best fit among cached blocks, but never a block more than twice the request.
    if (auto it = d.free_blocks.lower_bound(n); it != d.free_blocks.end() && it->first <= 2 * n) {
        p = it->second;
        n = it->first;
        d.free_blocks.erase(it);
    } else {
        DeviceGuard guard(device);
        cudaError_t status = cudaMalloc(&p, n);
        if (status == cudaErrorMemoryAllocation) {
            static_cast<void>(cudaGetLastError());
            release_all_locked(d);
            status = cudaMalloc(&p, n);
        }
        if (status == cudaErrorMemoryAllocation) {
            static_cast<void>(cudaGetLastError());
            std::size_t free_bytes = 0, total_bytes = 0;
            POSTR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
            throw OutOfMemory(
                concat("allocate: cuda:", device, " is out of memory: requested ", nbytes,
                       " bytes, ", free_bytes, " free of ", total_bytes, ", postr holds ",
                       d.stats.in_use, " in use. Use a smaller chunk, batch or subnetwork"),
                nbytes, free_bytes);
        }
        POSTR_CUDA_CHECK(status);
        ++d.stats.system_allocations;
        d.stats.reserved += n;
    }
    d.stats.in_use += n;
    if (d.stats.in_use > d.stats.peak) d.stats.peak = d.stats.in_use;
    d.live[p] = n;
    return p;
}

void cuda_deallocate(void* ptr, std::size_t, int device) {
    if (!ptr) return;
    std::lock_guard lock(cache().mutex);
    DeviceCache& d = cache().at(device);
    auto it = d.live.find(ptr);
    if (it == d.live.end()) return;  // not ours; nothing sane to do in a destructor path
    d.stats.in_use -= it->second;
    d.free_blocks.emplace(it->second, ptr);
    d.live.erase(it);
}

MemoryStats cuda_memory_stats(int device) {
    std::lock_guard lock(cache().mutex);
    return cache().at(device).stats;
}

void cuda_reset_peak(int device) {
    std::lock_guard lock(cache().mutex);
    DeviceCache& d = cache().at(device);
    d.stats.peak = d.stats.in_use;
}

void cuda_empty_cache(int device) {
    std::lock_guard lock(cache().mutex);
    cuda_synchronize(device);  // queued work may still use cached blocks
    release_all_locked(cache().at(device));
}

}  // namespace postr::detail
