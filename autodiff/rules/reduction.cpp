// Reductions. The cotangent of a reduction is broadcast back over the reduced dims; the tangent
// is the same reduction of the input's tangent. Dims are normalized once and counted from the
// end inside the rules so batched cotangents pass through.
#include <algorithm>
#include <cmath>

#include "postr/autodiff/rules/helpers.h"

namespace postr {
namespace {

using rules::batch_of;
using rules::with_batch;

// The reduced dims of a rank-`rank` value, sorted, non-negative (all dims when empty).
std::vector<int> normalize(const char* op, const std::vector<int>& dims, int rank) {
    std::vector<int> out;
    if (dims.empty()) {
        for (int i = 0; i < rank; ++i) out.push_back(i);
    } else {
        for (int d : dims) out.push_back(wrap_dim(op, d, rank));
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
    }
    return out;
}

std::vector<int> shifted(const std::vector<int>& dims, int batch) {
    std::vector<int> out;
    for (int d : dims) out.push_back(d + batch);
    return out;
}

// Reinserts the reduced dims (size 1) into a cotangent of the reduced shape.
Var keep_dims(const Var& g, int batch, const std::vector<int>& dims, bool keepdim) {
    if (keepdim) return g;
    Var out = g;
    for (int d : dims) out = unsqueeze(out, d + batch);
    return out;
}

// g (reduced shape, batched) broadcast back to the input's shape.
Var spread(const Var& g, int batch, const std::vector<int>& dims, bool keepdim, const Shape& in) {
    return expand(keep_dims(g, batch, dims, keepdim), with_batch(g, batch, in));
}

int out_rank(int rank, const std::vector<int>& dims, bool keepdim) {
    return keepdim ? rank : rank - static_cast<int>(dims.size());
}

}  // namespace

Var sum(const Var& x, const std::vector<int>& dims, bool keepdim) {
    Tensor value = sum(x.value(), dims, keepdim);
    const std::vector<int> ds = normalize("sum", dims, x.dim());
    const Shape in = x.shape();
    const int rank = x.dim(), orank = out_rank(rank, ds, keepdim);
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{spread(g, batch_of(g, orank), ds, keepdim, in)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        int k = batch_of(t[0], rank);
        return k == 0 ? sum(t[0], ds, keepdim) : sum(t[0], shifted(ds, k), keepdim);
    };
    return record_op("sum", std::move(value), {x}, std::move(r));
}

Var mean(const Var& x, const std::vector<int>& dims, bool keepdim) {
    std::int64_t count = 1;
    for (int d : normalize("mean", dims, x.dim())) count *= x.size(d);
    return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Var var(const Var& x, const std::vector<int>& dims, std::int64_t correction, bool keepdim) {
    std::int64_t count = 1;
    for (int d : normalize("var", dims, x.dim())) count *= x.size(d);
    Var centred = sub(x, mean(x, dims, true));
    return mul(sum(square(centred), dims, keepdim), 1.0 / static_cast<double>(count - correction));
}

Var logsumexp(const Var& x, const std::vector<int>& dims, bool keepdim) {
    Tensor value = logsumexp(x.value(), dims, keepdim);
    const std::vector<int> ds = normalize("logsumexp", dims, x.dim());
    const Shape in = x.shape();
    const int rank = x.dim(), orank = out_rank(rank, ds, keepdim);
    // ∂ lse / ∂x = exp(x − lse): the softmax weights over the reduced dims.
    auto weights = [=](const Var& out) { return exp(sub(x, keep_dims(out, 0, ds, keepdim))); };
    OpRules r;
    r.saves_output = true;
    r.vjp = [=](const Var& g, const Var& out) {
        int k = batch_of(g, orank);
        return std::vector<Var>{mul(keep_dims(g, k, ds, keepdim), weights(out))};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& out) {
        int k = batch_of(t[0], rank);
        return sum(mul(t[0], weights(out)), shifted(ds, k), keepdim);
    };
    return record_op("logsumexp", std::move(value), {x}, std::move(r));
}

Var norm(const Var& x, double p, const std::vector<int>& dims, bool keepdim) {
    if (p == 1.0) return sum(abs(x), dims, keepdim);
    if (std::isinf(p) && p > 0) {
        // max |x| over the reduced dims: move them last, merge them, take the max there.
        const std::vector<int> ds = normalize("norm", dims, x.dim());
        std::vector<int> order;
        Shape kept;
        for (int d = 0; d < x.dim(); ++d)
            if (!std::binary_search(ds.begin(), ds.end(), d)) {
                order.push_back(d);
                kept.push_back(x.size(d));
            }
        for (int d : ds) order.push_back(d);
        Shape merged = kept;
        merged.push_back(-1);
        Var m = max(reshape(permute(abs(x), order), merged), -1).values;
        if (!keepdim) return m;
        Shape kept_shape = x.shape();
        for (int d : ds) kept_shape[static_cast<std::size_t>(d)] = 1;
        return reshape(m, kept_shape);
    }
    POSTR_CHECK(p == 2.0, "norm: p must be 1, 2 or inf: got ", p, ". Use one of those");
    Tensor value = norm(x.value(), 2.0, dims, keepdim);
    const std::vector<int> ds = normalize("norm", dims, x.dim());
    const int rank = x.dim(), orank = out_rank(rank, ds, keepdim);
    // ∂‖x‖/∂x = x/‖x‖, taken as 0 where ‖x‖ = 0.
    auto direction = [=](const Var& out) {
        Var n = keep_dims(out, 0, ds, keepdim);
        Tensor zero = eq(n.value(), Tensor::scalar(0, x.dtype(), x.device()));
        return where(zero, rules::scalar_like(x, 0.0),
                     div(x, where(zero, rules::scalar_like(x, 1.0), n)));
    };
    OpRules r;
    r.saves_output = true;
    r.vjp = [=](const Var& g, const Var& out) {
        int k = batch_of(g, orank);
        return std::vector<Var>{mul(keep_dims(g, k, ds, keepdim), direction(out))};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var& out) {
        int k = batch_of(t[0], rank);
        return sum(mul(t[0], direction(out)), shifted(ds, k), keepdim);
    };
    return record_op("norm", std::move(value), {x}, std::move(r));
}

namespace {

VarValuesIndices extremum(const char* name, const Var& x, int dim, bool keepdim, ValuesIndices vi) {
    const int d = rules::from_end(name, dim, x.dim());
    const int rank = x.dim(), orank = keepdim ? rank : rank - 1;
    const Shape in = x.shape();
    Tensor index = keepdim ? vi.indices : vi.indices.unsqueeze(d + rank);  // keepdim shape
    OpRules r;
    // The cotangent goes to the position of the extremum: a scatter into zeros.
    r.vjp = [=](const Var& g, const Var&) {
        int k = batch_of(g, orank);
        Var gk = keepdim ? g : unsqueeze(g, d);
        return std::vector<Var>{
            scatter_add(rules::zeros_with_batch(g, k, in), d, index.expand(gk.shape()), gk)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        int k = batch_of(t[0], rank);
        Var picked = gather(t[0], d, index.expand(with_batch(t[0], k, index.shape())));
        return keepdim ? picked : squeeze(picked, d);
    };
    return {record_op(name, std::move(vi.values), {x}, std::move(r)), vi.indices};
}

}  // namespace

VarValuesIndices max(const Var& x, int dim, bool keepdim) {
    return extremum("max", x, dim, keepdim, max(x.value(), dim, keepdim));
}

VarValuesIndices min(const Var& x, int dim, bool keepdim) {
    return extremum("min", x, dim, keepdim, min(x.value(), dim, keepdim));
}

}  // namespace postr
