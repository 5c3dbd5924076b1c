// Batch normalization on CUDA over x viewed as [N, C, S]: one block per channel reduces in
// double with a fixed tree (deterministic), then an elementwise kernel normalizes. The per-channel
// statistics are kept in double between the two kernels, as the CPU twin keeps them.
#include <cstdint>

#include "postr/kernels/batchnorm.h"
#include "postr/kernels/cuda/launch.cuh"

namespace postr::cuda {
namespace {

using i64 = std::int64_t;

constexpr int kReduceThreads = 512;

struct Dims {
    i64 n, c, s;
};
Dims dims_of(const Tensor& x3) { return {x3.size(0), x3.size(1), x3.size(2)}; }

template <class T>
T* data_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

// Σ of v over the block, returned to every thread; a fixed tree, so the order never varies.
__device__ double block_sum(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = kReduceThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}

// Element e of channel c (e runs over n·S + s).
__device__ i64 element(const Dims& d, i64 c, i64 e) {
    return ((e / d.s) * d.c + c) * d.s + e % d.s;
}

// stats: [2, C] double ← (mean, invstd); also save_mean/save_invstd and the running update.
template <class T>
__global__ void train_stats_kernel(Dims d, const T* x, double eps, double momentum, T* running_mean,
                                   T* running_var, T* save_mean, T* save_invstd, double* stats) {
    __shared__ double shared[kReduceThreads];
    const i64 c = blockIdx.x, m = d.n * d.s;
    double s = 0;
    for (i64 e = threadIdx.x; e < m; e += kReduceThreads)
        s += static_cast<double>(x[element(d, c, e)]);
    const double mean = block_sum(s, shared) / static_cast<double>(m);
    s = 0;
    for (i64 e = threadIdx.x; e < m; e += kReduceThreads) {
        double t = static_cast<double>(x[element(d, c, e)]) - mean;
        s += t * t;
    }
    const double var = block_sum(s, shared) / static_cast<double>(m);
    if (threadIdx.x == 0) {
        const double invstd = 1.0 / sqrt(var + eps);
        stats[c] = mean;
        stats[d.c + c] = invstd;
        save_mean[c] = static_cast<T>(mean);
        save_invstd[c] = static_cast<T>(invstd);
        if (running_mean) {
            const double count = static_cast<double>(m);
            running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
            running_var[c] = static_cast<T>((1 - momentum) * running_var[c] +
                                            momentum * var * count / (count - 1));
        }
    }
}

// out = (x − mean)·(invstd·w) + b with (mean, invstd) from stats ([2, C] double) or, when stats
// is null, from the running statistics.
template <class T>
__global__ void normalize_kernel(Dims d, const T* x, const double* stats, const T* running_mean,
                                 const T* running_var, double eps, const T* weight, const T* bias,
                                 T* out) {
    POSTR_GRID_STRIDE_LOOP(i, d.n * d.c * d.s) {
        const i64 c = (i / d.s) % d.c;
        double mean, invstd;
        if (stats) {
            mean = stats[c];
            invstd = stats[d.c + c];
        } else {
            mean = static_cast<double>(running_mean[c]);
            invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
        }
        const double w = weight ? static_cast<double>(weight[c]) : 1.0;
        const double b = bias ? static_cast<double>(bias[c]) : 0.0;
        out[i] = static_cast<T>((static_cast<double>(x[i]) - mean) * (invstd * w) + b);
    }
}

// sums: [2, C] double ← (Σ g, Σ g·x̂); also grad_bias and grad_weight.
template <class T>
__global__ void backward_sums_kernel(Dims d, const T* grad_out, const T* x, const T* save_mean,
                                     const T* save_invstd, T* grad_weight, T* grad_bias,
                                     double* sums) {
    __shared__ double shared[kReduceThreads];
    const i64 c = blockIdx.x, m = d.n * d.s;
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sg = 0, sgx = 0;
    for (i64 e = threadIdx.x; e < m; e += kReduceThreads) {
        const i64 i = element(d, c, e);
        const double g = static_cast<double>(grad_out[i]);
        sg += g;
        sgx += g * (static_cast<double>(x[i]) - mean) * invstd;
    }
    sg = block_sum(sg, shared);
    sgx = block_sum(sgx, shared);
    if (threadIdx.x == 0) {
        sums[c] = sg;
        sums[d.c + c] = sgx;
        grad_bias[c] = static_cast<T>(sg);
        grad_weight[c] = static_cast<T>(sgx);
    }
}

template <class T>
__global__ void backward_input_kernel(Dims d, const T* grad_out, const T* x, const T* weight,
                                      const T* save_mean, const T* save_invstd, const double* sums,
                                      T* grad_x) {
    const double count = static_cast<double>(d.n * d.s);
    POSTR_GRID_STRIDE_LOOP(i, d.n * d.c * d.s) {
        const i64 c = (i / d.s) % d.c;
        const double mean = save_mean[c], invstd = save_invstd[c];
        const double scale = invstd * (weight ? static_cast<double>(weight[c]) : 1.0);
        const double xhat = (static_cast<double>(x[i]) - mean) * invstd;
        grad_x[i] = static_cast<T>(scale * (static_cast<double>(grad_out[i]) - sums[c] / count -
                                            xhat * (sums[d.c + c] / count)));
    }
}

}  // namespace

void batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const Tensor& running_mean, const Tensor& running_var, double momentum,
                      double eps, const Tensor& out, const Tensor& save_mean,
                      const Tensor& save_invstd) {
    const Dims d = dims_of(x);
    if (d.c == 0) return;
    cudaStream_t stream = stream_for(x);
    Tensor stats = Tensor::empty({2, d.c}, DType::f64, x.device());
    visit_floating(x.dtype(), [&]<class T>() {
        train_stats_kernel<T><<<static_cast<unsigned>(d.c), kReduceThreads, 0, stream>>>(
            d, x.data<T>(), eps, momentum, data_or_null<T>(running_mean),
            data_or_null<T>(running_var), save_mean.data<T>(), save_invstd.data<T>(),
            stats.data<double>());
        POSTR_CHECK_LAUNCH("train_stats_kernel");
        normalize_kernel<T><<<grid_for(x.numel()), kBlockSize, 0, stream>>>(
            d, x.data<T>(), stats.data<double>(), nullptr, nullptr, eps, data_or_null<T>(weight),
            data_or_null<T>(bias), out.data<T>());
        POSTR_CHECK_LAUNCH("normalize_kernel");
    });
}

void batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, double eps,
                     const Tensor& out) {
    if (x.numel() == 0) return;
    visit_floating(x.dtype(), [&]<class T>() {
        normalize_kernel<T><<<grid_for(x.numel()), kBlockSize, 0, stream_for(x)>>>(
            dims_of(x), x.data<T>(), nullptr, running_mean.data<T>(), running_var.data<T>(), eps,
            data_or_null<T>(weight), data_or_null<T>(bias), out.data<T>());
        POSTR_CHECK_LAUNCH("normalize_kernel");
    });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_x,
                         const Tensor& grad_weight, const Tensor& grad_bias) {
    const Dims d = dims_of(x);
    if (d.c == 0) return;
    cudaStream_t stream = stream_for(x);
    Tensor sums = Tensor::empty({2, d.c}, DType::f64, x.device());
    visit_floating(x.dtype(), [&]<class T>() {
        backward_sums_kernel<T><<<static_cast<unsigned>(d.c), kReduceThreads, 0, stream>>>(
            d, grad_out.data<T>(), x.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
            grad_weight.data<T>(), grad_bias.data<T>(), sums.data<double>());
        POSTR_CHECK_LAUNCH("backward_sums_kernel");
        if (x.numel() == 0) return;
        backward_input_kernel<T><<<grid_for(x.numel()), kBlockSize, 0, stream>>>(
            d, grad_out.data<T>(), x.data<T>(), data_or_null<T>(weight), save_mean.data<T>(),
            save_invstd.data<T>(), sums.data<double>(), grad_x.data<T>());
        POSTR_CHECK_LAUNCH("backward_input_kernel");
    });
}

}  // namespace postr::cuda
