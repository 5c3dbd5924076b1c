// Public reduction and softmax ops: argument checks, output allocation and device dispatch.
// Reductions permute the reduced dims innermost and view the input as rows [R, L] (a compact
// copy only when the strides do not allow that view); the kernels then reduce each row.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/reduction.h"
#include "postr/kernels/softmax.h"

namespace postr {
namespace {

std::string dims_string(const std::vector<int>& dims) {
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

// x viewed as rows [R, L], L the product of the reduced dims, and the output shape.
struct RowView {
    Tensor rows;
    Shape out_shape;
};

// `dims` empty means every dim. Throws naming `op` for a dim out of range or given twice.
RowView to_rows(const char* op, const Tensor& x, const std::vector<int>& dims, bool keepdim) {
    const int rank = x.dim();
    std::vector<bool> reduced(static_cast<std::size_t>(rank), dims.empty());
    for (int d : dims) {
        int w = wrap_dim(op, d, rank);
        if (rank == 0) continue;
        POSTR_CHECK(!reduced[static_cast<std::size_t>(w)], op, ": dim ", d,
                    " appears twice in dims ", dims_string(dims), " (x is ", to_string(x.shape()),
                    "). Give each dim once");
        reduced[static_cast<std::size_t>(w)] = true;
    }
    std::vector<int> order;  // kept dims, then reduced dims, each in their original order
    Shape out_shape;
    std::int64_t outer = 1, inner = 1;
    for (int d = 0; d < rank; ++d) {
        if (reduced[static_cast<std::size_t>(d)]) continue;
        order.push_back(d);
        out_shape.push_back(x.size(d));
        outer *= x.size(d);
    }
    for (int d = 0; d < rank; ++d) {
        if (!reduced[static_cast<std::size_t>(d)]) continue;
        order.push_back(d);
        inner *= x.size(d);
    }
    if (keepdim) {
        out_shape.clear();
        for (int d = 0; d < rank; ++d)
            out_shape.push_back(reduced[static_cast<std::size_t>(d)] ? 1 : x.size(d));
    }
    return {x.permute(order).reshape({outer, inner}), out_shape};
}

void run_reduce(const char* op, ReduceOp r, const Tensor& rows, const Tensor& out,
                std::int64_t correction) {
    if (rows.is_cuda()) {
        if constexpr (config::has_cuda)
            cuda::reduce(r, rows, out, correction);
        else
            throw_cuda_unavailable(op);
    } else {
        cpu::reduce(r, rows, out, correction);
    }
}

void run_extremum(const char* op, bool largest, const Tensor& rows, const Tensor& values,
                  const Tensor& indices) {
    if (rows.is_cuda()) {
        if constexpr (config::has_cuda)
            cuda::extremum(largest, rows, values, indices);
        else
            throw_cuda_unavailable(op);
    } else {
        cpu::extremum(largest, rows, values, indices);
    }
}

Tensor reduce(const char* op, ReduceOp r, const Tensor& x, const std::vector<int>& dims,
              bool keepdim, std::int64_t correction = 0) {
    RowView v = to_rows(op, x, dims, keepdim);
    Tensor out = Tensor::empty(v.out_shape, x.dtype(), x.device());
    run_reduce(op, r, v.rows, out.view({v.rows.size(0)}), correction);
    return out;
}

// max/min over every element (rank-0 result).
Tensor extremum_all(const char* op, bool largest, const Tensor& x) {
    check_defined(op, "x", x);
    POSTR_CHECK(x.numel() > 0, op, ": x is empty: shape ", to_string(x.shape()), ". The ",
                largest ? "maximum" : "minimum",
                " of no elements is undefined; check the input is non-empty first");
    Tensor rows = x.reshape({1, x.numel()});
    Tensor values = Tensor::empty({}, x.dtype(), x.device());
    run_extremum(op, largest, rows, values.view({1}), Tensor());
    return values;
}

ValuesIndices extremum_dim(const char* op, bool largest, const Tensor& x, int dim, bool keepdim,
                           bool want_values) {
    check_defined(op, "x", x);
    RowView v = to_rows(op, x, {dim}, keepdim);
    POSTR_CHECK(v.rows.size(1) > 0, op, ": dim ", dim, " of x is empty: shape ",
                to_string(x.shape()),
                ". The extremum of no elements is undefined; reduce over a non-empty dim");
    const std::int64_t rows = v.rows.size(0);
    Tensor values = want_values ? Tensor::empty(v.out_shape, x.dtype(), x.device())
                                : Tensor::empty({rows}, x.dtype(), x.device());
    Tensor indices = Tensor::empty(v.out_shape, DType::i64, x.device());
    run_extremum(op, largest, v.rows, values.view({rows}), indices.view({rows}));
    return {values, indices};
}

void check_floating_x(const char* op, const Tensor& x) {
    check_defined(op, "x", x);
    check_floating(op, "x", x);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
    check_defined("sum", "x", x);
    return reduce("sum", ReduceOp::sum, x, dims, keepdim);
}

Tensor mean(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
    check_floating_x("mean", x);
    return reduce("mean", ReduceOp::mean, x, dims, keepdim);
}

Tensor var(const Tensor& x, const std::vector<int>& dims, std::int64_t correction, bool keepdim) {
    check_floating_x("var", x);
    return reduce("var", ReduceOp::var, x, dims, keepdim, correction);
}

Tensor logsumexp(const Tensor& x, const std::vector<int>& dims, bool keepdim) {
    check_floating_x("logsumexp", x);
    return reduce("logsumexp", ReduceOp::logsumexp, x, dims, keepdim);
}

Tensor norm(const Tensor& x, double p, const std::vector<int>& dims, bool keepdim) {
    check_floating_x("norm", x);
    ReduceOp r = ReduceOp::norm2;
    if (p == 1.0)
        r = ReduceOp::norm1;
    else if (p == std::numeric_limits<double>::infinity())
        r = ReduceOp::norm_inf;
    else
        POSTR_CHECK(p == 2.0, "norm: p is not supported: ", p, ". Use p = 1, 2 or infinity");
    return reduce("norm", r, x, dims, keepdim);
}

Tensor max(const Tensor& x) { return extremum_all("max", true, x); }
Tensor min(const Tensor& x) { return extremum_all("min", false, x); }

ValuesIndices max(const Tensor& x, int dim, bool keepdim) {
    return extremum_dim("max", true, x, dim, keepdim, true);
}
ValuesIndices min(const Tensor& x, int dim, bool keepdim) {
    return extremum_dim("min", false, x, dim, keepdim, true);
}
Tensor argmax(const Tensor& x, int dim, bool keepdim) {
    return extremum_dim("argmax", true, x, dim, keepdim, false).indices;
}
Tensor argmin(const Tensor& x, int dim, bool keepdim) {
    return extremum_dim("argmin", false, x, dim, keepdim, false).indices;
}

bool all_finite(const Tensor& x) {
    check_defined("all_finite", "x", x);
    if (!is_floating(x.dtype()) || x.numel() == 0) return true;
    if (x.is_cuda()) {
        if constexpr (config::has_cuda)
            return cuda::all_finite(x);
        else
            throw_cuda_unavailable("all_finite");
    }
    return cpu::all_finite(x);
}

void check_finite(const char* op, const char* name, const Tensor& t) {
    if (all_finite(t)) return;
    // The failure path only: find the first offender on the host, in row-major order.
    std::vector<double> v = t.to_vector<double>();
    std::size_t i = 0;
    while (i < v.size() && std::isfinite(v[i])) ++i;
    POSTR_ASSERT(i < v.size());
    detail::fail(op, ": ", name, " contains non-finite values (first at flat index ", i, ": ", v[i],
                 "). ", name, " has shape ", to_string(t.shape()),
                 "; check the inputs and step sizes that produced it");
}

// ---------------------------------- softmax ----------------------------------

namespace {

Tensor softmax_impl(const char* op, const Tensor& x, int dim, bool log) {
    check_floating_x(op, x);
    const int d = wrap_dim(op, dim, x.dim());
    std::int64_t pre = 1, len = 1, post = 1;
    for (int k = 0; k < x.dim(); ++k) (k < d ? pre : k == d ? len : post) *= x.size(k);
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (out.numel() == 0) return out;
    // [pre, L, post]: a view of any contiguous input; other layouts are compacted first.
    Tensor x3 = x.contiguous().view({pre, len, post});
    Tensor out3 = out.view({pre, len, post});
    if (x.is_cuda()) {
        if constexpr (config::has_cuda)
            cuda::softmax(x3, out3, log);
        else
            throw_cuda_unavailable(op);
    } else {
        cpu::softmax(x3, out3, log);
    }
    return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_impl("log_softmax", x, dim, true); }

Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype) {
    check_defined("one_hot", "labels", labels);
    check_dtype("one_hot", "labels", labels, DType::i64);
    POSTR_CHECK(num_classes > 0, "one_hot: num_classes must be positive: got ", num_classes,
                ". Pass the number of classes C");
    Shape shape = labels.shape();
    shape.push_back(num_classes);
    Tensor out = Tensor::empty(shape, dtype, labels.device());
    if (labels.numel() == 0) return out;
    // Range check through the min/max reduction, so only two numbers leave the device.
    const auto lo = min(labels).item<std::int64_t>(), hi = max(labels).item<std::int64_t>();
    POSTR_CHECK(lo >= 0 && hi < num_classes,
                "one_hot: labels has a value out of range: ", lo < 0 ? lo : hi,
                " with num_classes ", num_classes, " (labels is ", to_string(labels.shape()),
                "). Labels must lie in [0, num_classes)");
    Tensor flat = labels.reshape({labels.numel()}).contiguous();
    Tensor out2 = out.view({labels.numel(), num_classes});
    if (labels.is_cuda()) {
        if constexpr (config::has_cuda)
            cuda::one_hot(flat, out2);
        else
            throw_cuda_unavailable("one_hot");
    } else {
        cpu::one_hot(flat, out2);
    }
    return out;
}

}  // namespace postr
