// Top-k on the CPU: a parallel scan in fixed-size chunks, each keeping its own k best
// (key, index) pairs (nth_element on the chunk's keys finds its k-th key), then one selection
// over the survivors and a sort of the final k. The order (kernels/topk.h) is strict and total, so
// the result is unique: the same for any thread count and identical to the CUDA radix select.
#include "postr/kernels/topk.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "postr/core/thread_pool.h"

namespace postr::cpu {
namespace {

template <class Key>
struct Item {
    Key key;
    std::int64_t index;
};

// a comes before b: larger key, then lower index.
template <class Key>
bool before(const Item<Key>& a, const Item<Key>& b) {
    return a.key > b.key || (a.key == b.key && a.index < b.index);
}

// Keeps the k first items of v (in `before` order), unordered.
template <class Key>
void keep_best(std::vector<Item<Key>>& v, std::int64_t k) {
    if (static_cast<std::int64_t>(v.size()) <= k) return;
    std::nth_element(v.begin(), v.begin() + k, v.end(), before<Key>);
    v.resize(static_cast<std::size_t>(k));
}

template <class T>
void topk_impl(const Tensor& x, std::int64_t k, bool largest, const Tensor& values,
               const Tensor& indices) {
    using Key = decltype(postr::detail::topk_key(T{}, true));
    const std::int64_t n = x.size(0), stride = x.stride(0);
    const T* in = x.data<T>();
    // A chunk much longer than k lets each chunk discard most of its elements; 1 << 16 keeps
    // the pool busy when k is small. Depends on k, never on the thread count.
    const std::int64_t chunk = std::max<std::int64_t>(std::int64_t{1} << 16, 16 * k);
    const std::int64_t chunks = (n + chunk - 1) / chunk;
    std::vector<std::vector<Item<Key>>> best(static_cast<std::size_t>(chunks));
    parallel_for(n, chunk, [&](std::int64_t begin, std::int64_t end) {
        // Selecting on the bare keys first (4 or 8 bytes each) moves far less memory than
        // selecting on (key, index) pairs; only the k survivors become pairs.
        const std::int64_t len = end - begin;
        std::vector<Key> keys(static_cast<std::size_t>(len));
        for (std::int64_t i = 0; i < len; ++i)
            keys[static_cast<std::size_t>(i)] =
                postr::detail::topk_key(in[(begin + i) * stride], largest);
        std::vector<Item<Key>>& v = best[static_cast<std::size_t>(begin / chunk)];
        if (len <= k) {
            for (std::int64_t i = 0; i < len; ++i)
                v.push_back({keys[static_cast<std::size_t>(i)], begin + i});
            return;
        }
        std::vector<Key> scratch(keys);
        std::nth_element(scratch.begin(), scratch.begin() + (k - 1), scratch.end(),
                         [](Key a, Key b) { return a > b; });
        const Key kth = scratch[static_cast<std::size_t>(k - 1)];
        std::vector<Key>().swap(scratch);
        v.reserve(static_cast<std::size_t>(k));
        // Every key above the chunk's k-th, then keys equal to it in index order (the tie rule).
        for (std::int64_t i = 0; i < len; ++i)
            if (keys[static_cast<std::size_t>(i)] > kth)
                v.push_back({keys[static_cast<std::size_t>(i)], begin + i});
        for (std::int64_t i = 0; i < len && static_cast<std::int64_t>(v.size()) < k; ++i)
            if (keys[static_cast<std::size_t>(i)] == kth) v.push_back({kth, begin + i});
    });
    std::vector<Item<Key>> all = std::move(best[0]);
    for (std::size_t c = 1; c < best.size(); ++c) {
        all.insert(all.end(), best[c].begin(), best[c].end());
        std::vector<Item<Key>>().swap(best[c]);
    }
    keep_best(all, k);
    std::sort(all.begin(), all.end(), before<Key>);
    T* out_v = values.data<T>();
    std::int64_t* out_i = indices.data<std::int64_t>();
    for (std::int64_t j = 0; j < k; ++j) {
        out_i[j] = all[static_cast<std::size_t>(j)].index;
        out_v[j] = in[out_i[j] * stride];
    }
}

}  // namespace

void topk(const Tensor& x, std::int64_t k, bool largest, const Tensor& values,
          const Tensor& indices) {
    if (k == 0) return;
    visit_floating(x.dtype(), [&]<class T>() { topk_impl<T>(x, k, largest, values, indices); });
}

}  // namespace postr::cpu
