// Creation and random kernels on the CPU: out[i] = f(i) over the flat index of a fresh
// contiguous tensor, in fixed-size chunks on the thread pool. Each element depends only on its
// index, so results do not depend on the thread count.
#include "postr/kernels/random.h"

#include "postr/core/dtype.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/iterate.h"

namespace postr::cpu {
namespace {

using namespace postr::detail::fill;

// A random draw costs ≈ 25 ns (a 10-round Philox block, and a log and a cosine for a normal),
// a hundred times an elementwise add, so random fills split into chunks of 2,048 elements
// (≈ 50 µs, well above the pool's dispatch cost) where plain fills take 32,768: a 26k-weight
// sampler's noise then runs on every core. Each element depends only on its index, so the
// split never changes the values.
inline constexpr std::int64_t kRandomGrain = 1 << 11;

template <class T, class Fn>
void fill_indexed(const Tensor& out, Fn fn, std::int64_t grain = kElementwiseGrain) {
    T* o = static_cast<T*>(out.data_ptr());
    parallel_for(out.numel(), grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) o[i] = fn(i);
    });
}

}  // namespace

void arange(const Tensor& out, double start, double step) {
    visit_dtype(out.dtype(), [&]<class T>() { fill_indexed<T>(out, Arange<T>{start, step}); });
}

void eye(const Tensor& out) {
    visit_dtype(out.dtype(), [&]<class T>() { fill_indexed<T>(out, Eye<T>{out.size(0)}); });
}

void uniform(const Tensor& out, std::uint64_t seed, std::uint64_t first, double low, double high) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Uniform<T>{seed, first, static_cast<T>(low), static_cast<T>(high)},
                        kRandomGrain);
    });
}

void normal(const Tensor& out, std::uint64_t seed, std::uint64_t first, double mean,
            double stddev) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Normal<T>{seed, first, static_cast<T>(mean), static_cast<T>(stddev)},
                        kRandomGrain);
    });
}

void bernoulli(const Tensor& p, const Tensor& out, std::uint64_t seed, std::uint64_t first) {
    visit_floating(out.dtype(), [&]<class T>() {
        fill_indexed<T>(out, Bernoulli<T>{static_cast<const T*>(p.data_ptr()), seed, first},
                        kRandomGrain);
    });
}

void randint(const Tensor& out, std::uint64_t seed, std::uint64_t first, std::int64_t low,
             std::int64_t high) {
    fill_indexed<std::int64_t>(out, Randint{seed, first, low, randint_range(low, high)},
                               kRandomGrain);
}

}  // namespace postr::cpu
