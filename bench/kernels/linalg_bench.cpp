// matmul and cholesky through postr, each beside the library call it wraps (OpenBLAS
// sgemm_/dgemm_, LAPACK spotrf_/dpotrf_, cuBLAS gemm, cuSOLVER potrf) on the same buffers in
// the same binary, so the counters read as "% of the direct call" (targets: WORKLOADS.md
// cpu/gemm, cpu/cholesky_4096, gpu/cholesky_42438: wrapper within 5% of the direct call).
//
// Fairness of the Cholesky pairs: potrf overwrites its input, so every iteration must start
// from A again. postr's cholesky(a) copies A into its fresh output by design; the direct
// benchmarks copy A into their work buffer inside the timed region too, so both pay the copy
// (about 1% of the factorization at n = 4,096). postr also zeroes the upper triangle.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#if __has_include(<cublas_v2.h>) && __has_include(<cusolverDn.h>)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#define POSTR_BENCH_HAS_CUDA_HEADERS 1
#endif

#include "postr/config.h"
#include "postr/core/cuda_context.h"
#include "postr/kernels/cpu/blas.h"
#include "postr/kernels/ops.h"

#include "bench/bench_util.h"

namespace postr {
namespace {

using bench::require_cuda;
using bench::set_flops;

// Square operands [n, n] uniform on [-1, 1], generated on the host so the benchmark depends
// only on the ops it measures.
template <class T>
Tensor random_square(std::int64_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> v(static_cast<std::size_t>(n * n));
    for (T& x : v) x = static_cast<T>(u(rng));
    return Tensor::from_vector(v, {n, n});
}

// Symmetric with diagonal n and off-diagonal entries in [-1, 1]: strictly diagonally dominant,
// hence positive definite (Gershgorin), in O(n²) instead of a GEMM.
template <class T>
Tensor spd(std::int64_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<T> v(static_cast<std::size_t>(n * n));
    for (std::int64_t i = 0; i < n; ++i) {
        v[static_cast<std::size_t>(i * n + i)] = static_cast<T>(n);
        for (std::int64_t j = 0; j < i; ++j) {
            const T x = static_cast<T>(u(rng));
            v[static_cast<std::size_t>(i * n + j)] = x;
            v[static_cast<std::size_t>(j * n + i)] = x;
        }
    }
    return Tensor::from_vector(v, {n, n});
}

double gemm_flops(std::int64_t n) { return 2.0 * static_cast<double>(n) * n * n; }
double potrf_flops(std::int64_t n) { return static_cast<double>(n) * n * n / 3.0; }

// --- CPU -------------------------------------------------------------------------------------

template <class T>
void BM_Matmul_cpu(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const Tensor a = random_square<T>(n, 1), b = random_square<T>(n, 2);
    for (auto _ : state) {
        Tensor c = matmul(a, b);
        benchmark::DoNotOptimize(c.data_ptr());
    }
    set_flops(state, gemm_flops(n));
}

void gemm_direct(int n, const float* a, const float* b, float* c) {
    const float one = 1, zero = 0;
    sgemm_("N", "N", &n, &n, &n, &one, b, &n, a, &n, &zero, c, &n, 1, 1);
}
void gemm_direct(int n, const double* a, const double* b, double* c) {
    const double one = 1, zero = 0;
    dgemm_("N", "N", &n, &n, &n, &one, b, &n, a, &n, &zero, c, &n, 1, 1);
}

// The same row-major product as matmul (Cᵀ = Bᵀ·Aᵀ column-major) into a preallocated C.
template <class T>
void BM_BlasGemmDirect_cpu(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const Tensor a = random_square<T>(n, 1), b = random_square<T>(n, 2);
    Tensor c = Tensor::empty({n, n}, a.dtype());
    cpu::blas::bind_threads();  // the thread count postr's own calls use
    for (auto _ : state) {
        gemm_direct(static_cast<int>(n), a.data<T>(), b.data<T>(), c.data<T>());
        benchmark::DoNotOptimize(c.data_ptr());
    }
    set_flops(state, gemm_flops(n));
}

template <class T>
void BM_Cholesky_cpu(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const Tensor a = spd<T>(n, 3);
    for (auto _ : state) {
        Tensor l = cholesky(a);  // includes the copy of A into l
        benchmark::DoNotOptimize(l.data_ptr());
    }
    set_flops(state, potrf_flops(n));
}

int potrf_direct(int n, float* a) {
    int info = 0;
    spotrf_("U", &n, a, &n, &info, 1);
    return info;
}
int potrf_direct(int n, double* a) {
    int info = 0;
    dpotrf_("U", &n, a, &n, &info, 1);
    return info;
}

template <class T>
void BM_LapackPotrfDirect_cpu(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const Tensor a = spd<T>(n, 3);
    Tensor work = Tensor::empty({n, n}, a.dtype());
    cpu::blas::bind_threads();
    for (auto _ : state) {
        std::memcpy(work.data_ptr(), a.data_ptr(), a.nbytes());  // timed, as in cholesky(a)
        if (potrf_direct(static_cast<int>(n), work.data<T>()) != 0) {
            state.SkipWithError("potrf failed");
            return;
        }
        benchmark::DoNotOptimize(work.data_ptr());
    }
    set_flops(state, potrf_flops(n));
}

// --- CUDA ------------------------------------------------------------------------------------

#ifdef POSTR_BENCH_HAS_CUDA_HEADERS

inline cudaStream_t bench_stream() { return static_cast<cudaStream_t>(cuda_stream(0).handle); }

template <class T>
void BM_Matmul_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const std::int64_t n = state.range(0);
        const Tensor a = random_square<T>(n, 1).to(Device::cuda()),
                     b = random_square<T>(n, 2).to(Device::cuda());
        bench::time_cuda(state, [&] { benchmark::DoNotOptimize(matmul(a, b).data_ptr()); });
        set_flops(state, gemm_flops(n));
    }
}

