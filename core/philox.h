// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator. Element i of a draw depends only on (seed, offset + i), so the CPU
// and the GPU produce the same numbers for the same seed, in any order, on any thread count.
#pragma once

#include <cstdint>

#include "postr/core/host_device.h"

namespace postr {

struct Philox4 {
    std::uint32_t v[4];
};

POSTR_HD inline void philox_mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                    std::uint32_t& lo) {
    std::uint64_t p = static_cast<std::uint64_t>(a) * b;
    hi = static_cast<std::uint32_t>(p >> 32);
    lo = static_cast<std::uint32_t>(p);
}

// The Philox4x32-10 bijection of a 128-bit counter under a 64-bit key (k0, k1).
POSTR_HD inline Philox4 philox4x32_10(Philox4 ctr, std::uint32_t k0, std::uint32_t k1) {
    std::uint32_t c0 = ctr.v[0], c1 = ctr.v[1], c2 = ctr.v[2], c3 = ctr.v[3];
    for (int round = 0; round < 10; ++round) {
        std::uint32_t hi0, lo0, hi1, lo1;
        philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
        philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
        std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return Philox4{{c0, c1, c2, c3}};
}

// Four 32-bit words for a 64-bit counter under key `seed`: what postr's random ops use.
POSTR_HD inline Philox4 philox4x32(std::uint64_t seed, std::uint64_t counter) {
    Philox4 ctr{
        {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u}};
    return philox4x32_10(ctr, static_cast<std::uint32_t>(seed),
                         static_cast<std::uint32_t>(seed >> 32));
}

// A seed and a position in its stream. Each draw of n elements takes counters
// [offset, offset + n) and advances the offset, so successive draws never overlap.
class Generator {
  public:
    explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
    std::uint64_t seed() const { return seed_; }
    std::uint64_t offset() const { return offset_; }
    void set_offset(std::uint64_t offset) { offset_ = offset; }
    // Reserves n counters and returns the first.
    std::uint64_t advance(std::uint64_t n) {
        std::uint64_t first = offset_;
        offset_ += n;
        return first;
    }

  private:
    std::uint64_t seed_;
    std::uint64_t offset_ = 0;
};

}  // namespace postr
