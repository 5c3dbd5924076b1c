// Device side of core's data movement: strided copy with cast, fill, and transfers.
#include "postr/core/copy.h"
#include "postr/core/cuda/check.h"
#include "postr/core/strided_loop.h"
#include "postr/core/tensor.h"

namespace postr::detail {
namespace {

constexpr int kThreads = 256;

int blocks_for(std::int64_t n) {
    std::int64_t b = (n + kThreads - 1) / kThreads;
    return static_cast<int>(b < 65535 * 32 ? b : 65535 * 32);
}

template <class D, class S>
__global__ void copy_kernel(StridedPlan<2> plan, D* out, const S* in) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
         i < plan.numel; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        std::int64_t off[2];
        plan.offsets(i, off);
        out[off[0]] = static_cast<D>(in[off[1]]);
    }
}

template <class D>
__global__ void fill_kernel(StridedPlan<1> plan, D* out, D value) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
         i < plan.numel; i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        std::int64_t off[1];
        plan.offsets(i, off);
        out[off[0]] = value;
    }
}

}  // namespace

void copy_same_device_cuda(const Tensor& src, const Tensor& dst) {
    if (dst.numel() == 0) return;
    int device = dst.device().index;
    cudaStream_t stream = stream_of(device);
    if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
        POSTR_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), dst.nbytes(),
                                         cudaMemcpyDeviceToDevice, stream));
        return;
    }
    const Shape* strides[2] = {&dst.strides(), &src.strides()};
    auto plan = make_plan<2>(dst.shape(), strides);
    visit_dtype(dst.dtype(), [&]<class D>() {
        visit_dtype(src.dtype(), [&]<class S>() {
            copy_kernel<D, S><<<blocks_for(plan.numel), kThreads, 0, stream>>>(
                plan, static_cast<D*>(dst.data_ptr()), static_cast<const S*>(src.data_ptr()));
            POSTR_CHECK_LAUNCH("copy_kernel");
        });
    });
}

void fill_cuda(const Tensor& dst, double value) {
    if (dst.numel() == 0) return;
    cudaStream_t stream = stream_of(dst.device().index);
    const Shape* strides[1] = {&dst.strides()};
    auto plan = make_plan<1>(dst.shape(), strides);
    visit_dtype(dst.dtype(), [&]<class D>() {
        fill_kernel<D><<<blocks_for(plan.numel), kThreads, 0, stream>>>(
            plan, static_cast<D*>(dst.data_ptr()), static_cast<D>(value));
        POSTR_CHECK_LAUNCH("fill_kernel");
    });
}

void memcpy_host_to_device(void* dst, const void* src, std::size_t nbytes, int device) {
    cudaStream_t stream = stream_of(device);
    POSTR_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream));
    POSTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // the host buffer may be freed on return
}

void memcpy_device_to_host(void* dst, const void* src, std::size_t nbytes, int device) {
    cudaStream_t stream = stream_of(device);
    POSTR_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream));
    POSTR_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void memcpy_device_to_device(void* dst, const void* src, std::size_t nbytes, int device) {
    POSTR_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream_of(device)));
}

}  // namespace postr::detail
