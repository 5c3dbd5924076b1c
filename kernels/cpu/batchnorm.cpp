// Batch normalization on the CPU, one task per channel over x viewed as [N, C, S]. Statistics
// accumulate in double (also for f32) by pairwise summation: over S within a row, then over the
// N row sums, so the result is independent of the thread count.
#include "postr/kernels/batchnorm.h"

#include <cmath>
#include <cstdint>

#include "postr/core/thread_pool.h"

namespace postr::cpu {
namespace {

using i64 = std::int64_t;

constexpr i64 kPairwiseBase = 32;

// Σ_{i in [begin, end)} f(i), pairwise.
template <class F>
double pairwise(i64 begin, i64 end, const F& f) {
    if (end - begin <= kPairwiseBase) {
        double s = 0;
        for (i64 i = begin; i < end; ++i) s += f(i);
        return s;
    }
    i64 mid = begin + (end - begin) / 2;
    return pairwise(begin, mid, f) + pairwise(mid, end, f);
}

// Σ over n, s of f(n, s) for one channel.
template <class F>
double channel_sum(i64 n, i64 s, const F& f) {
    return pairwise(0, n, [&](i64 i) { return pairwise(0, s, [&](i64 j) { return f(i, j); }); });
}

struct Dims {
    i64 n, c, s;
};
Dims dims_of(const Tensor& x3) { return {x3.size(0), x3.size(1), x3.size(2)}; }

template <class T>
double at(const T* p, i64 i) {
    return p ? static_cast<double>(p[i]) : 0.0;
}
template <class T>
double weight_at(const T* p, i64 i) {
    return p ? static_cast<double>(p[i]) : 1.0;
}
template <class T>
T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

// out[n, c, :] = (x[n, c, :] − mean)·(invstd·w) + b.
template <class T>
void normalize_channel(const Dims& d, i64 c, const T* x, double mean, double invstd, double w,
                       double b, T* out) {
    double scale = invstd * w;
    for (i64 n = 0; n < d.n; ++n) {
        const T* row = x + (n * d.c + c) * d.s;
        T* dst = out + (n * d.c + c) * d.s;
        for (i64 j = 0; j < d.s; ++j)
            dst[j] = static_cast<T>((static_cast<double>(row[j]) - mean) * scale + b);
    }
}

template <class T>
void train_impl(const Tensor& x, const Tensor& weight, const Tensor& bias,
                const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd) {
    const Dims d = dims_of(x);
    const T* xp = x.data<T>();
    const T *wp = data_or_null<T>(weight), *bp = data_or_null<T>(bias);
    T *rm = data_or_null<T>(running_mean), *rv = data_or_null<T>(running_var);
    T *op = out.data<T>(), *mp = save_mean.data<T>(), *ip = save_invstd.data<T>();
    const double count = static_cast<double>(d.n * d.s);
    parallel_for(d.c, 1, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) {
            auto x_at = [&](i64 n, i64 j) {
                return static_cast<double>(xp[(n * d.c + c) * d.s + j]);
            };
            double mean = channel_sum(d.n, d.s, x_at) / count;
            // Two passes: Σ(x − mean)² avoids the cancellation of Σx² − n·mean².
            double var = channel_sum(d.n, d.s,
                                     [&](i64 n, i64 j) {
                                         double t = x_at(n, j) - mean;
                                         return t * t;
                                     }) /
                         count;
            double invstd = 1.0 / std::sqrt(var + eps);
            mp[c] = static_cast<T>(mean);
            ip[c] = static_cast<T>(invstd);
            if (rm) {
                rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
                rv[c] =
                    static_cast<T>((1 - momentum) * rv[c] + momentum * var * count / (count - 1));
            }
            normalize_channel(d, c, xp, mean, invstd, weight_at(wp, c), at(bp, c), op);
        }
    });
}

template <class T>
void eval_impl(const Tensor& x, const Tensor& weight, const Tensor& bias,
               const Tensor& running_mean, const Tensor& running_var, double eps,
               const Tensor& out) {
    const Dims d = dims_of(x);
    const T* xp = x.data<T>();
    const T *wp = data_or_null<T>(weight), *bp = data_or_null<T>(bias);
    const T *rm = running_mean.data<T>(), *rv = running_var.data<T>();
    T* op = out.data<T>();
    parallel_for(d.c, 1, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) {
            double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
            normalize_channel(d, c, xp, static_cast<double>(rm[c]), invstd, weight_at(wp, c),
                              at(bp, c), op);
        }
    });
}

template <class T>
void backward_impl(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                   const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                   const Tensor& grad_weight, const Tensor& grad_bias) {
    const Dims d = dims_of(x);
    const T *gp = grad_out.data<T>(), *xp = x.data<T>(), *wp = data_or_null<T>(weight);
    const T *mp = save_mean.data<T>(), *ip = save_invstd.data<T>();
    T *gxp = grad_x.data<T>(), *gwp = grad_weight.data<T>(), *gbp = grad_bias.data<T>();
    const double count = static_cast<double>(d.n * d.s);
    parallel_for(d.c, 1, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) {
            const double mean = mp[c], invstd = ip[c];
            auto idx = [&](i64 n, i64 j) { return (n * d.c + c) * d.s + j; };
            double sum_g = channel_sum(
                d.n, d.s, [&](i64 n, i64 j) { return static_cast<double>(gp[idx(n, j)]); });
            double sum_gxhat = channel_sum(d.n, d.s, [&](i64 n, i64 j) {
                return static_cast<double>(gp[idx(n, j)]) *
                       (static_cast<double>(xp[idx(n, j)]) - mean) * invstd;
            });
            gbp[c] = static_cast<T>(sum_g);
            gwp[c] = static_cast<T>(sum_gxhat);
            const double mean_g = sum_g / count, mean_gxhat = sum_gxhat / count;
            const double scale = invstd * weight_at(wp, c);
            for (i64 n = 0; n < d.n; ++n)
                for (i64 j = 0; j < d.s; ++j) {
                    i64 i = idx(n, j);
                    double xhat = (static_cast<double>(xp[i]) - mean) * invstd;
                    gxp[i] = static_cast<T>(
                        scale * (static_cast<double>(gp[i]) - mean_g - xhat * mean_gxhat));
                }
        }
    });
}

}  // namespace

void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var, double momentum,
                      double eps, const Tensor& out, const Tensor& save_mean,
                      const Tensor& save_invstd) {
    visit_floating(x.dtype(), [&]<class T>() {
        train_impl<T>(x, weight, bias, running_mean, running_var, momentum, eps, out, save_mean,
                      save_invstd);
    });
}

void batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, double eps,
                     const Tensor& out) {
    visit_floating(x.dtype(), [&]<class T>() {
        eval_impl<T>(x, weight, bias, running_mean, running_var, eps, out);
    });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                         const Tensor& grad_weight, const Tensor& grad_bias) {
    visit_floating(x.dtype(), [&]<class T>() {
        backward_impl<T>(grad_out, x, weight, save_mean, save_invstd, grad_x, grad_weight,
                         grad_bias);
    });
}

}  // namespace postr::cpu
