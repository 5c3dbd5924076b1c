// Indexing kernels on the CPU. gather walks out's positions with one strided plan whose x
// operand has stride 0 along `dim` (the index supplies that coordinate); scatter_add_ runs the
// positions off `dim` in parallel and each one's run along `dim` serially, so duplicate indices
// accumulate in index order whatever the thread count.
#include "postr/kernels/indexing.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "postr/core/strided_loop.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/cpu/iterate.h"

namespace postr::cpu {
namespace {

constexpr std::int64_t kGrain = 1 << 14;  // positions per task: amortizes the pool's dispatch

// t's strides with the one along `dim` replaced by 0.
Shape strides_without(const Tensor& t, int dim) {
    Shape s = t.strides();
    s[static_cast<std::size_t>(dim)] = 0;
    return s;
}

}  // namespace

IndexBounds index_bounds(const Tensor& index) {
    const Shape* strides[1] = {&index.strides()};
    const StridedPlan<1> plan = make_plan<1>(index.shape(), strides);
    if (plan.numel == 0) return {};
    const std::int64_t* p = index.data<std::int64_t>();
    const std::int64_t chunks = (plan.numel + kGrain - 1) / kGrain;
    std::vector<IndexBounds> part(static_cast<std::size_t>(chunks));
    parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
        IndexBounds b{std::numeric_limits<std::int64_t>::max(),
                      std::numeric_limits<std::int64_t>::min()};
        for_each_run(plan, begin, end,
                     [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                         for (std::int64_t k = 0; k < n; ++k) {
                             std::int64_t v = p[off[0] + k * inner[0]];
                             b.min = std::min(b.min, v);
                             b.max = std::max(b.max, v);
                         }
                     });
        part[static_cast<std::size_t>(begin / kGrain)] = b;
    });
    IndexBounds all = part[0];
    for (const IndexBounds& b : part) {
        all.min = std::min(all.min, b.min);
        all.max = std::max(all.max, b.max);
    }
    return all;
}

void gather(const Tensor& x, int dim, const Tensor& index, const Tensor& out) {
    const Shape x_strides = strides_without(x, dim);
    const Shape* strides[3] = {&out.strides(), &x_strides, &index.strides()};
    const StridedPlan<3> plan = make_plan<3>(out.shape(), strides);
    if (plan.numel == 0) return;
    const std::int64_t x_dim_stride = x.stride(dim);
    const std::int64_t* idx = index.data<std::int64_t>();
    visit_dtype(x.dtype(), [&]<class T>() {
        const T* in = x.data<T>();
        T* o = out.data<T>();
        parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
            for_each_run(
                plan, begin, end,
                [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                    for (std::int64_t k = 0; k < n; ++k)
                        o[off[0] + k * inner[0]] =
                            in[off[1] + k * inner[1] + idx[off[2] + k * inner[2]] * x_dim_stride];
                });
        });
    });
}

void scatter_add_(const Tensor& x, int dim, const Tensor& index, const Tensor& src) {
    // The outer plan covers index's positions with `dim` collapsed to size 1 (make_plan drops
    // it); each outer position then walks index.size(dim) elements along `dim`.
    Shape outer = index.shape();
    const std::int64_t run = outer[static_cast<std::size_t>(dim)];
    outer[static_cast<std::size_t>(dim)] = 1;
    const Shape x_strides = strides_without(x, dim);
    const Shape* strides[3] = {&x_strides, &index.strides(), &src.strides()};
    const StridedPlan<3> plan = make_plan<3>(outer, strides);
    if (plan.numel == 0 || run == 0) return;
    const std::int64_t xs = x.stride(dim), is = index.stride(dim), ss = src.stride(dim);
    const std::int64_t* idx = index.data<std::int64_t>();
    const std::int64_t grain = std::max<std::int64_t>(1, kGrain / run);
    visit_dtype(x.dtype(), [&]<class T>() {
        T* o = x.data<T>();
        const T* s = src.data<T>();
        parallel_for(plan.numel, grain, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t pos = begin; pos < end; ++pos) {
                std::int64_t off[3];
                plan.offsets(pos, off);
                for (std::int64_t j = 0; j < run; ++j)
                    o[off[0] + idx[off[1] + j * is] * xs] += s[off[2] + j * ss];
            }
        });
    });
}

void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out) {
    visit_dtype(x.dtype(), [&]<class T>() {
        const T v = static_cast<T>(value);
        visit_dtype(mask.dtype(), [&]<class M>() {
            map_elements<T, T, M>(
                out, [v](T a, M m) { return m != M(0) ? v : a; }, x, mask);
        });
    });
}

}  // namespace postr::cpu
