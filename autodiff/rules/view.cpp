// Views. A view's cotangent is mapped back through the inverse view and its tangent through
// the view itself; dims are counted from the end so batched cotangents pass through.
#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::with_batch;

// The adjoint of slicing: g placed at start, start+step, ... along `dim` (from the end) of a
// tensor whose size along that dim is `size`, zeros elsewhere. Linear; its adjoint is slice.
Var slice_backward(const Var& g, int dim, std::int64_t size, std::int64_t start,
                   std::int64_t step) {
    Shape shape = g.shape();
    const std::size_t d = static_cast<std::size_t>(g.dim() + dim);
    const std::int64_t length = shape[d];
    shape[d] = size;
    Tensor out = Tensor::zeros(shape, g.dtype(), g.device());
    out.slice(dim, start, start + length * step, step).copy_(g.value());
    OpRules r;
    r.vjp = [=](const Var& gg, const Var&) {
        return std::vector<Var>{slice(gg, dim, start, start + length * step, step)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return slice_backward(t[0], dim, size, start, step);
    };
    return record_op("slice_backward", std::move(out), {g}, std::move(r));
}

std::vector<int> batch_then(int batch, const std::vector<int>& dims) {
    std::vector<int> all;
    for (int i = 0; i < batch; ++i) all.push_back(i);
    for (int d : dims) all.push_back(d + batch);
    return all;
}

}  // namespace

Var reshape(const Var& x, const Shape& shape) {
    Tensor value = x.value().reshape(shape);
    const Shape in = x.shape(), out = value.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{
            reshape(g, with_batch(g, batch_of(g, static_cast<int>(out.size())), in))};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return reshape(t[0], with_batch(t[0], batch_of(t[0], static_cast<int>(in.size())), out));
    };
    return record_op("reshape", std::move(value), {x}, std::move(r));
}

Var flatten(const Var& x) { return reshape(x, {-1}); }

Var permute(const Var& x, const std::vector<int>& dims) {
    Tensor value = x.value().permute(dims);
    const int rank = x.dim();
    std::vector<int> forward(dims.size()), inverse(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i) {
        forward[i] = wrap_dim("permute", dims[i], rank);
        inverse[static_cast<std::size_t>(forward[i])] = static_cast<int>(i);
    }
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{permute(g, batch_then(batch_of(g, rank), inverse))};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        return permute(t[0], batch_then(batch_of(t[0], rank), forward));
    };
    return record_op("permute", std::move(value), {x}, std::move(r));
}

Var transpose(const Var& x, int dim0, int dim1) {
    std::vector<int> dims(static_cast<std::size_t>(x.dim()));
    for (int i = 0; i < x.dim(); ++i) dims[static_cast<std::size_t>(i)] = i;
    if (x.dim() > 0)
        std::swap(dims[static_cast<std::size_t>(wrap_dim("transpose", dim0, x.dim()))],
                  dims[static_cast<std::size_t>(wrap_dim("transpose", dim1, x.dim()))]);
    return permute(x, dims);
}

Var slice(const Var& x, int dim, std::int64_t start, std::int64_t end, std::int64_t step) {
    Tensor value = x.value().slice(dim, start, end, step);
    const int d = rules::from_end("slice", dim, x.dim());
    const std::int64_t size = x.size(dim);
    // The start actually used, after negative indices and clamping.
    std::int64_t first = start < 0 ? start + size : start;
    first = std::clamp<std::int64_t>(first, 0, size);
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{slice_backward(g, d, size, first, step)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& out) {
        return slice(t[0], d, first, first + out.size(d) * step, step);
    };
    return record_op("slice", std::move(value), {x}, std::move(r));
}

Var narrow(const Var& x, int dim, std::int64_t start, std::int64_t length) {
    x.value().narrow(dim, start, length);  // validates the range with narrow's message
    return slice(x, dim, start, start + length);
}

Var select(const Var& x, int dim, std::int64_t index) {
    Tensor value = x.value().select(dim, index);
    const int d = rules::from_end("select", dim, x.dim());
    const std::int64_t size = x.size(dim);
    const std::int64_t i = index < 0 ? index + size : index;
    OpRules r;
    // unsqueeze at d (from the end of the restored rank) puts the dim back where it was.
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{slice_backward(unsqueeze(g, d), d, size, i, 1)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) { return select(t[0], d, i); };
    return record_op("select", std::move(value), {x}, std::move(r));
}

Var expand(const Var& x, const Shape& shape) {
    Tensor value = x.value().expand(shape);
    const Shape in = x.shape(), out = value.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{sum_to(g, batch_of(g, static_cast<int>(out.size())), in)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        int k = batch_of(t[0], static_cast<int>(in.size()));
        return expand(rules::lift(t[0], k, static_cast<int>(out.size())), with_batch(t[0], k, out));
    };
    return record_op("expand", std::move(value), {x}, std::move(r));
}

Var squeeze(const Var& x, int dim) { return reshape(x, x.value().squeeze(dim).shape()); }
Var unsqueeze(const Var& x, int dim) { return reshape(x, x.value().unsqueeze(dim).shape()); }

Var sum_to(const Var& g, int batch, const Shape& shape) {
    const int rank = g.dim() - batch;
    const int lead = rank - static_cast<int>(shape.size());
    POSTR_ASSERT(lead >= 0);
    std::vector<int> dims;
    for (int i = 0; i < lead; ++i) dims.push_back(batch + i);
    for (std::size_t j = 0; j < shape.size(); ++j) {
        int d = batch + lead + static_cast<int>(j);
        if (shape[j] == 1 && g.size(d) != 1) dims.push_back(d);
    }
    if (dims.empty()) return g;
    return reshape(sum(g, dims, true), with_batch(g, batch, shape));
}

}  // namespace postr
