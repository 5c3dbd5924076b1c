// Indexing kernels on CUDA, twins of kernels/cpu/indexing.cpp. gather and scatter_add_ walk one
// strided plan whose x operand has stride 0 along `dim`; the index supplies that coordinate.
// Indices are range-checked by the public op (through index_bounds) before these kernels run.
#include <climits>
#include <cstdint>
#include <vector>

#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/indexing.h"

namespace postr::cuda {
namespace {

Shape strides_without(const Tensor& t, int dim) {
    Shape s = t.strides();
    s[static_cast<std::size_t>(dim)] = 0;
    return s;
}

// bounds: [min, max], initialized to [INT64_MAX, INT64_MIN] by the caller.
__global__ void index_bounds_kernel(StridedPlan<1> plan, const std::int64_t* index,
                                    long long* bounds) {
    long long lo = LLONG_MAX, hi = LLONG_MIN;
    POSTR_GRID_STRIDE_LOOP(i, plan.numel) {
        std::int64_t off[1];
        plan.offsets(i, off);
        long long v = index[off[0]];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    // Warp-reduce first so only one atomic per warp reaches global memory.
    for (int s = 16; s > 0; s /= 2) {
        long long olo = __shfl_down_sync(0xffffffffu, lo, s);
        long long ohi = __shfl_down_sync(0xffffffffu, hi, s);
        lo = olo < lo ? olo : lo;
        hi = ohi > hi ? ohi : hi;
    }
    if ((threadIdx.x & 31) == 0) {
        atomicMin(&bounds[0], lo);
        atomicMax(&bounds[1], hi);
    }
}

template <class T>
__global__ void gather_kernel(StridedPlan<3> plan, const T* x, std::int64_t x_dim_stride,
                              const std::int64_t* index, T* out) {
    POSTR_GRID_STRIDE_LOOP(i, plan.numel) {
        std::int64_t off[3];
        plan.offsets(i, off);
        out[off[0]] = x[off[1] + index[off[2]] * x_dim_stride];
    }
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
// Two's-complement addition is the same operation on signed and unsigned 64-bit integers.
__device__ inline void atomic_add(std::int64_t* p, std::int64_t v) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <class T>
__global__ void scatter_add_kernel(StridedPlan<3> plan, T* x, std::int64_t x_dim_stride,
                                   const std::int64_t* index, const T* src) {
    POSTR_GRID_STRIDE_LOOP(i, plan.numel) {
        std::int64_t off[3];
        plan.offsets(i, off);
        atomic_add(&x[off[0] + index[off[1]] * x_dim_stride], src[off[2]]);
    }
}

// Extended __device__ lambdas may not sit inside visit_dtype's generic lambdas: a functor.
template <class T, class M>
struct MaskedFillFn {
    T value;
    __device__ T operator()(T a, M m) const { return m != M(0) ? value : a; }
};

}  // namespace

IndexBounds index_bounds(const Tensor& index) {
    const Shape* strides[1] = {&index.strides()};
    const StridedPlan<1> plan = make_plan<1>(index.shape(), strides);
    if (plan.numel == 0) return {};
    // [2] i64 on the device: min, max.
    Tensor bounds =
        Tensor::from_vector(std::vector<std::int64_t>{INT64_MAX, INT64_MIN}, {2}, index.device());
    cudaStream_t stream = stream_for(index);
    index_bounds_kernel<<<grid_for(plan.numel), kBlockSize, 0, stream>>>(
        plan, index.data<std::int64_t>(),
        reinterpret_cast<long long*>(bounds.data<std::int64_t>()));
    POSTR_CHECK_LAUNCH("index_bounds_kernel");
    std::vector<std::int64_t> b = bounds.to_vector<std::int64_t>();
    return {b[0], b[1]};
}

void gather(const Tensor& x, int dim, const Tensor& index, const Tensor& out) {
    const Shape x_strides = strides_without(x, dim);
    const Shape* strides[3] = {&out.strides(), &x_strides, &index.strides()};
    const StridedPlan<3> plan = make_plan<3>(out.shape(), strides);
    if (plan.numel == 0) return;
    visit_dtype(x.dtype(), [&]<class T>() {
        gather_kernel<T><<<grid_for(plan.numel), kBlockSize, 0, stream_for(out)>>>(
            plan, x.data<T>(), x.stride(dim), index.data<std::int64_t>(), out.data<T>());
    });
    POSTR_CHECK_LAUNCH("gather_kernel");
}

void scatter_add_(const Tensor& x, int dim, const Tensor& index, const Tensor& src) {
    const Shape x_strides = strides_without(x, dim);
    const Shape* strides[3] = {&x_strides, &index.strides(), &src.strides()};
    const StridedPlan<3> plan = make_plan<3>(index.shape(), strides);
    if (plan.numel == 0) return;
    visit_dtype(x.dtype(), [&]<class T>() {
        scatter_add_kernel<T><<<grid_for(plan.numel), kBlockSize, 0, stream_for(x)>>>(
            plan, x.data<T>(), x.stride(dim), index.data<std::int64_t>(), src.data<T>());
    });
    POSTR_CHECK_LAUNCH("scatter_add_kernel");
}

void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out) {
    visit_dtype(x.dtype(), [&]<class T>() {
        const T v = static_cast<T>(value);
        visit_dtype(mask.dtype(),
                    [&]<class M>() { map_elements<T, T, M>(out, MaskedFillFn<T, M>{v}, x, mask); });
    });
}

}  // namespace postr::cuda
