// CUDA error checks (internal; never installed). Each throws postr::Error with the call text,
// the status name and file:line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "postr/core/error.h"

namespace postr::detail {
[[noreturn]] void throw_cuda_error(const char* call, const char* status, const char* file,
                                   int line);
const char* cublas_status_name(cublasStatus_t s);
const char* cusolver_status_name(cusolverStatus_t s);
}  // namespace postr::detail

#define POSTR_CUDA_CHECK(call)                                                                  \
    do {                                                                                        \
        cudaError_t postr_status_ = (call);                                                     \
        if (postr_status_ != cudaSuccess) [[unlikely]]                                          \
            ::postr::detail::throw_cuda_error(#call, cudaGetErrorName(postr_status_), __FILE__, \
                                              __LINE__);                                        \
    } while (0)

#define POSTR_CUBLAS_CHECK(call)                                                                \
    do {                                                                                        \
        cublasStatus_t postr_status_ = (call);                                                  \
        if (postr_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                \
            ::postr::detail::throw_cuda_error(                                                  \
                #call, ::postr::detail::cublas_status_name(postr_status_), __FILE__, __LINE__); \
    } while (0)

#define POSTR_CUSOLVER_CHECK(call)                                                                \
    do {                                                                                          \
        cusolverStatus_t postr_status_ = (call);                                                  \
        if (postr_status_ != CUSOLVER_STATUS_SUCCESS) [[unlikely]]                                \
            ::postr::detail::throw_cuda_error(                                                    \
                #call, ::postr::detail::cusolver_status_name(postr_status_), __FILE__, __LINE__); \
    } while (0)

// For destructors, which must not throw: reports nothing and carries on.
#define POSTR_CUDA_CHECK_NOTHROW(call) static_cast<void>(call)

namespace postr::detail {
// The raw stream postr queues work on for `device`.
cudaStream_t stream_of(int device);
// Checks the last launch; with POSTR_CUDA_SYNC_CHECKS also synchronizes so a fault is
// reported at the op that caused it.
void check_launch(const char* kernel, const char* file, int line);
}  // namespace postr::detail

#define POSTR_CHECK_LAUNCH(kernel) ::postr::detail::check_launch(kernel, __FILE__, __LINE__)
