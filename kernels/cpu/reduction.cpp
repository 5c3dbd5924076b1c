// Reductions on the CPU. Rows are summed by the cascade of reduce_math.h (blocks of 128, then
// pairwise); a long row is cut into chunks of a fixed power-of-two number of blocks whose sums
// are combined pairwise in chunk order, which is bitwise the same as the serial cascade, so the
// result never depends on the thread count.
#include "postr/kernels/reduction.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "postr/core/strided_loop.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/reduce_math.h"

namespace postr::cpu {
namespace {

// Elements per parallel work item along a row: 256 blocks (a power of two, see PairwiseSum).
constexpr std::int64_t kChunk = math::kSumBlock * 256;

// x: [R, L] as a base pointer and element strides.
template <class T>
struct Rows {
    const T* base;
    std::int64_t rows, len, row_stride, col_stride;
    const T* row(std::int64_t r) const { return base + r * row_stride; }
};

template <class T>
Rows<T> rows_of(const Tensor& x) {
    return {static_cast<const T*>(x.data_ptr()), x.size(0), x.size(1), x.stride(0), x.stride(1)};
}

std::int64_t chunks_of(std::int64_t len) { return len <= kChunk ? 1 : (len + kChunk - 1) / kChunk; }
// Rows per work item when rows are short, so each item holds about one chunk of elements.
std::int64_t row_grain(std::int64_t len) {
    return std::max<std::int64_t>(1, kChunk / std::max<std::int64_t>(len, 1));
}

// sums[r] = Σ_i map(x[r, i], param[r]) by the cascade; param may be null (then 0).
template <class T, class Map>
void row_sums(const Rows<T>& x, const std::type_identity_t<T>* param, T* sums, Map map) {
    auto chunk_sum = [&](std::int64_t r, std::int64_t begin, std::int64_t n) {
        T p = param ? param[r] : T(0);
        return math::cascade_sum(x.row(r) + begin * x.col_stride, x.col_stride, n,
                                 [&](T v) { return map(v, p); });
    };
    const std::int64_t nchunk = chunks_of(x.len);
    if (nchunk == 1) {
        parallel_for(x.rows, row_grain(x.len), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t r = b; r < e; ++r) sums[r] = chunk_sum(r, 0, x.len);
        });
        return;
    }
    std::vector<T> partial(static_cast<std::size_t>(x.rows * nchunk));  // [R, nchunk]
    parallel_for(x.rows * nchunk, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t item = b; item < e; ++item) {
            std::int64_t r = item / nchunk, begin = item % nchunk * kChunk;
            partial[static_cast<std::size_t>(item)] =
                chunk_sum(r, begin, std::min(kChunk, x.len - begin));
        }
    });
    for (std::int64_t r = 0; r < x.rows; ++r) {
        math::PairwiseSum<T> acc;
        for (std::int64_t c = 0; c < nchunk; ++c)
            acc.push(partial[static_cast<std::size_t>(r * nchunk + c)]);
        sums[r] = acc.finish();
    }
}

template <class T>
struct Extremum {
    T value;
    std::int64_t index;  // −1 while no element has been seen
};

// Folds b (whose elements all come after a's) into a: ties keep a's earlier index.
template <class T>
Extremum<T> later(bool largest, Extremum<T> a, Extremum<T> b) {
    if (b.index < 0) return a;
    if (a.index < 0) return b;
    bool takes = largest ? math::max_takes(b.value, a.value) : math::min_takes(b.value, a.value);
    return takes ? b : a;
}

// The first extremum of map(x[r, i]) per row, starting from `init` (returned for empty rows).
template <class T, class Map>
void row_extrema(const Rows<T>& x, bool largest, T init, T* values, std::int64_t* indices,
                 Map map) {
    auto scan = [&](std::int64_t r, std::int64_t begin, std::int64_t n) {
        Extremum<T> best{init, -1};
        const T* p = x.row(r);
        for (std::int64_t i = begin; i < begin + n; ++i) {
            T v = map(p[i * x.col_stride], T(0));
            bool takes = largest ? math::max_takes(v, best.value) : math::min_takes(v, best.value);
            if (best.index < 0 || takes) best = {v, i};
        }
        return best;
    };
    auto store = [&](std::int64_t r, Extremum<T> e) {
        values[r] = e.value;
        if (indices) indices[r] = e.index;
    };
    const std::int64_t nchunk = chunks_of(x.len);
    if (nchunk == 1) {
        parallel_for(x.rows, row_grain(x.len), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t r = b; r < e; ++r) store(r, scan(r, 0, x.len));
        });
        return;
    }
    std::vector<Extremum<T>> partial(static_cast<std::size_t>(x.rows * nchunk));
    parallel_for(x.rows * nchunk, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t item = b; item < e; ++item) {
            std::int64_t r = item / nchunk, begin = item % nchunk * kChunk;
            partial[static_cast<std::size_t>(item)] =
                scan(r, begin, std::min(kChunk, x.len - begin));
        }
    });
    for (std::int64_t r = 0; r < x.rows; ++r) {
        Extremum<T> best{init, -1};
        for (std::int64_t c = 0; c < nchunk; ++c)
            best = later(largest, best, partial[static_cast<std::size_t>(r * nchunk + c)]);
        store(r, best);
    }
}