// Templates rather than overloads, so nothing here is emitted unless a CUDA build uses it.
template <class T>
cublasStatus_t cublas_gemm(cublasHandle_t h, int n, const T* a, const T* b, T* c) {
    const T one = 1, zero = 0;
    if constexpr (std::is_same_v<T, float>)
        return cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b, n, a, n, &zero, c, n);
    else
        return cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b, n, a, n, &zero, c, n);
}

template <class T>
void BM_CublasGemmDirect_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const std::int64_t n = state.range(0);
        const Tensor a = random_square<T>(n, 1).to(Device::cuda()),
                     b = random_square<T>(n, 2).to(Device::cuda());
        Tensor c = Tensor::empty({n, n}, a.dtype(), Device::cuda());
        cublasHandle_t handle;
        cublasCreate(&handle);
        cublasSetStream(handle, bench_stream());
        cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);  // full fp32, as postr
        bench::time_cuda(state, [&] {
            if (cublas_gemm(handle, static_cast<int>(n), a.data<T>(), b.data<T>(), c.data<T>()) !=
                CUBLAS_STATUS_SUCCESS)
                state.SkipWithError("cublas gemm failed");
        });
        cublasDestroy(handle);
        set_flops(state, gemm_flops(n));
    }
}

template <class T>
void BM_Cholesky_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const std::int64_t n = state.range(0);
        const Tensor a = spd<T>(n, 3).to(Device::cuda());
        bench::time_cuda(state, [&] { benchmark::DoNotOptimize(cholesky(a).data_ptr()); });
        set_flops(state, potrf_flops(n));
    }
}

template <class T>
cusolverStatus_t potrf_size(cusolverDnHandle_t h, int n, T* a, int* lwork) {
    if constexpr (std::is_same_v<T, float>)
        return cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
    else
        return cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
template <class T>
cusolverStatus_t potrf(cusolverDnHandle_t h, int n, T* a, T* w, int lwork, int* info) {
    if constexpr (std::is_same_v<T, float>)
        return cusolverDnSpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, w, lwork, info);
    else
        return cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, w, lwork, info);
}

