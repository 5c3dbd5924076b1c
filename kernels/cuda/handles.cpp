#include "postr/kernels/cuda/handles.h"

#include <mutex>
#include <vector>

#include "postr/core/cuda/check.h"
#include "postr/core/cuda_context.h"

namespace postr::cuda {
namespace {

template <class Handle, class Create>
Handle get(std::vector<Handle>& handles, int device, Create create) {
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (handles.empty()) handles.assign(static_cast<std::size_t>(cuda_device_count()), nullptr);
    POSTR_ASSERT(device >= 0 && device < static_cast<int>(handles.size()));
    Handle& h = handles[static_cast<std::size_t>(device)];
    if (!h) {
        int previous = 0;
        POSTR_CUDA_CHECK(cudaGetDevice(&previous));
        POSTR_CUDA_CHECK(cudaSetDevice(device));
        create(h);
        POSTR_CUDA_CHECK(cudaSetDevice(previous));
    }
    return h;
}

}  // namespace

cublasHandle_t cublas_handle(int device) {
    static std::vector<cublasHandle_t> handles;
    return get(handles, device, [&](cublasHandle_t& h) {
        POSTR_CUBLAS_CHECK(cublasCreate(&h));
        POSTR_CUBLAS_CHECK(cublasSetStream(h, postr::detail::stream_of(device)));
        // Full fp32 by default; TF32 is an explicit opt-in per call (STYLE 3.8).
        POSTR_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    });
}

cusolverDnHandle_t cusolver_handle(int device) {
    static std::vector<cusolverDnHandle_t> handles;
    return get(handles, device, [&](cusolverDnHandle_t& h) {
        POSTR_CUSOLVER_CHECK(cusolverDnCreate(&h));
        POSTR_CUSOLVER_CHECK(cusolverDnSetStream(h, postr::detail::stream_of(device)));
    });
}

}  // namespace postr::cuda
