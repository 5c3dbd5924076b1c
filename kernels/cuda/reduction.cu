// Reductions on CUDA. Rows x: [R, L] are cut into S segments of fixed length (S depends only on
// R, L and the strides, so results are deterministic; no float atomics). Stage 1 reduces each
// (row, segment) either with one thread (short or column-like rows: adjacent threads read
// adjacent rows, so loads coalesce; sums use the CPU's cascade) or with a group of TX threads (a
// warp for rows up to 1024, a block of 256 beyond) combined by a shuffle tree. When S > 1,
// stage 2 combines the S partials of each row with one group per row. Accumulation is in the
// data type, as on the CPU; the tree order differs from the CPU cascade, so f32 parity is to a
// rounding tolerance, not bitwise.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "postr/core/cuda/check.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/reduce_math.h"
#include "postr/kernels/reduction.h"

namespace postr::cuda {
namespace {

constexpr int kGroupElems = 32;   // elements per thread in a group segment
constexpr int kThreadSeg = 4096;  // elements per thread-level segment (32 cascade blocks)
constexpr int kMaxSegments = 1024;

__device__ inline float shfl_down(float v, int off, int width) {
    return __shfl_down_sync(0xffffffffu, v, off, width);
}
__device__ inline double shfl_down(double v, int off, int width) {
    return __shfl_down_sync(0xffffffffu, v, off, width);
}
__device__ inline std::int64_t shfl_down(std::int64_t v, int off, int width) {
    return static_cast<std::int64_t>(
        __shfl_down_sync(0xffffffffu, static_cast<long long>(v), off, width));
}

// Σ map(x): the partial is a T.
template <class T>
struct SumReducer {
    using Acc = T;
    __device__ Acc identity() const { return T(0); }
    __device__ Acc combine(Acc a, Acc b) const { return a + b; }
    __device__ Acc shuffle(Acc a, int off, int width) const { return shfl_down(a, off, width); }
    template <class Map>
    __device__ Acc fold(Acc a, T v, std::int64_t, Map map, T p) const {
        return a + map(v, p);
    }
    // One thread over a whole segment: the cascade, as on the CPU.
    template <class Map>
    __device__ Acc segment(const T* x, std::int64_t stride, std::int64_t n, std::int64_t, Map map,
                           T p) const {
        return math::cascade_sum(x, stride, n, [&](T v) { return map(v, p); });
    }
};

template <class T>
struct ValueIndex {
    T value;
    std::int64_t index;  // −1: no element yet
};

// The first extremum of map(x); ties and NaNs resolved by math::arg_takes (lowest index wins).
template <class T>
struct ArgReducer {
    using Acc = ValueIndex<T>;
    bool largest;
    T init;  // the value of an empty row
    __device__ Acc identity() const { return {init, -1}; }
    __device__ Acc combine(Acc a, Acc b) const {
        if (b.index < 0) return a;
        if (a.index < 0) return b;
        return math::arg_takes(largest, b.value, b.index, a.value, a.index) ? b : a;
    }
    __device__ Acc shuffle(Acc a, int off, int width) const {
        return {shfl_down(a.value, off, width), shfl_down(a.index, off, width)};
    }
    template <class Map>
    __device__ Acc fold(Acc a, T v, std::int64_t i, Map map, T p) const {
        return combine(a, Acc{map(v, p), i});
    }
    template <class Map>
    __device__ Acc segment(const T* x, std::int64_t stride, std::int64_t n, std::int64_t first,
                           Map map, T p) const {
        Acc a = identity();
        for (std::int64_t i = 0; i < n; ++i) a = fold(a, x[i * stride], first + i, map, p);
        return a;
    }
};

// Element maps whose per-row parameter is a first-pass result (the row maximum or max |x|).
struct MapExpShiftOfMax {
    template <class T>
    __device__ T operator()(T x, T m) const {
        return math::MapExpShift{}(x, math::exp_shift(m));
    }
};
struct MapScaledSquareOfMaxAbs {
    template <class T>
    __device__ T operator()(T x, T a) const {
        return math::MapScaledSquare{}(x, math::norm_scale(a));
    }
};

// Turns a row's final accumulator into outputs.
template <class T>
struct Writer {
    ReduceOp op;
    std::int64_t len, correction;
    const T* first;         // [R] first-pass results, or null
    T* out;                 // [R]
    std::int64_t* indices;  // [R] for extremum, or null
    __device__ void operator()(std::int64_t r, T acc) const {
        switch (op) {
            case ReduceOp::mean:
                out[r] = acc / static_cast<T>(len);
                break;
            case ReduceOp::var:
                out[r] = math::var_finish(acc, len, correction);
                break;
            case ReduceOp::logsumexp:
                out[r] = math::logsumexp_finish(first[r], acc);
                break;
            case ReduceOp::norm2:
                out[r] = math::norm2_finish(first[r], acc);
                break;
            default:
                out[r] = acc;
        }
    }
    __device__ void operator()(std::int64_t r, ValueIndex<T> acc) const {
        out[r] = acc.value;
        if (indices) indices[r] = acc.index;
    }
};

// Combines the accumulators of the TX threads of a group (TX a power of two ≤ 256); the result
// is valid in the group's thread 0. `shared` holds blockDim.y·8 accumulators when TX > 32.
template <class Red>
__device__ typename Red::Acc group_reduce(const Red& red, typename Red::Acc acc, int tx,
                                          typename Red::Acc* shared) {
    const int width = tx < 32 ? tx : 32;
    for (int off = width / 2; off > 0; off /= 2)
        acc = red.combine(acc, red.shuffle(acc, off, width));
    if (tx <= 32) return acc;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = tx / 32;
    __syncthreads();
    if (lane == 0) shared[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        acc = lane < warps ? shared[lane] : red.identity();
        for (int off = 16; off > 0; off /= 2) acc = red.combine(acc, red.shuffle(acc, off, 32));
    }
    return acc;
}

struct RowGeometry {
    std::int64_t rows, len, row_stride, col_stride;
    std::int64_t segments, seg_len;
};

// Stage 1, one thread per (row, segment); item = segment·R + row, so a warp spans rows.
template <class T, class Red, class Map>
__global__ void thread_rows_kernel(const T* x, RowGeometry g, const T* param, Red red, Map map,
                                   typename Red::Acc* partial, Writer<T> write) {
    POSTR_GRID_STRIDE_LOOP(item, g.rows * g.segments) {
        const std::int64_t r = item % g.rows, s = item / g.rows;
        const std::int64_t begin = s * g.seg_len;
        const std::int64_t n = g.len - begin < g.seg_len ? g.len - begin : g.seg_len;
        auto acc = red.segment(x + r * g.row_stride + begin * g.col_stride, g.col_stride, n, begin,
                               map, param ? param[r] : T(0));
        if (g.segments == 1)
            write(r, acc);
        else
            partial[r * g.segments + s] = acc;
    }
}

// Stage 1, a group of blockDim.x threads per (row, segment): block (TX, TY), grid (⌈R/TY⌉, S).
template <class T, class Red, class Map>
__global__ void group_rows_kernel(const T* x, RowGeometry g, const T* param, Red red, Map map,
                                  typename Red::Acc* partial, Writer<T> write) {
    using Acc = typename Red::Acc;
    __shared__ Acc shared[8];
    const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.y) + threadIdx.y;
    const std::int64_t s = blockIdx.y;
    Acc acc = red.identity();
    if (r < g.rows) {
        const std::int64_t begin = s * g.seg_len;
        const std::int64_t end = g.len < begin + g.seg_len ? g.len : begin + g.seg_len;
        const T* row = x + r * g.row_stride;
        const T p = param ? param[r] : T(0);
        for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
            acc = red.fold(acc, row[i * g.col_stride], i, map, p);
    }
    acc = group_reduce(red, acc, blockDim.x, shared);
    if (threadIdx.x == 0 && r < g.rows) {
        if (g.segments == 1)
            write(r, acc);
        else
            partial[r * g.segments + s] = acc;
    }
}

// Stage 2: partial [R, S] → one result per row, a group of blockDim.x threads per row.
template <class T, class Red>
__global__ void combine_kernel(const typename Red::Acc* partial, std::int64_t rows,
                               std::int64_t segments, Red red, Writer<T> write) {
    using Acc = typename Red::Acc;
    __shared__ Acc shared[8];
    const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.y) + threadIdx.y;
    Acc acc = red.identity();
    if (r < rows)
        for (std::int64_t s = threadIdx.x; s < segments; s += blockDim.x)
            acc = red.combine(acc, partial[r * segments + s]);
    acc = group_reduce(red, acc, blockDim.x, shared);
    if (threadIdx.x == 0 && r < rows) write(r, acc);
}