// cuSOLVER potrf on a copy of A (device-to-device, timed like postr's copy into l). postr
// additionally reads the info back (one sync) and zeroes the upper triangle.
template <class T>
void BM_CusolverPotrfDirect_cuda(benchmark::State& state) {
    if (!require_cuda(state)) return;
    if constexpr (config::has_cuda) {
        const std::int64_t n = state.range(0);
        const int ni = static_cast<int>(n);
        const Tensor a = spd<T>(n, 3).to(Device::cuda());
        Tensor work_matrix = Tensor::empty({n, n}, a.dtype(), Device::cuda());
        cusolverDnHandle_t handle;
        cusolverDnCreate(&handle);
        cusolverDnSetStream(handle, bench_stream());
        int lwork = 0;
        potrf_size(handle, ni, work_matrix.data<T>(), &lwork);
        Tensor workspace = Tensor::empty({lwork > 0 ? lwork : 1}, a.dtype(), Device::cuda());
        Tensor info = Tensor::empty({1}, DType::i64, Device::cuda());
        bench::time_cuda(state, [&] {
            cudaMemcpyAsync(work_matrix.data_ptr(), a.data_ptr(), a.nbytes(),
                            cudaMemcpyDeviceToDevice, bench_stream());
            potrf(handle, ni, work_matrix.data<T>(), workspace.data<T>(), lwork,
                  static_cast<int*>(info.data_ptr()));
        });
        cusolverDnDestroy(handle);
        set_flops(state, potrf_flops(n));
    }
}

#else  // built without the CUDA headers: the CUDA rows report the missing device

template <class T>
void BM_Matmul_cuda(benchmark::State& state) {
    if (require_cuda(state)) state.SkipWithError("benchmark built without CUDA headers");
}
template <class T>
void BM_CublasGemmDirect_cuda(benchmark::State& state) {
    BM_Matmul_cuda<T>(state);
}
template <class T>
void BM_Cholesky_cuda(benchmark::State& state) {
    BM_Matmul_cuda<T>(state);
}
template <class T>
void BM_CusolverPotrfDirect_cuda(benchmark::State& state) {
    BM_Matmul_cuda<T>(state);
}

#endif

// Registers postr's op and the direct call side by side for each size, so each pair runs
// back to back under the same machine load. Names in STYLE 3.10's form,
// BM_<Op><dtype>/<device>/<size> (the size is the appended Arg).
void register_pair(const char* op, const char* direct, const char* dtype, const char* device,
                   void (*postr_fn)(benchmark::State&), void (*direct_fn)(benchmark::State&),
                   std::vector<std::int64_t> sizes) {
    const bool manual_time = std::string(device) == "cuda";
    for (std::int64_t n : sizes)
        for (const auto& [name, fn] : {std::pair{op, postr_fn}, std::pair{direct, direct_fn}}) {
            auto* b = benchmark::RegisterBenchmark(
                (std::string(name) + "<" + dtype + ">/" + device).c_str(), fn);
            b->Arg(n)->Unit(benchmark::kMillisecond);
            // Wall time on the CPU: BLAS runs on several threads, so the caller's CPU time
            // would undercount.
            if (manual_time) {
                b->UseManualTime();
            } else {
                b->UseRealTime();
            }
        }
}

const bool registered = [] {
    register_pair("BM_Matmul", "BM_BlasGemmDirect", "float", "cpu", BM_Matmul_cpu<float>,
                  BM_BlasGemmDirect_cpu<float>, {2048});
    register_pair("BM_Matmul", "BM_BlasGemmDirect", "double", "cpu", BM_Matmul_cpu<double>,
                  BM_BlasGemmDirect_cpu<double>, {2048});
    register_pair("BM_Cholesky", "BM_LapackPotrfDirect", "double", "cpu", BM_Cholesky_cpu<double>,
                  BM_LapackPotrfDirect_cpu<double>, {512, 4096});
    register_pair("BM_Cholesky", "BM_LapackPotrfDirect", "float", "cpu", BM_Cholesky_cpu<float>,
                  BM_LapackPotrfDirect_cpu<float>, {512, 4096});
    register_pair("BM_Matmul", "BM_CublasGemmDirect", "float", "cuda", BM_Matmul_cuda<float>,
                  BM_CublasGemmDirect_cuda<float>, {4096, 8192});
    register_pair("BM_Matmul", "BM_CublasGemmDirect", "double", "cuda", BM_Matmul_cuda<double>,
                  BM_CublasGemmDirect_cuda<double>, {4096});
    register_pair("BM_Cholesky", "BM_CusolverPotrfDirect", "float", "cuda", BM_Cholesky_cuda<float>,
                  BM_CusolverPotrfDirect_cuda<float>, {4096, 42438});
    register_pair("BM_Cholesky", "BM_CusolverPotrfDirect", "double", "cuda",
                  BM_Cholesky_cuda<double>, BM_CusolverPotrfDirect_cuda<double>, {4096, 42438});
    return true;
}();

}  // namespace
}  // namespace postr
