// Public indexing and top-k ops: argument checks, output allocation and device dispatch. The
// kernels (kernels/indexing.h, kernels/topk.h) assume everything checked here, including that
// every index lies in range, so a bad index is an Error on both devices, never a stray access.
#include <cstdint>
#include <string>
#include <vector>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/core/shape.h"
#include "postr/core/tensor.h"
#include "postr/kernels/dispatch.h"
#include "postr/kernels/indexing.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/topk.h"

namespace postr {
namespace {

// Every value of `index` must lie in [0, n). Negative indices are errors (no wrap-around from
// the end), which keeps the kernels branch-free and catches sign bugs in index arithmetic.
void check_index_range(const char* op, const Tensor& x, int dim, const Tensor& index,
                       const char* index_name = "index") {
    if (index.numel() == 0) return;
    IndexBounds b;
    detail::dispatch(
        op, index, [&] { b = cpu::index_bounds(index); },
        [&] {
            if constexpr (config::has_cuda) b = cuda::index_bounds(index);
        });
    const std::int64_t n = x.size(dim);
    const std::int64_t bad = b.min < 0 ? b.min : b.max;
    POSTR_CHECK(b.min >= 0 && b.max < n, op, ": ", index_name,
                " holds an out-of-range value: ", bad, " for dim ", dim, " of size ", n, " (x is ",
                to_string(x.shape()), ", ", index_name, " is ", to_string(index.shape()),
                "). Use indices in [0, ", n, "); negative indices are not supported");
}

// gather/scatter rule (PyTorch's): index has x's rank and index.size(d) <= other.size(d) for
// every d != dim (and for d == dim too when `all_dims`, as for scatter's src).
void check_index_fits(const char* op, const char* other_name, const Tensor& other,
                      const Tensor& index, int dim, bool all_dims) {
    for (int d = 0; d < index.dim(); ++d) {
        if (d == dim && !all_dims) continue;
        POSTR_CHECK(index.size(d) <= other.size(d), op, ": index is larger than ", other_name,
                    " in dim ", d, ": index is ", to_string(index.shape()), ", ", other_name,
                    " is ", to_string(other.shape()), ". Keep index.size(d) <= ", other_name,
                    ".size(d)", all_dims ? "" : " for d != dim");
    }
}

void check_gather_args(const char* op, const Tensor& x, const Tensor& index) {
    check_defined(op, "x", x);
    check_defined(op, "index", index);
    check_dtype(op, "index", index, DType::i64);
    check_same_device(op, "x", x, "index", index);
    POSTR_CHECK(index.dim() == x.dim(), op, ": index must have x's rank: x is ",
                to_string(x.shape()), ", index is ", to_string(index.shape()),
                ". Reshape index (unsqueeze the missing dims)");
}

void check_no_broadcast_dims(const char* op, const char* name, const Tensor& t) {
    for (int d = 0; d < t.dim(); ++d)
        POSTR_CHECK(t.stride(d) != 0 || t.size(d) <= 1, op, ": ", name,
                    " is a broadcast (expanded) view: ", to_string(t.shape()), " with strides ",
                    to_string(t.strides()), ", so several elements share memory. Pass ", name,
                    ".clone()");
}

void scatter_add_checked(const char* op, const Tensor& x, int dim, const Tensor& index,
                         const Tensor& src) {
    check_gather_args(op, x, index);
    check_defined(op, "src", src);
    check_same_dtype(op, "x", x, "src", src);
    check_same_device(op, "x", x, "src", src);
    POSTR_CHECK(src.dim() == x.dim(), op, ": src must have x's rank: x is ", to_string(x.shape()),
                ", src is ", to_string(src.shape()), ". Reshape src");
    dim = wrap_dim(op, dim, x.dim());
    check_index_fits(op, "x", x, index, dim, false);
    check_index_fits(op, "src", src, index, dim, true);
    check_no_broadcast_dims(op, "x", x);
    if (index.numel() == 0) return;
    check_index_range(op, x, dim, index);
    detail::dispatch(
        op, x, [&] { cpu::scatter_add_(x, dim, index, src); },
        [&] {
            if constexpr (config::has_cuda) cuda::scatter_add_(x, dim, index, src);
        });
}

}  // namespace

Tensor index_select(const Tensor& x, int dim, const Tensor& index) {
    constexpr const char* op = "index_select";
    check_defined(op, "x", x);
    check_defined(op, "index", index);
    check_min_rank(op, "x", x, 1);
    check_dtype(op, "index", index, DType::i64);
    check_rank(op, "index", index, 1);
    check_same_device(op, "x", x, "index", index);
    dim = wrap_dim(op, dim, x.dim());
    Shape shape = x.shape();
    shape[static_cast<std::size_t>(dim)] = index.size(0);
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    if (out.numel() == 0) return out;
    check_index_range(op, x, dim, index);
    // index_select is a gather whose index is `index` broadcast along every other dim.
    Shape strides(shape.size(), 0);
    strides[static_cast<std::size_t>(dim)] = index.stride(0);
    Tensor expanded = index.as_strided(shape, strides, index.offset());
    detail::dispatch(
        op, x, [&] { cpu::gather(x, dim, expanded, out); },
        [&] {
            if constexpr (config::has_cuda) cuda::gather(x, dim, expanded, out);
        });
    return out;
}

Tensor gather(const Tensor& x, int dim, const Tensor& index) {
    constexpr const char* op = "gather";
    check_gather_args(op, x, index);
    dim = wrap_dim(op, dim, x.dim());
    check_index_fits(op, "x", x, index, dim, false);
    Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
    if (out.numel() == 0) return out;
    check_index_range(op, x, dim, index);
    detail::dispatch(
        op, x, [&] { cpu::gather(x, dim, index, out); },
        [&] {
            if constexpr (config::has_cuda) cuda::gather(x, dim, index, out);
        });
    return out;
}

void scatter_add_(Tensor& x, int dim, const Tensor& index, const Tensor& src) {
    scatter_add_checked("scatter_add_", x, dim, index, src);
}

Tensor scatter_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src) {
    check_defined("scatter_add", "x", x);
    Tensor out = x.clone();
    scatter_add_checked("scatter_add", out, dim, index, src);
    return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    constexpr const char* op = "masked_fill";
    check_defined(op, "x", x);
    check_defined(op, "mask", mask);
    check_same_device(op, "x", x, "mask", mask);
    POSTR_CHECK(broadcast_shapes(op, x.shape(), mask.shape()) == x.shape(), op,
                ": mask does not broadcast to x's shape: x is ", to_string(x.shape()), ", mask is ",
                to_string(mask.shape()), ". Pass a mask whose shape broadcasts to x's");
    Tensor out = empty_like(x);
    detail::dispatch(
        op, x, [&] { cpu::masked_fill(x, mask, value, out); },
        [&] {
            if constexpr (config::has_cuda) cuda::masked_fill(x, mask, value, out);
        });
    return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int dim) {
    constexpr const char* op = "cat";
    POSTR_CHECK(!tensors.empty(), op, ": tensors is an empty list. Pass at least one tensor");
    for (std::size_t i = 0; i < tensors.size(); ++i)
        check_defined(op, detail::concat("tensors[", i, "]").c_str(), tensors[i]);
    // As in PyTorch, a 1-D tensor of size 0 may stand in for "nothing" whatever the rank of the
    // others; every other tensor sets the shape. `ref` is the first such tensor.
    auto skippable = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
    std::size_t ref = 0;
    while (ref + 1 < tensors.size() && skippable(tensors[ref])) ++ref;
    const Tensor& r = tensors[ref];
    POSTR_CHECK(r.dim() > 0, op, ": tensors[", ref,
                "] is rank 0 (a scalar), which has no dim to concatenate along. Unsqueeze it");
    dim = wrap_dim(op, dim, r.dim());
    Shape shape = r.shape();
    std::int64_t total = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        const std::string name = detail::concat("tensors[", i, "]");
        const std::string ref_name = detail::concat("tensors[", ref, "]");
        check_same_dtype(op, ref_name.c_str(), r, name.c_str(), t);
        check_same_device(op, ref_name.c_str(), r, name.c_str(), t);
        if (i != ref && skippable(t)) continue;
        POSTR_CHECK(t.dim() == r.dim(), op, ": ranks differ: ", ref_name, " is ",
                    to_string(r.shape()), ", ", name, " is ", to_string(t.shape()),
                    ". Pass tensors of one rank");
        for (int d = 0; d < r.dim(); ++d)
            POSTR_CHECK(d == dim || t.size(d) == r.size(d), op, ": sizes differ in dim ", d,
                        " (concatenating along dim ", dim, "): ", ref_name, " is ",
                        to_string(r.shape()), ", ", name, " is ", to_string(t.shape()),
                        ". Only the size along dim may differ");
        total += t.size(dim);
    }
    shape[static_cast<std::size_t>(dim)] = total;
    Tensor out = Tensor::empty(shape, r.dtype(), r.device());
    std::int64_t start = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        if ((i != ref && skippable(t)) || t.size(dim) == 0) continue;
        out.narrow(dim, start, t.size(dim)).copy_(t);
        start += t.size(dim);
    }
    return out;
}

ValuesIndices topk(const Tensor& x, std::int64_t k, bool largest) {
    constexpr const char* op = "topk";
    check_defined(op, "x", x);
    check_floating(op, "x", x);
    check_rank(op, "x", x, 1);
    const std::int64_t n = x.size(0);
    POSTR_CHECK(k >= 0 && k <= n, op, ": k is out of range: k = ", k, " for x of shape ",
                to_string(x.shape()), ". Pass 0 <= k <= ", n);
    ValuesIndices r{Tensor::empty({k}, x.dtype(), x.device()),
                    Tensor::empty({k}, DType::i64, x.device())};
    if (k == 0) return r;
    detail::dispatch(
        op, x, [&] { cpu::topk(x, k, largest, r.values, r.indices); },
        [&] {
            if constexpr (config::has_cuda) {
                POSTR_CHECK(n < (std::int64_t{1} << 32) - 1, op,
                            ": x is too long for the CUDA kernel: x is ", to_string(x.shape()),
                            ". Split x into parts of fewer than 2^32 - 1 elements");
                cuda::topk(x, k, largest, r.values, r.indices);
            }
        });
    return r;
}

}  // namespace postr