// Threads per row for a group kernel over rows of `len` elements.
int group_width(std::int64_t len) { return len <= 1024 ? 32 : kBlockSize; }

// Reduces every row of x: [R, L] with `red` over map(x, param[r]); `write` gets each row's result.
template <class T, class Red, class Map>
void reduce_rows(const Tensor& x, const T* param, Red red, Map map, Writer<T> write) {
    using Acc = typename Red::Acc;
    RowGeometry g{x.size(0), x.size(1), x.stride(0), x.stride(1), 1, x.size(1)};
    if (g.rows == 0) return;
    cudaStream_t stream = stream_for(x);
    const T* xp = static_cast<const T*>(x.data_ptr());
    // Column-like rows (unit row stride, strided elements) and short rows: a thread each.
    const bool per_thread = g.len <= 32 || (g.row_stride == 1 && g.col_stride != 1 && g.rows >= 32);
    int tx = 1;
    if (per_thread) {
        g.segments = g.len <= kThreadSeg ? 1 : (g.len + kThreadSeg - 1) / kThreadSeg;
        g.seg_len = g.segments == 1 ? g.len : kThreadSeg;
    } else {
        tx = group_width(g.len);
        std::int64_t want = (g.len + tx * kGroupElems - 1) / (tx * kGroupElems);
        g.segments = want < kMaxSegments ? want : kMaxSegments;
        g.seg_len = (g.len + g.segments - 1) / g.segments;
    }
    // [R, S] partial accumulators; an i64 tensor is simply raw device memory here.
    Tensor partial_buf;
    Acc* partial = nullptr;
    if (g.segments > 1) {
        const std::int64_t words =
            (g.rows * g.segments * static_cast<std::int64_t>(sizeof(Acc)) + 7) / 8;
        partial_buf = Tensor::empty({words}, DType::i64, x.device());
        partial = static_cast<Acc*>(partial_buf.data_ptr());
    }
    if (per_thread) {
        thread_rows_kernel<T, Red, Map><<<grid_for(g.rows * g.segments), kBlockSize, 0, stream>>>(
            xp, g, param, red, map, partial, write);
        POSTR_CHECK_LAUNCH("thread_rows_kernel");
    } else {
        const int ty = kBlockSize / tx;
        dim3 grid(static_cast<unsigned>((g.rows + ty - 1) / ty), static_cast<unsigned>(g.segments));
        group_rows_kernel<T, Red, Map>
            <<<grid, dim3(tx, ty), 0, stream>>>(xp, g, param, red, map, partial, write);
        POSTR_CHECK_LAUNCH("group_rows_kernel");
    }
    if (g.segments > 1) {
        const int cx = group_width(g.segments), cy = kBlockSize / cx;
        combine_kernel<T, Red>
            <<<static_cast<unsigned>((g.rows + cy - 1) / cy), dim3(cx, cy), 0, stream>>>(
                partial, g.rows, g.segments, red, write);
        POSTR_CHECK_LAUNCH("combine_kernel");
    }
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t correction) {
    const std::int64_t rows = x.size(0), len = x.size(1);
    T* o = static_cast<T*>(out.data_ptr());
    auto writer = [&](ReduceOp w, const T* first, T* dst) {
        return Writer<T>{w, len, correction, first, dst, nullptr};
    };
    if (op == ReduceOp::sum)
        return reduce_rows<T>(x, nullptr, SumReducer<T>{}, math::MapIdentity{},
                              writer(op, nullptr, o));
    if constexpr (std::is_floating_point_v<T>) {
        constexpr T kNegInf = -std::numeric_limits<T>::infinity();
        Tensor first_buf = Tensor::empty({rows}, out.dtype(), out.device());  // [R] first pass
        T* first = static_cast<T*>(first_buf.data_ptr());
        switch (op) {
            case ReduceOp::mean:
                reduce_rows<T>(x, nullptr, SumReducer<T>{}, math::MapIdentity{},
                               writer(op, nullptr, o));
                break;
            case ReduceOp::var:
                reduce_rows<T>(x, nullptr, SumReducer<T>{}, math::MapIdentity{},
                               writer(ReduceOp::mean, nullptr, first));
                reduce_rows<T>(x, first, SumReducer<T>{}, math::MapSquaredDeviation{},
                               writer(op, nullptr, o));
                break;
            case ReduceOp::logsumexp:
                reduce_rows<T>(x, nullptr, ArgReducer<T>{true, kNegInf}, math::MapIdentity{},
                               writer(op, nullptr, first));
                reduce_rows<T>(x, first, SumReducer<T>{}, MapExpShiftOfMax{}, writer(op, first, o));
                break;
            case ReduceOp::norm1:
                reduce_rows<T>(x, nullptr, SumReducer<T>{}, math::MapAbs{}, writer(op, nullptr, o));
                break;
            case ReduceOp::norm2:
                reduce_rows<T>(x, nullptr, ArgReducer<T>{true, T(0)}, math::MapAbs{},
                               writer(op, nullptr, first));
                reduce_rows<T>(x, first, SumReducer<T>{}, MapScaledSquareOfMaxAbs{},
                               writer(op, first, o));
                break;
            case ReduceOp::norm_inf:
                reduce_rows<T>(x, nullptr, ArgReducer<T>{true, T(0)}, math::MapAbs{},
                               writer(op, nullptr, o));
                break;
            default:
                break;
        }
    }
}

