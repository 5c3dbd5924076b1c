// Host side of core's data movement: strided copy with cast, and fill.
#include "postr/core/copy.h"

#include <cstring>

#include "postr/core/strided_loop.h"
#include "postr/core/tensor.h"
#include "postr/core/thread_pool.h"

namespace postr::detail {
namespace {
constexpr std::int64_t kGrain = 1 << 15;  // elements per task: large enough to amortize dispatch
}

void copy_same_device_cpu(const Tensor& src, const Tensor& dst) {
    if (dst.numel() == 0) return;
    if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
        if (src.data_ptr() != dst.data_ptr())
            std::memmove(dst.data_ptr(), src.data_ptr(), dst.nbytes());
        return;
    }
    const Shape* strides[2] = {&dst.strides(), &src.strides()};
    auto plan = make_plan<2>(dst.shape(), strides);
    visit_dtype(dst.dtype(), [&]<class D>() {
        visit_dtype(src.dtype(), [&]<class S>() {
            D* out = static_cast<D*>(dst.data_ptr());
            const S* in = static_cast<const S*>(src.data_ptr());
            parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
                for_each_run(
                    plan, begin, end,
                    [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                        D* o = out + off[0];
                        const S* i = in + off[1];
                        for (std::int64_t k = 0; k < n; ++k)
                            o[k * inner[0]] = static_cast<D>(i[k * inner[1]]);
                    });
            });
        });
    });
}

void fill_cpu(const Tensor& dst, double value) {
    if (dst.numel() == 0) return;
    const Shape* strides[1] = {&dst.strides()};
    auto plan = make_plan<1>(dst.shape(), strides);
    visit_dtype(dst.dtype(), [&]<class D>() {
        D v = static_cast<D>(value);
        D* out = static_cast<D*>(dst.data_ptr());
        parallel_for(plan.numel, kGrain, [&](std::int64_t begin, std::int64_t end) {
            for_each_run(plan, begin, end,
                         [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                             D* o = out + off[0];
                             for (std::int64_t k = 0; k < n; ++k) o[k * inner[0]] = v;
                         });
        });
    });
}

}  // namespace postr::detail
