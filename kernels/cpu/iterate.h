// The strided, broadcasting element loop every CPU elementwise kernel uses, so no kernel
// assumes contiguity. Inputs are expanded to the output's shape (stride 0 where broadcast),
// dims are collapsed, and the work is split over the thread pool in fixed-size chunks.
#pragma once

#include <cstdint>
#include <tuple>
#include <utility>

#include "postr/core/strided_loop.h"
#include "postr/core/tensor.h"
#include "postr/core/thread_pool.h"

namespace postr::cpu {

inline constexpr std::int64_t kElementwiseGrain = 1 << 15;

namespace detail {
template <class TOut, class... TIn, class Fn, std::size_t... I>
inline void map_run(TOut* out, std::int64_t out_stride, const std::tuple<const TIn*...>& in,
                    const std::int64_t* in_strides, std::int64_t n, Fn& fn,
                    std::index_sequence<I...>) {
    if (out_stride == 1 && ((in_strides[I] == 1) && ...)) {
        // Unit strides: a plain loop the compiler can vectorize.
        for (std::int64_t k = 0; k < n; ++k) out[k] = fn(std::get<I>(in)[k]...);
    } else {
        for (std::int64_t k = 0; k < n; ++k)
            out[k * out_stride] = fn(std::get<I>(in)[k * in_strides[I]]...);
    }
}
}  // namespace detail

// out[i] = fn(inputs[i]...) for every element of out; each input is broadcast to out's shape.
// TOut and TIn... are the element types, e.g. map_elements<float, float, float>(out, fn, a, b).
// An input may alias out element for element (in-place updates such as y ← y + αx).
template <class TOut, class... TIn, class Fn, class... Ts>
void map_elements(const Tensor& out, Fn fn, const Ts&... inputs) {
    static_assert(sizeof...(TIn) == sizeof...(Ts), "one element type per input");
    constexpr int N = 1 + static_cast<int>(sizeof...(Ts));
    const Tensor expanded[] = {out, inputs.expand(out.shape())...};
    const Shape* strides[N];
    for (int k = 0; k < N; ++k) strides[k] = &expanded[k].strides();
    const StridedPlan<N> plan = make_plan<N>(out.shape(), strides);
    if (plan.numel == 0) return;
    TOut* o = static_cast<TOut*>(out.data_ptr());
    std::tuple<const TIn*...> in = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::tuple<const TIn*...>(static_cast<const TIn*>(expanded[I + 1].data_ptr())...);
    }
    (std::index_sequence_for<TIn...>{});
    parallel_for(plan.numel, kElementwiseGrain, [&](std::int64_t begin, std::int64_t end) {
        for_each_run(plan, begin, end,
                     [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                         auto at = [&]<std::size_t... I>(std::index_sequence<I...>) {
                             return std::tuple<const TIn*...>((std::get<I>(in) + off[I + 1])...);
                         }
                         (std::index_sequence_for<TIn...>{});
                         detail::map_run<TOut, TIn...>(o + off[0], inner[0], at, inner + 1, n, fn,
                                                       std::index_sequence_for<TIn...>{});
                     });
    });
}

}  // namespace postr::cpu
