// Softmax and one-hot on the CPU. Each row (one (pre, post) pair of a [pre, L, post] view) is
// done in three passes: maximum, cascade sum of e^(x − max), then the normalized output.
#include "postr/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "postr/core/thread_pool.h"
#include "postr/kernels/reduce_math.h"

namespace postr::cpu {

void softmax(const Tensor& x, const Tensor& out, bool log) {
    visit_floating(x.dtype(), [&]<class T>() {
        const std::int64_t pre = x.size(0), len = x.size(1), post = x.size(2);
        const T* xb = static_cast<const T*>(x.data_ptr());
        T* ob = static_cast<T*>(out.data_ptr());
        // About 32K elements per work item; rows (p, q) are numbered p·post + q.
        const std::int64_t grain =
            std::max<std::int64_t>(1, (1 << 15) / std::max<std::int64_t>(len, 1));
        parallel_for(pre * post, grain, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t row = b; row < e; ++row) {
                const std::int64_t p = row / post, q = row % post;
                const T* xr = xb + p * x.stride(0) + q * x.stride(2);
                T* orow = ob + p * out.stride(0) + q * out.stride(2);
                const std::int64_t xs = x.stride(1), os = out.stride(1);
                T m = xr[0];
                for (std::int64_t i = 1; i < len; ++i)
                    if (math::max_takes(xr[i * xs], m)) m = xr[i * xs];
                const T shift = math::exp_shift(m);
                const T s = math::cascade_sum(xr, xs, len,
                                              [&](T v) { return math::MapExpShift{}(v, shift); });
                if (log) {
                    // (x − shift) − log s, not x − logsumexp: the latter rounds at the scale
                    // of the maximum (an ulp of 1000 in f32 is 6e-5).
                    const T log_s = std::log(s);
                    for (std::int64_t i = 0; i < len; ++i)
                        orow[i * os] = (xr[i * xs] - shift) - log_s;
                } else {
                    const T inv = T(1) / s;
                    for (std::int64_t i = 0; i < len; ++i)
                        orow[i * os] = std::exp(xr[i * xs] - shift) * inv;
                }
            }
        });
    });
}

void one_hot(const Tensor& labels, const Tensor& out) {
    const std::int64_t* lab = static_cast<const std::int64_t*>(labels.data_ptr());
    const std::int64_t n = out.size(0), classes = out.size(1);
    visit_dtype(out.dtype(), [&]<class T>() {
        T* o = static_cast<T*>(out.data_ptr());
        parallel_for(n, std::max<std::int64_t>(1, (1 << 15) / classes),
                     [&](std::int64_t b, std::int64_t e) {
                         for (std::int64_t r = b; r < e; ++r)
                             for (std::int64_t c = 0; c < classes; ++c)
                                 o[r * classes + c] = lab[r] == c ? T(1) : T(0);
                     });
    });
}

}  // namespace postr::cpu
