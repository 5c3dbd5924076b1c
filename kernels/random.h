// Device entry points of the creation and random family: kernels that fill a fresh contiguous
// tensor from each element's flat index alone (arange, eye, Philox draws). Declared once for the
// CPU and once for CUDA with identical signatures; the per-element formulas below are shared by
// both, so a seed gives the same numbers on either device.
#pragma once

#include <cmath>
#include <cstdint>

#include "postr/core/host_device.h"
#include "postr/core/tensor.h"
#include "postr/kernels/scalar_math.h"

namespace postr::cpu {

// out: [n] contiguous (f32/f64/i64); out[i] = start + i·step, computed in f64 then cast.
void arange(const Tensor& out, double start, double step);
// out: [n, n] contiguous, any dtype; ones on the diagonal, zeros elsewhere.
void eye(const Tensor& out);
// The draws: out contiguous; element i uses Philox block (seed, first + i).
void uniform(const Tensor& out, std::uint64_t seed, std::uint64_t first, double low,
             double high);  // f32/f64
void normal(const Tensor& out, std::uint64_t seed, std::uint64_t first, double mean,
            double stddev);  // f32/f64
// p and out contiguous, same shape and floating dtype.
void bernoulli(const Tensor& p, const Tensor& out, std::uint64_t seed, std::uint64_t first);
// out i64; values in [low, high), high > low.
void randint(const Tensor& out, std::uint64_t seed, std::uint64_t first, std::int64_t low,
             std::int64_t high);

}  // namespace postr::cpu

namespace postr::cuda {

void arange(const Tensor& out, double start, double step);
void eye(const Tensor& out);
void uniform(const Tensor& out, std::uint64_t seed, std::uint64_t first, double low, double high);
void normal(const Tensor& out, std::uint64_t seed, std::uint64_t first, double mean, double stddev);
void bernoulli(const Tensor& p, const Tensor& out, std::uint64_t seed, std::uint64_t first);
void randint(const Tensor& out, std::uint64_t seed, std::uint64_t first, std::int64_t low,
             std::int64_t high);

}  // namespace postr::cuda

// ---- Per-element formulas, value = f(flat index i), shared by cpu/random.cpp and cuda/random.cu
namespace postr::detail::fill {

// An explicit fma: nvcc would contract start + i·step into one anyway, the CPU build would not.
template <class T>
struct Arange {
    double start, step;
    POSTR_HD T operator()(std::int64_t i) const {
        return static_cast<T>(std::fma(static_cast<double>(i), step, start));
    }
};

template <class T>
struct Eye {
    std::int64_t n;
    POSTR_HD T operator()(std::int64_t i) const { return i / n == i % n ? T(1) : T(0); }
};

template <class T>
struct Uniform {
    std::uint64_t seed, first;
    T low, high;
    POSTR_HD T operator()(std::int64_t i) const {
        return math::uniform_draw<T>(seed, first + static_cast<std::uint64_t>(i), low, high);
    }
};

template <class T>
struct Normal {
    std::uint64_t seed, first;
    T mean, stddev;
    POSTR_HD T operator()(std::int64_t i) const {
        return math::normal_draw<T>(seed, first + static_cast<std::uint64_t>(i), mean, stddev);
    }
};

template <class T>
struct Bernoulli {
    const T* p;  // [numel] contiguous, on the device the kernel runs on
    std::uint64_t seed, first;
    POSTR_HD T operator()(std::int64_t i) const {
        return math::bernoulli_draw<T>(seed, first + static_cast<std::uint64_t>(i), p[i]);
    }
};

struct Randint {
    std::uint64_t seed, first;
    std::int64_t low;
    std::uint64_t range;  // high − low, as unsigned so any int64 interval fits
    POSTR_HD std::int64_t operator()(std::int64_t i) const {
        return math::randint_draw(seed, first + static_cast<std::uint64_t>(i), low, range);
    }
};

inline std::uint64_t randint_range(std::int64_t low, std::int64_t high) {
    return static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
}

}  // namespace postr::detail::fill