template <class T>
void reduce_typed(ReduceOp op, const Rows<T>& x, T* out, std::int64_t correction) {
    const auto rows = static_cast<std::size_t>(x.rows);
    if (op == ReduceOp::sum) return row_sums(x, nullptr, out, math::MapIdentity{});
    if constexpr (std::is_floating_point_v<T>) {
        std::vector<T> first(rows);  // [R]: the first pass (sum, maximum or max |x|) per row
        if (op == ReduceOp::norm1) {
            row_sums(x, nullptr, out, math::MapAbs{});
        } else if (op == ReduceOp::norm_inf) {
            row_extrema(x, true, T(0), out, nullptr, math::MapAbs{});
        } else if (op == ReduceOp::mean || op == ReduceOp::var) {
            row_sums(x, nullptr, first.data(), math::MapIdentity{});
            for (auto& s : first) s /= static_cast<T>(x.len);
            if (op == ReduceOp::mean) {
                std::copy(first.begin(), first.end(), out);
                return;
            }
            row_sums(x, first.data(), out, math::MapSquaredDeviation{});
            for (std::size_t r = 0; r < rows; ++r)
                out[r] = math::var_finish(out[r], x.len, correction);
        } else if (op == ReduceOp::logsumexp) {
            row_extrema(x, true, -std::numeric_limits<T>::infinity(), first.data(), nullptr,
                        math::MapIdentity{});
            std::vector<T> shift(rows);
            for (std::size_t r = 0; r < rows; ++r) shift[r] = math::exp_shift(first[r]);
            row_sums(x, shift.data(), out, math::MapExpShift{});
            for (std::size_t r = 0; r < rows; ++r)
                out[r] = math::logsumexp_finish(first[r], out[r]);
        } else if (op == ReduceOp::norm2) {
            row_extrema(x, true, T(0), first.data(), nullptr, math::MapAbs{});
            std::vector<T> scale(rows);
            for (std::size_t r = 0; r < rows; ++r) scale[r] = math::norm_scale(first[r]);
            row_sums(x, scale.data(), out, math::MapScaledSquare{});
            for (std::size_t r = 0; r < rows; ++r) out[r] = math::norm2_finish(first[r], out[r]);
        }
    }
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t correction) {
    visit_dtype(x.dtype(), [&]<class T>() {
        reduce_typed<T>(op, rows_of<T>(x), static_cast<T*>(out.data_ptr()), correction);
    });
}

void extremum(bool largest, const Tensor& x, const Tensor& values, const Tensor& indices) {
    visit_dtype(x.dtype(), [&]<class T>() {
        Rows<T> rows = rows_of<T>(x);
        auto* idx = indices.defined() ? static_cast<std::int64_t*>(indices.data_ptr()) : nullptr;
        // L ≥ 1, so the first element always replaces the initial value.
        row_extrema(rows, largest, T(0), static_cast<T*>(values.data_ptr()), idx,
                    math::MapIdentity{});
    });
}

bool all_finite(const Tensor& x) {
    if (!is_floating(x.dtype())) return true;
    return visit_floating(x.dtype(), [&]<class T>() {
        const Shape* strides[1] = {&x.strides()};
        const StridedPlan<1> plan = make_plan<1>(x.shape(), strides);
        const T* base = static_cast<const T*>(x.data_ptr());
        const std::int64_t nchunk = (plan.numel + kChunk - 1) / kChunk;
        std::vector<char> finite(static_cast<std::size_t>(nchunk), 1);  // one flag per chunk
        parallel_for(plan.numel, kChunk, [&](std::int64_t b, std::int64_t e) {
            bool ok = true;
            for_each_run(plan, b, e,
                         [&](const std::int64_t* off, std::int64_t n, const std::int64_t* inner) {
                             const T* p = base + off[0];
                             for (std::int64_t i = 0; i < n; ++i)
                                 ok &= static_cast<bool>(std::isfinite(p[i * inner[0]]));
                         });
            finite[static_cast<std::size_t>(b / kChunk)] = ok;
        });
        return std::all_of(finite.begin(), finite.end(), [](char f) { return f != 0; });
    });
}

}  // namespace postr::cpu
