// Host allocator: 64-byte aligned, with a cache of large blocks. Small blocks go straight to the
// C allocator (already fast for them); blocks of 1 MiB and up are rounded to a size class and
// kept on free, because mapping fresh pages costs far more than the arithmetic done in them.
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "postr/core/allocator.h"
#include "postr/core/error.h"

namespace postr::detail {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kCacheThreshold = std::size_t{1} << 20;
// Cached-but-unused bytes beyond this are returned to the system.
constexpr std::size_t kMaxCachedBytes = std::size_t{8} << 30;

// Rounds to a quarter of the size's power of two, so a class wastes at most 25%.
std::size_t size_class(std::size_t n) {
    std::size_t p = std::size_t{1} << (63 - __builtin_clzll(n));
    std::size_t step = p / 4;
    return (n + step - 1) / step * step;
}

struct CpuCache {
    std::mutex mutex;
    std::multimap<std::size_t, void*> free_blocks;  // size class -> block
    std::size_t cached = 0;
    MemoryStats stats;
};

CpuCache& cache() {
    static CpuCache* c = new CpuCache;  // never destroyed: tensors may outlive static teardown
    return *c;
}

void* system_allocate(std::size_t n) {
    void* p = std::aligned_alloc(kAlignment, (n + kAlignment - 1) / kAlignment * kAlignment);
    if (!p)
        throw OutOfMemory(concat("allocate: host allocation of ", n,
                                 " bytes failed. Free tensors or reduce the batch or chunk size"),
                          n, 0);
    return p;
}

void release_cached_locked(CpuCache& c, std::size_t keep) {
    while (c.cached > keep && !c.free_blocks.empty()) {
        auto it = std::prev(c.free_blocks.end());  // largest first
        c.cached -= it->first;
        c.stats.reserved -= it->first;
        std::free(it->second);
        c.free_blocks.erase(it);
    }
}

}  // namespace

void* cpu_allocate(std::size_t nbytes) {
    if (nbytes == 0) return nullptr;
    CpuCache& c = cache();
    std::size_t n = nbytes >= kCacheThreshold ? size_class(nbytes) : nbytes;
    std::lock_guard lock(c.mutex);
    ++c.stats.allocations;
    void* p = nullptr;
    if (n >= kCacheThreshold) {
        if (auto it = c.free_blocks.find(n); it != c.free_blocks.end()) {
            p = it->second;
            c.cached -= n;
            c.free_blocks.erase(it);
        }
    }
    if (!p) {
        p = system_allocate(n);
        ++c.stats.system_allocations;
        c.stats.reserved += n;
    }
    c.stats.in_use += n;
    if (c.stats.in_use > c.stats.peak) c.stats.peak = c.stats.in_use;
    return p;
}

void cpu_deallocate(void* ptr, std::size_t nbytes) {
    if (!ptr) return;
    CpuCache& c = cache();
    std::size_t n = nbytes >= kCacheThreshold ? size_class(nbytes) : nbytes;
    std::lock_guard lock(c.mutex);
    c.stats.in_use -= n;
    if (n >= kCacheThreshold) {
        c.free_blocks.emplace(n, ptr);
        c.cached += n;
        release_cached_locked(c, kMaxCachedBytes);
    } else {
        c.stats.reserved -= n;
        std::free(ptr);
    }
}

MemoryStats cpu_memory_stats() {
    std::lock_guard lock(cache().mutex);
    return cache().stats;
}

void cpu_reset_peak() {
    std::lock_guard lock(cache().mutex);
    cache().stats.peak = cache().stats.in_use;
}

void cpu_empty_cache() {
    std::lock_guard lock(cache().mutex);
    release_cached_locked(cache(), 0);
}

}  // namespace postr::detail
