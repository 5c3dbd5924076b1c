// Top-k on CUDA: a radix select, not a full sort. Each element becomes a composite key
// (its order key from kernels/topk.h, then ~index), so larger composites come first and no two
// are equal: the k-th largest composite is a unique threshold, and the tie rule (lower index
// first) needs no separate pass. The threshold is found 11 bits at a time, most significant
// first:
//   - a pass histograms the next digit of the candidates (elements whose composite matches the
//     digits chosen so far) with block-local shared-memory histograms summed into one global
//     histogram; the last block to finish picks the digit holding the k-th element and the
//     number still to take (the "last block" pattern, so no host round trip);
//   - the same pass appends the elements that already beat the chosen prefix to the output
//     (they are certainly selected) and copies the candidates into a small buffer once they
//     fit, so after the first one or two passes over x only a few elements are read again.
// Appends use warp-aggregated atomics; their order does not matter because only the k selected
// composites are sorted afterwards: a bitonic sort of runs in shared memory, then rounds that
// merge pairs of runs by binary search (each element's rank in its partner run gives its place).
// The host never waits: the number of passes is fixed (one per digit plus a final one), and
// passes after the threshold is known return at once.
#include <algorithm>
#include <cstdint>

#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/topk.h"

namespace postr::cuda {
namespace {

constexpr int kDigitBits = 11;
constexpr int kBins = 1 << kDigitBits;
constexpr int kPassThreads = 512;
constexpr int kSortThreads = 1024;
// Candidates are buffered once at most this many remain: 2^21 items of 8 or 16 bytes, twice.
constexpr std::uint64_t kBufferCapacity = std::uint64_t{1} << 21;

template <class Key>
struct Item {
    Key key;
    std::uint32_t inv;  // ~index: a larger inv is a lower index
};

template <class Key>
__device__ __forceinline__ bool before(const Item<Key>& a, const Item<Key>& b) {
    return a.key > b.key || (a.key == b.key && a.inv > b.inv);
}

// The digits chosen so far: a composite matches when its masked bits equal key/inv.
template <class Key>
struct Prefix {
    Key key, key_mask;
    std::uint32_t inv, inv_mask;
};

template <class Key>
__device__ __forceinline__ bool matches(const Item<Key>& e, const Prefix<Key>& p) {
    return (e.key & p.key_mask) == p.key && (e.inv & p.inv_mask) == p.inv;
}

// Sign of (e's masked composite − p).
template <class Key>
__device__ __forceinline__ int compare(const Item<Key>& e, const Prefix<Key>& p) {
    Key k = e.key & p.key_mask;
    if (k != p.key) return k > p.key ? 1 : -1;
    std::uint32_t i = e.inv & p.inv_mask;
    if (i != p.inv) return i > p.inv ? 1 : -1;
    return 0;
}

// Digit s, most significant first: the key's bits in 11-bit digits (the last may be shorter),
// then the 32 index bits likewise. f32: 3 + 3 digits, f64: 6 + 3.
template <class Key>
struct Digits {
    static constexpr int kKeyBits = 8 * sizeof(Key);
    static constexpr int kKeyDigits = (kKeyBits + kDigitBits - 1) / kDigitBits;
    static constexpr int kCount = kKeyDigits + (32 + kDigitBits - 1) / kDigitBits;

