// Device discovery, the per-device stream, and CUDA error reporting.
#include <mutex>
#include <vector>

#include "postr/core/cuda/check.h"
#include "postr/core/cuda_context.h"

namespace postr {
namespace detail {

void throw_cuda_error(const char* call, const char* status, const char* file, int line) {
    throw Error(concat("cuda: ", call, " failed with ", status, " at ", file, ":", line,
                       ". Check the device with nvidia-smi; rebuild with "
                       "-DPOSTR_CUDA_SYNC_CHECKS=ON to find the failing op"));
}

const char* cublas_status_name(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "CUBLAS_STATUS_NOT_SUPPORTED";
        default:
            return "CUBLAS_STATUS_(other)";
    }
}

const char* cusolver_status_name(cusolverStatus_t s) {
    switch (s) {
        case CUSOLVER_STATUS_NOT_INITIALIZED:
            return "CUSOLVER_STATUS_NOT_INITIALIZED";
        case CUSOLVER_STATUS_ALLOC_FAILED:
            return "CUSOLVER_STATUS_ALLOC_FAILED";
        case CUSOLVER_STATUS_INVALID_VALUE:
            return "CUSOLVER_STATUS_INVALID_VALUE";
        case CUSOLVER_STATUS_EXECUTION_FAILED:
            return "CUSOLVER_STATUS_EXECUTION_FAILED";
        case CUSOLVER_STATUS_INTERNAL_ERROR:
            return "CUSOLVER_STATUS_INTERNAL_ERROR";
        default:
            return "CUSOLVER_STATUS_(other)";
    }
}

cudaStream_t stream_of(int device) {
    static std::mutex mutex;
    static std::vector<cudaStream_t> streams;
    std::lock_guard lock(mutex);
    if (streams.empty()) {
        int n = cuda_device_count();
        POSTR_CHECK(n > 0,
                    "cuda: no CUDA device is available. Run on a machine with an NVIDIA GPU "
                    "and driver, or keep tensors on the CPU");
        streams.assign(static_cast<std::size_t>(n), nullptr);
    }
    POSTR_CHECK(device >= 0 && device < static_cast<int>(streams.size()), "cuda: device ", device,
                " does not exist: ", streams.size(), " device(s) found. Use cuda:0");
    auto& s = streams[static_cast<std::size_t>(device)];
    if (!s) {
        int previous = 0;
        POSTR_CUDA_CHECK(cudaGetDevice(&previous));
        POSTR_CUDA_CHECK(cudaSetDevice(device));
        POSTR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        POSTR_CUDA_CHECK(cudaSetDevice(previous));
    }
    return s;
}

void check_launch(const char* kernel, const char* file, int line) {
    cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) throw_cuda_error(kernel, cudaGetErrorName(status), file, line);
#ifdef POSTR_CUDA_SYNC_CHECKS
    status = cudaDeviceSynchronize();
    if (status != cudaSuccess) throw_cuda_error(kernel, cudaGetErrorName(status), file, line);
#endif
}

}  // namespace detail

int cuda_device_count() {
    static const int count = [] {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess) {
            static_cast<void>(cudaGetLastError());  // clear the sticky "no driver" status
            return 0;
        }
        return n;
    }();
    return count;
}

void cuda_synchronize(int device) {
    POSTR_CUDA_CHECK(cudaStreamSynchronize(detail::stream_of(device)));
}

Stream cuda_stream(int device) { return Stream{detail::stream_of(device)}; }

}  // namespace postr
