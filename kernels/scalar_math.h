// Numerically stable scalar formulas, shared by the CPU loops and the CUDA kernels so that the
// two devices agree by construction. Host-and-device, templated on float/double.
#pragma once

#include <cmath>
#include <cstdint>

#include "postr/core/host_device.h"
#include "postr/core/philox.h"

namespace postr::math {

template <class T>
POSTR_HD inline T sigmoid(T x) {
    // Split on the sign so exp never overflows.
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
}

// log(1 + e^x) = max(x, 0) + log1p(e^−|x|): exact for large |x|, no overflow.
template <class T>
POSTR_HD inline T softplus(T x) {
    return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

// One step of a streaming log-sum-exp: folds x into (running max m, running sum s of e^(v−m)).
template <class T>
POSTR_HD inline void logsumexp_push(T x, T& m, T& s) {
    if (x > m) {
        s = s * std::exp(m - x) + T(1);
        m = x;
    } else {
        s += std::exp(x - m);
    }
}

// Uniform on [0, 1) from 32 random bits (24 significant bits for f32).
POSTR_HD inline float uniform_f32(std::uint32_t bits) {
    return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}
// Uniform on [0, 1) from 64 random bits (53 significant bits for f64).
POSTR_HD inline double uniform_f64(std::uint32_t hi, std::uint32_t lo) {
    std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 32 | lo) >> 11;
    return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}

}  // namespace postr::math

// ---- Elementwise formulas (kernels/elementwise.h maps each op enumerator to one of these) ----
namespace postr::math {

// NaN-propagating max/min/clamp: a NaN operand wins, as in PyTorch. Integers never take the
// NaN branch (x != x is false).
template <class T>
POSTR_HD inline T maximum(T a, T b) {
    return (a > b || a != a) ? a : b;
}
template <class T>
POSTR_HD inline T minimum(T a, T b) {
    return (a < b || a != a) ? a : b;
}
template <class T>
POSTR_HD inline T clamp(T x, T low, T high) {
    return x < low ? low : (x > high ? high : x);
}
// max(x, 0) with NaN passed through; relu(−0) is −0.
template <class T>
POSTR_HD inline T relu(T x) {
    return x < T(0) ? T(0) : x;
}
// 1/√x, spelled out rather than CUDA's rsqrt intrinsic so both devices round alike.
template <class T>
POSTR_HD inline T rsqrt(T x) {
    return T(1) / std::sqrt(x);
}

// ---- Philox draws: element i of a draw uses block philox4x32(seed, first + i) alone ----

// Uniform on [0, 1) in T from one Philox block: word 0 for f32, words 0 and 1 for f64.
template <class T>
POSTR_HD inline T uniform01(const Philox4& r) {
    if constexpr (sizeof(T) == sizeof(float)) {
        return uniform_f32(r.v[0]);
    } else {
        return uniform_f64(r.v[0], r.v[1]);
    }
}

// Uniform on [low, high). The affine map is an explicit fma so the CPU (no contraction without
// -march) and nvcc (contracts a·b + c) round alike; a result rounded up onto `high` is moved
// one ulp below it so the interval stays half-open.
template <class T>
POSTR_HD inline T uniform_draw(std::uint64_t seed, std::uint64_t counter, T low, T high) {
    T r = std::fma(high - low, uniform01<T>(philox4x32(seed, counter)), low);
    return r < high ? r : std::nextafter(high, low);
}

// Standard normal scaled to N(mean, stddev²) by Box–Muller (Box and Muller 1958), one output
// per block: u1 in (0, 1] (so log never sees 0) and u2 in [0, 1) come from disjoint words
// (f32: words 0 and 1, f64: words 0–1 and 2–3). The tails are cut at √(−2 log 2^−24) ≈ 5.8σ
// for f32 and ≈ 8.6σ for f64, the smallest nonzero u1 of each.
template <class T>
POSTR_HD inline T normal_draw(std::uint64_t seed, std::uint64_t counter, T mean, T stddev) {
    const Philox4 r = philox4x32(seed, counter);
    T u1, u2;
    if constexpr (sizeof(T) == sizeof(float)) {
        u1 = T(1) - uniform_f32(r.v[0]);
        u2 = uniform_f32(r.v[1]);
    } else {
        u1 = T(1) - uniform_f64(r.v[0], r.v[1]);
        u2 = uniform_f64(r.v[2], r.v[3]);
    }
    const T two_pi = T(6.283185307179586476925286766559);
    T z = std::sqrt(T(-2) * std::log(u1)) * std::cos(two_pi * u2);
    return std::fma(stddev, z, mean);
}

// 1 with probability p (uniform < p, so p = 0 never and p = 1 always fires), else 0.
template <class T>
POSTR_HD inline T bernoulli_draw(std::uint64_t seed, std::uint64_t counter, T p) {
    return uniform01<T>(philox4x32(seed, counter)) < p ? T(1) : T(0);
}

// Uniform integer in [low, low + range): low + ⌊u·range⌋ with u a 53-bit f64 uniform, clamped
// because u·range can round up to range. Unsigned arithmetic so any int64 range works.
POSTR_HD inline std::int64_t randint_draw(std::uint64_t seed, std::uint64_t counter,
                                          std::int64_t low, std::uint64_t range) {
    const Philox4 r = philox4x32(seed, counter);
    double u = uniform_f64(r.v[0], r.v[1]);
    auto k = static_cast<std::uint64_t>(std::floor(u * static_cast<double>(range)));
    if (k >= range) k = range - 1;
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + k);
}

}  // namespace postr::math