    int low, width;
    bool in_key;
    __device__ explicit Digits(int s) {
        in_key = s < kKeyDigits;
        int top = in_key ? kKeyBits - s * kDigitBits : 32 - (s - kKeyDigits) * kDigitBits;
        low = top > kDigitBits ? top - kDigitBits : 0;
        width = top - low;
    }
    __device__ std::uint32_t of(const Item<Key>& e) const {
        std::uint32_t mask = (1u << width) - 1;
        return in_key ? static_cast<std::uint32_t>(e.key >> low) & mask : (e.inv >> low) & mask;
    }
    __device__ void set(Prefix<Key>& p, std::uint32_t digit) const {
        std::uint32_t mask = (1u << width) - 1;
        if (in_key) {
            p.key |= static_cast<Key>(digit) << low;
            p.key_mask |= static_cast<Key>(mask) << low;
        } else {
            p.inv |= digit << low;
            p.inv_mask |= mask << low;
        }
    }
};

// Selection state in device memory, read by every pass and advanced by each pass's last block.
template <class Key>
struct State {
    Prefix<Key> prev;                 // every element of the source matches prev
    Prefix<Key> cur;                  // prev plus the digit chosen last
    unsigned long long k_rem;         // elements matching cur still to select
    unsigned long long count;         // elements matching cur
    int next_digit;                   // the digit the next pass histograms
    int done;                         // count == k_rem: all elements matching cur are selected
    int finished;                     // the final pass ran
    int source;                       // 0: x filtered by prev; 1, 2: candidate buffer 0, 1
    unsigned long long source_count;  // elements in that buffer
    unsigned long long selected_count;
    unsigned long long buffer_fill;
    unsigned int blocks_done;
    unsigned long long hist[kBins];
};

template <class Key>
__global__ void init_kernel(State<Key>* st, std::uint64_t k, std::uint64_t n) {
    st->k_rem = k;
    st->count = n;
    st->done = k == n;
}

template <class T, class Key>
__device__ __forceinline__ Item<Key> load_item(const T* x, std::int64_t stride, std::uint64_t i,
                                               bool largest) {
    return {postr::detail::topk_key(x[static_cast<std::int64_t>(i) * stride], largest),
            ~static_cast<std::uint32_t>(i)};
}

// Returns this lane's slot after adding the warp's flagged lanes to *counter with one atomic.
// Every lane of the warp must call it.
__device__ __forceinline__ unsigned long long warp_append(bool flag, unsigned long long* counter) {
    unsigned mask = __ballot_sync(0xffffffffu, flag);
    if (mask == 0) return 0;
    int lane = threadIdx.x & 31;
    int leader = __ffs(mask) - 1;
    unsigned long long base = 0;
    if (lane == leader) base = atomicAdd(counter, static_cast<unsigned long long>(__popc(mask)));
    base = __shfl_sync(0xffffffffu, base, leader);
    return base + __popc(mask & ((1u << lane) - 1u));
}

// The last block's step: pick the digit d holding the k_rem-th candidate (counting from the
// largest digit) and advance the state. Thread t owns bins [4t, 4t + 4).
template <class Key>
__device__ void choose_digit(State<Key>* st, bool buffered, int written) {
    static_assert(kBins == 4 * kPassThreads, "four bins per thread");
    __shared__ unsigned long long suffix[kPassThreads + 1];
    __shared__ unsigned long long bins[kBins];
    const int t = threadIdx.x;
    unsigned long long own = 0;
    for (int b = 4 * t; b < 4 * t + 4; ++b) {
        bins[b] = __ldcg(&st->hist[b]);
        own += bins[b];
        st->hist[b] = 0;
    }
    // Inclusive suffix sums over threads (Hillis–Steele): suffix[t] = Σ_{t' >= t} own(t').
    suffix[t] = own;
    if (t == 0) suffix[kPassThreads] = 0;
    __syncthreads();
    for (int s = 1; s < kPassThreads; s *= 2) {
        unsigned long long add = t + s < kPassThreads ? suffix[t + s] : 0;
        __syncthreads();
        suffix[t] += add;
        __syncthreads();
    }
    const unsigned long long k_rem = st->k_rem;
    if (suffix[t] >= k_rem && suffix[t + 1] < k_rem) {
        unsigned long long above = suffix[t + 1];
        for (int b = 4 * t + 3; b >= 4 * t; --b) {
            if (above + bins[b] >= k_rem) {
                Digits<Key> digit(st->next_digit);
                st->prev = st->cur;
                digit.set(st->cur, static_cast<std::uint32_t>(b));
                st->k_rem = k_rem - above;
                st->count = bins[b];
                st->done = st->count == st->k_rem;
                st->next_digit += 1;
                st->source = buffered ? written + 1 : 0;
                st->source_count = buffered ? __ldcg(&st->buffer_fill) : 0;
                st->buffer_fill = 0;
                st->blocks_done = 0;
                break;
            }
            above += bins[b];
        }
    }
}

// One pass over the source (see the file comment). buffers: [2][capacity].
template <class T, class Key>
__global__ void __launch_bounds__(kPassThreads)
    select_pass_kernel(const T* x, std::int64_t stride, std::uint64_t n, bool largest,
                       State<Key>* st, Item<Key>* buffers, std::uint64_t capacity,
                       Item<Key>* selected) {
    __shared__ unsigned int hist[kBins];
    __shared__ bool last;
    if (st->finished) return;
    const bool done = st->done;
    const int source = st->source;
    const Prefix<Key> prev = st->prev, cur = st->cur;
    const bool buffer = !done && st->count <= capacity;
    const int written = source == 1 ? 1 : 0;  // write the buffer not being read
    const Item<Key>* in = source == 0 ? nullptr : buffers + (source - 1) * capacity;
    Item<Key>* out = buffers + written * capacity;
    const std::uint64_t total = source == 0 ? n : st->source_count;
    const Digits<Key> digit(done ? 0 : min(st->next_digit, Digits<Key>::kCount - 1));

    for (int b = threadIdx.x; b < kBins; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    const std::uint64_t step = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
    // The trip count is uniform across each warp, as warp_append requires.
    for (std::uint64_t base = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x; base < total;
         base += step) {
        const std::uint64_t i = base + threadIdx.x;
        int c = -1;
        Item<Key> e{};
        if (i < total) {
            e = source == 0 ? load_item<T, Key>(x, stride, i, largest) : in[i];
            if (source != 0 || matches(e, prev)) c = compare(e, cur);
        }
        const bool emit = c > 0 || (c == 0 && done);
        const bool candidate = c == 0 && !done;
        unsigned long long slot = warp_append(emit, &st->selected_count);
        if (emit) selected[slot] = e;
        if (candidate) atomicAdd(&hist[digit.of(e)], 1u);
        if (buffer) {
            slot = warp_append(candidate, &st->buffer_fill);
            if (candidate) out[slot] = e;
        }
    }
    __syncthreads();
    if (!done)
        for (int b = threadIdx.x; b < kBins; b += blockDim.x)
            if (hist[b] != 0) atomicAdd(&st->hist[b], static_cast<unsigned long long>(hist[b]));
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&st->blocks_done, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    if (done) {
        if (threadIdx.x == 0) st->finished = 1;
        return;
    }
    choose_digit(st, buffer, written);
}

// Sorts each run of R items of data[0, k) into `before` order: a bitonic sort in shared memory,
// padded with the composite (0, 0), which no element has (inv = ~index >= 1 for index < 2^32 - 1).
template <class Key, int R>
__global__ void __launch_bounds__(kSortThreads)
    block_sort_kernel(Item<Key>* data, std::uint64_t k) {
    __shared__ Item<Key> s[R];
    const std::uint64_t base = static_cast<std::uint64_t>(blockIdx.x) * R;
    for (int i = threadIdx.x; i < R; i += blockDim.x)
        s[i] = base + i < k ? data[base + i] : Item<Key>{0, 0};
    __syncthreads();
    for (int size = 2; size <= R; size *= 2) {
        for (int stride = size / 2; stride > 0; stride /= 2) {
            for (int t = threadIdx.x; t < R / 2; t += blockDim.x) {
                int i = 2 * t - (t & (stride - 1));
                int j = i + stride;
                Item<Key> a = s[i], b = s[j];
                bool forward = (i & size) == 0;
                if (forward ? before(b, a) : before(a, b)) {
                    s[i] = b;
                    s[j] = a;
                }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < R; i += blockDim.x)
        if (base + i < k) data[base + i] = s[i];
}

// Merges sorted runs of length `run` pairwise: an element's place is its position in its own
// run plus the number of elements of the partner run that come before it (composites are
// distinct, so the places form a permutation).
template <class Key>
__global__ void merge_kernel(const Item<Key>* src, Item<Key>* dst, std::uint64_t k,
                             std::uint64_t run) {
    POSTR_GRID_STRIDE_LOOP(i, static_cast<std::int64_t>(k)) {
        const std::uint64_t u = static_cast<std::uint64_t>(i);
        const std::uint64_t r = u / run;
        const std::uint64_t p0 = (r ^ 1) * run;
        const Item<Key> e = src[u];
        if (p0 >= k) {
            dst[u] = e;
            continue;
        }
        std::uint64_t lo = p0, hi = std::min(p0 + run, k);
        while (lo < hi) {
            std::uint64_t mid = lo + (hi - lo) / 2;
            if (before(src[mid], e))
                lo = mid + 1;
            else
                hi = mid;
        }
        dst[(r & ~std::uint64_t{1}) * run + (u - r * run) + (lo - p0)] = e;
    }
}

template <class T, class Key>
__global__ void write_kernel(const Item<Key>* sorted, const T* x, std::int64_t stride,
                             std::uint64_t k, T* values, std::int64_t* indices) {
    POSTR_GRID_STRIDE_LOOP(i, static_cast<std::int64_t>(k)) {
        std::int64_t index = static_cast<std::int64_t>(~sorted[i].inv);
        indices[i] = index;
        values[i] = x[index * stride];
    }
}

int multiprocessors(int device) {
    static int cached[64] = {};
    if (device < 0 || device >= 64) return 132;
    if (cached[device] == 0)
        POSTR_CUDA_CHECK(
            cudaDeviceGetAttribute(&cached[device], cudaDevAttrMultiProcessorCount, device));
    return cached[device];
}

// Scratch memory from the caching allocator: a byte count as an i64 tensor.
Tensor scratch(std::uint64_t bytes, Device device) {
    return Tensor::empty({static_cast<std::int64_t>((bytes + 7) / 8)}, DType::i64, device);
}

template <class T>
void topk_impl(const Tensor& x, std::int64_t k_signed, bool largest, const Tensor& values,
               const Tensor& indices) {
    using Key = decltype(postr::detail::topk_key(T{}, true));
    using It = Item<Key>;
    const std::uint64_t n = static_cast<std::uint64_t>(x.size(0));
    const std::uint64_t k = static_cast<std::uint64_t>(k_signed);
    const std::int64_t stride = x.stride(0);
    const Device device = x.device();
    cudaStream_t stream = stream_for(x);

    Tensor state_t = scratch(sizeof(State<Key>), device);
    auto* st = reinterpret_cast<State<Key>*>(state_t.data_ptr());
    POSTR_CUDA_CHECK(cudaMemsetAsync(st, 0, sizeof(State<Key>), stream));
    init_kernel<Key><<<1, 1, 0, stream>>>(st, k, n);
    POSTR_CHECK_LAUNCH("init_kernel");

    const std::uint64_t capacity = std::min(n, kBufferCapacity);
    Tensor buffers_t = scratch(2 * capacity * sizeof(It), device);  // [2][capacity]
    Tensor selected_t = scratch(k * sizeof(It), device);            // [k]
    Tensor sorted_t = scratch(k * sizeof(It), device);              // [k], merge ping-pong
    auto* buffers = reinterpret_cast<It*>(buffers_t.data_ptr());
    auto* selected = reinterpret_cast<It*>(selected_t.data_ptr());
    auto* sorted = reinterpret_cast<It*>(sorted_t.data_ptr());

    // Enough blocks to fill the GPU with one wave; each thread then loops over the source.
    const std::uint64_t wave = static_cast<std::uint64_t>(multiprocessors(device.index)) * 4;
    const int grid = static_cast<int>(std::max<std::uint64_t>(
        1, std::min<std::uint64_t>(wave, (n + kPassThreads - 1) / kPassThreads)));
    const T* xp = x.data<T>();
    for (int pass = 0; pass <= Digits<Key>::kCount; ++pass) {
        select_pass_kernel<T, Key><<<grid, kPassThreads, 0, stream>>>(xp, stride, n, largest, st,
                                                                      buffers, capacity, selected);
        POSTR_CHECK_LAUNCH("select_pass_kernel");
    }

    // Runs of 32 KiB of items: 4096 (f32) or 2048 (f64) per block.
    constexpr int kRun = 32768 / sizeof(It);
    block_sort_kernel<Key, kRun>
        <<<static_cast<int>((k + kRun - 1) / kRun), kSortThreads, 0, stream>>>(selected, k);
    POSTR_CHECK_LAUNCH("block_sort_kernel");
    for (std::uint64_t run = kRun; run < k; run *= 2) {
        merge_kernel<Key><<<grid_for(static_cast<std::int64_t>(k)), kBlockSize, 0, stream>>>(
            selected, sorted, k, run);
        POSTR_CHECK_LAUNCH("merge_kernel");
        std::swap(selected, sorted);
    }
    write_kernel<T, Key><<<grid_for(static_cast<std::int64_t>(k)), kBlockSize, 0, stream>>>(
        selected, xp, stride, k, values.data<T>(), indices.data<std::int64_t>());
    POSTR_CHECK_LAUNCH("write_kernel");
}

}  // namespace

void topk(const Tensor& x, std::int64_t k, bool largest, const Tensor& values,
          const Tensor& indices) {
    if (k == 0) return;
    visit_floating(x.dtype(), [&]<class T>() { topk_impl<T>(x, k, largest, values, indices); });
}

}  // namespace postr::cuda
