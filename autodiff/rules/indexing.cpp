// Indexing ops (index tensors are constants). gather and index_select are adjoint to
// scatter_add; cat is adjoint to narrowing. Dims are counted from the end in the rules, and
// index tensors are expanded over a cotangent's batch dims.
#include "postr/autodiff/rules/helpers.h"

namespace postr {

using rules::batch_of;
using rules::with_batch;

Var index_select(const Var& x, int dim, const Tensor& index) {
    Tensor value = index_select(x.value(), dim, index);
    const int d = rules::from_end("index_select", dim, x.dim());
    const int rank = x.dim();
    const Shape in = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        // Scatter each selected slice back: the index laid along d, broadcast over g.
        Shape along(static_cast<std::size_t>(g.dim()), 1);
        along[static_cast<std::size_t>(g.dim() + d)] = index.numel();
        Tensor idx = index.reshape(along).expand(g.shape());
        return std::vector<Var>{
            scatter_add(rules::zeros_with_batch(g, batch_of(g, rank), in), d, idx, g)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) { return index_select(t[0], d, index); };
    return record_op("index_select", std::move(value), {x}, std::move(r));
}

Var gather(const Var& x, int dim, const Tensor& index) {
    Tensor value = gather(x.value(), dim, index);
    const int d = rules::from_end("gather", dim, x.dim());
    const int rank = x.dim();
    const Shape in = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        return std::vector<Var>{scatter_add(rules::zeros_with_batch(g, batch_of(g, rank), in), d,
                                            index.expand(g.shape()), g)};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        int k = batch_of(t[0], rank);
        return gather(t[0], d, index.expand(with_batch(t[0], k, index.shape())));
    };
    return record_op("gather", std::move(value), {x}, std::move(r));
}

Var scatter_add(const Var& x, int dim, const Tensor& index, const Var& src) {
    Tensor value = scatter_add(x.value(), dim, index, src.value());
    const int d = rules::from_end("scatter_add", dim, x.dim());
    const int rank = x.dim();
    const bool need_x = x.requires_grad(), need_src = src.requires_grad();
    const Shape x_shape = x.shape();
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        int k = batch_of(g, rank);
        Var gsrc = need_src ? gather(g, d, index.expand(with_batch(g, k, index.shape()))) : Var();
        return std::vector<Var>{need_x ? g : Var(), gsrc};
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        const Var& any = t[0].defined() ? t[0] : t[1];
        int k = batch_of(any, rank);
        Var base = t[0].defined() ? t[0] : rules::zeros_with_batch(any, k, x_shape);
        if (!t[1].defined()) return base;
        return scatter_add(base, d, index.expand(with_batch(t[1], k, index.shape())), t[1]);
    };
    return record_op("scatter_add", std::move(value), {x, src}, std::move(r));
}

Var cat(const std::vector<Var>& xs, int dim) {
    std::vector<Tensor> values;
    for (const Var& x : xs) values.push_back(x.value());
    Tensor value = cat(values, dim);
    const int rank = value.dim();
    const int d = rules::from_end("cat", dim, rank);
    std::vector<std::int64_t> offsets, sizes;
    std::vector<Shape> shapes;
    std::int64_t offset = 0;
    for (const Var& x : xs) {
        // 1-D empty inputs are skipped by cat; they get an empty cotangent.
        std::int64_t n = x.dim() == rank ? x.size(d) : 0;
        offsets.push_back(offset);
        sizes.push_back(n);
        shapes.push_back(x.shape());
        offset += n;
    }
    OpRules r;
    r.vjp = [=](const Var& g, const Var&) {
        std::vector<Var> grads;
        int k = batch_of(g, rank);
        for (std::size_t i = 0; i < offsets.size(); ++i)
            grads.push_back(static_cast<int>(shapes[i].size()) == rank
                                ? narrow(g, d, offsets[i], sizes[i])
                                : rules::zeros_with_batch(g, k, shapes[i]));
        return grads;
    };
    r.jvp = [=](const std::vector<Var>& t, const Var&) {
        const Var* any = nullptr;
        for (const Var& ti : t)
            if (ti.defined()) any = &ti;
        int k = batch_of(*any, rank);
        std::vector<Var> parts;
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (static_cast<int>(shapes[i].size()) != rank) continue;  // skipped by cat
            parts.push_back(t[i].defined() ? t[i] : rules::zeros_with_batch(*any, k, shapes[i]));
        }
        return cat(parts, d);
    };
    return record_op("cat", std::move(value), xs, std::move(r));
}

}  // namespace postr