template <class T>
__global__ void all_finite_kernel(StridedPlan<1> plan, const T* x, int* bad) {
    POSTR_GRID_STRIDE_LOOP(i, plan.numel) {
        std::int64_t off[1];
        plan.offsets(i, off);
        if (!isfinite(x[off[0]])) *bad = 1;  // every writer stores the same value
    }
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t correction) {
    visit_dtype(x.dtype(), [&]<class T>() { reduce_typed<T>(op, x, out, correction); });
}

void extremum(bool largest, const Tensor& x, const Tensor& values, const Tensor& indices) {
    visit_dtype(x.dtype(), [&]<class T>() {
        auto* idx = indices.defined() ? static_cast<std::int64_t*>(indices.data_ptr()) : nullptr;
        Writer<T> write{
            ReduceOp::sum, x.size(1), 0, nullptr, static_cast<T*>(values.data_ptr()), idx};
        reduce_rows<T>(x, nullptr, ArgReducer<T>{largest, T(0)}, math::MapIdentity{}, write);
    });
}

bool all_finite(const Tensor& x) {
    if (!is_floating(x.dtype()) || x.numel() == 0) return true;
    Tensor flag = Tensor::zeros({1}, DType::i64, x.device());  // an int flag in its first word
    cudaStream_t stream = stream_for(x);
    visit_floating(x.dtype(), [&]<class T>() {
        const Shape* strides[1] = {&x.strides()};
        all_finite_kernel<T><<<grid_for(x.numel()), kBlockSize, 0, stream>>>(
            make_plan<1>(x.shape(), strides), static_cast<const T*>(x.data_ptr()),
            static_cast<int*>(flag.data_ptr()));
        POSTR_CHECK_LAUNCH("all_finite_kernel");
    });
    return flag.item<std::int64_t>() == 0;
}

}  // namespace postr::cuda
