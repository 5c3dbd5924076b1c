#include "postr/nn/curvature/ggn.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/record.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/fast_road.h"
#include "postr/nn/curvature/jacobian.h"

namespace postr::nn {
namespace {

// A chunk of Jacobian rows is kept near this size when the caller does not choose.
constexpr std::int64_t kChunkBytes = std::int64_t{256} << 20;
// And a chunk holds at most this many samples (the diagonal's default chunk too).
constexpr std::int64_t kMaxChunkSamples = 64;

void check_options(const char* op, const CurvatureOptions& o) {
    POSTR_CHECK(o.mc_samples >= 1 && o.chunk_size >= 0, op,
                ": mc_samples must be at least 1 and chunk_size non-negative: got ", o.mc_samples,
                " and ", o.chunk_size, ". Fix the CurvatureOptions");
}

void check_batch(const char* op, const CurvatureOptions& o, const Tensor& x,
                 const Tensor& targets) {
    check_defined(op, "x", x);
    POSTR_CHECK(x.dim() >= 1, op, ": x must have a batch dim: got ", to_string(x.shape()),
                ". Pass [N, ...]");
    if (o.type == CurvatureType::empirical_fisher)
        POSTR_CHECK(targets.defined() && targets.dim() >= 1 && targets.size(0) == x.size(0), op,
                    ": the empirical Fisher needs one target per sample: x is ",
                    to_string(x.shape()), ", targets ",
                    targets.defined() ? to_string(targets.shape()) : std::string("undefined"),
                    ". Pass the observed labels");
}

// Calls fn(x chunk, targets chunk) over consecutive chunks of `chunk` samples.
void for_each_chunk(const Tensor& x, const Tensor& targets, std::int64_t chunk,
                    const std::function<void(const Tensor&, const Tensor&)>& fn) {
    const std::int64_t n = x.size(0);
    for (std::int64_t start = 0; start < n; start += chunk) {
        const std::int64_t len = std::min(chunk, n - start);
        fn(x.narrow(0, start, len), targets.defined() ? targets.narrow(0, start, len) : targets);
    }
}

void check_vector(const char* op, const Module& model, const Tensor& v) {
    const ParameterVector& p = model.parameters();
    check_defined(op, "v", v);
    POSTR_CHECK(v.dim() == 1 && v.size(0) == p.size(), op, ": v must be [", p.size(),
                "] (the model's D): got ", to_string(v.shape()), ". Pass a flat vector like θ");
    POSTR_CHECK(v.dtype() == p.dtype() && v.device() == p.device(), op, ": v is ",
                dtype_name(v.dtype()), " on ", v.device().name(), " but θ is ",
                dtype_name(p.dtype()), " on ", p.device().name(), ". Convert v");
    POSTR_CHECK(!model.is_training(), op,
                ": the model is in training mode. Curvature is taken at fixed batch-norm "
                "statistics and without dropout: call model.eval() first");
}

// Attaches v's slices to the parameter leaves as tangents for its lifetime.
class ParameterTangents {
  public:
    ParameterTangents(ParameterVector& params, const Tensor& v) : params_(params) {
        for (std::size_t i = 0; i < params.count(); ++i) {
            const auto& e = params.entries()[i];
            Var(params.var(i)).set_tangent(v.narrow(0, e.offset, numel(e.shape)).view(e.shape));
        }
    }
    ~ParameterTangents() {
        for (std::size_t i = 0; i < params_.count(); ++i) Var(params_.var(i)).clear_tangent();
    }
    ParameterTangents(const ParameterTangents&) = delete;
    ParameterTangents& operator=(const ParameterTangents&) = delete;

  private:
    ParameterVector& params_;
};

// Jᵀ u where u = weight(outputs, J v): one forward pass with tangents, one backward pass.
Tensor sandwich_product(
    Module& model, const Tensor& x, const Tensor& v,
    const std::function<Tensor(const Tensor& outputs, const Tensor& jv)>& weight) {
    ParameterVector& params = model.parameters();
    std::vector<Var> leaves;
    for (std::size_t i = 0; i < params.count(); ++i) leaves.push_back(params.var(i));
    Var outputs;
    {
        ParameterTangents tangents(params, v);
        outputs = model(Var(x));
    }
    POSTR_CHECK(outputs.dim() == 2 && outputs.tangent().defined(),
                "ggn_vector_product: the model's outputs must be [N, C] and depend on θ: got ",
                to_string(outputs.shape()), ". Flatten the outputs in the model");
    const Tensor u = weight(outputs.value(), outputs.tangent().value());
    // The graph's saved activations carry tangents; the gradient's own tangent is not wanted.
    NoForwardGuard first_order;
    const std::vector<Var> grads = grad({outputs}, leaves, {u});
    Tensor flat = Tensor::empty({params.size()}, params.dtype(), params.device());
    for (std::size_t i = 0; i < grads.size(); ++i) {
        const auto& e = params.entries()[i];
        flat.narrow(0, e.offset, numel(e.shape)).copy_(grads[i].value().reshape({-1}));
    }
    return flat;
}

}  // namespace

Tensor detail::curvature_rows(const CurvatureOptions& o, Generator& gen, const Tensor& outputs,
                              const Tensor& targets) {
    switch (o.type) {
        case CurvatureType::ggn:
            return loss_hessian_factor(o.likelihood, outputs);
        case CurvatureType::ggn_monte_carlo:
            return sampled_loss_gradients(o.likelihood, outputs, o.mc_samples, gen);
        case CurvatureType::empirical_fisher:
            return loss_output_gradients(o.likelihood, outputs, targets);
    }
    return {};
}

Tensor ggn_vector_product(Module& model, const Tensor& x, const Likelihood& likelihood,
                          const Tensor& v) {
    check_vector("ggn_vector_product", model, v);
    return sandwich_product(model, x, v, [&](const Tensor& outputs, const Tensor& jv) {
        return loss_hessian_product(likelihood, outputs, jv);
    });
}

Tensor empirical_fisher_vector_product(Module& model, const Tensor& x, const Tensor& targets,
                                       const Likelihood& likelihood, const Tensor& v) {
    check_vector("empirical_fisher_vector_product", model, v);
    return sandwich_product(model, x, v, [&](const Tensor& outputs, const Tensor& jv) {
        const Tensor g = loss_output_gradients(likelihood, outputs, targets).select(0, 0);
        return mul(g, sum(mul(g, jv), {-1}, true));
    });
}

DiagonalCurvature::DiagonalCurvature(Module& model, CurvatureOptions options)
    : model_(model), options_(options), gen_(options.seed) {
    check_options("DiagonalCurvature", options_);
    const ParameterVector& p = model.parameters();
    diagonal_ = Tensor::zeros({p.size()}, p.dtype(), p.device());
}

void DiagonalCurvature::accumulate(const Tensor& x, const Tensor& targets) {
    check_batch("DiagonalCurvature::accumulate", options_, x, targets);
    // The cotangents of a chunk live at every layer at once: kMaxChunkSamples keeps that modest.
    const std::int64_t chunk = options_.chunk_size > 0 ? options_.chunk_size : kMaxChunkSamples;
    for_each_chunk(x, targets, chunk, [&](const Tensor& xc, const Tensor& yc) {
        detail::backpropagate_rows(
            model_, xc,
            [&](const Tensor& outputs) {
                return detail::curvature_rows(options_, gen_, outputs, yc);
            },
            [&](const LayerRecord& layer, const Tensor& cot) {
                detail::layer_jacobian_sq_sum_(layer, cot,
                                               diagonal_.narrow(0, layer.offset, layer.size));
            });
    });
    num_samples_ += x.size(0);
}

DenseCurvature::DenseCurvature(Module& model, CurvatureOptions options, const Tensor& index)
    : model_(model), options_(options), gen_(options.seed) {
    check_options("DenseCurvature", options_);
    const ParameterVector& p = model.parameters();
    // Planned once (index checked, sorted and split by layer), not per chunk.
    if (index.defined()) plan_ = std::make_shared<detail::SubsetPlan>(index, p.size(), p.device());
    const std::int64_t s = index.defined() ? index.numel() : p.size();
    try {
        lower_ = Tensor::zeros({s, s}, p.dtype(), p.device());
    } catch (const OutOfMemory& e) {
        const double gib = static_cast<double>(s) * static_cast<double>(s) *
                           static_cast<double>(itemsize(p.dtype())) / (1 << 30);
        throw OutOfMemory(
            postr::detail::concat("DenseCurvature: the ", s, "×", s, " ", dtype_name(p.dtype()),
                                  " curvature matrix (", gib, " GiB) does not fit on ",
                                  p.device().name(), " (", e.what(),
                                  "). Choose a smaller subnetwork S (memory "
                                  "grows as S²), or f32"),
            e.requested(), e.available());
    }
}

void DenseCurvature::accumulate(const Tensor& x, const Tensor& targets) {
    check_batch("DenseCurvature::accumulate", options_, x, targets);
    const std::int64_t s = lower_.size(0);
    std::int64_t chunk = options_.chunk_size;
    if (chunk == 0) {
        // Rows per sample: C for the exact GGN (C unknown here: assume up to 16), K for Monte
        // Carlo, 1 for the empirical Fisher.
        const std::int64_t rows = options_.type == CurvatureType::ggn ? 16
                                  : options_.type == CurvatureType::ggn_monte_carlo
                                      ? options_.mc_samples
                                      : 1;
        const std::int64_t bytes_per_sample = std::max<std::int64_t>(
            rows * s * static_cast<std::int64_t>(itemsize(lower_.dtype())), 1);
        // The layers' cotangents for a chunk grow with it too (rows × activations): at most
        // kMaxChunkSamples samples per pass keep them bounded for conv nets.
        chunk = std::clamp<std::int64_t>(kChunkBytes / bytes_per_sample, 1, kMaxChunkSamples);
    }
    // A chunk whose Jacobian rows do not fit is retried in halves, down to one sample, so a
    // shortage (a busy GPU) costs time rather than the fit; the accumulator only ever receives
    // complete chunks. Monte Carlo rows of a retried chunk are fresh draws.
    const std::int64_t n = x.size(0);
    for (std::int64_t start = 0; start < n;) {
        const std::int64_t len = std::min(chunk, n - start);
        const Tensor xc = x.narrow(0, start, len);
        const Tensor yc = targets.defined() ? targets.narrow(0, start, len) : targets;
        Tensor v;
        try {
            v = detail::row_jacobians(
                model_, xc,
                [&](const Tensor& outputs) {
                    return detail::curvature_rows(options_, gen_, outputs, yc);
                },
                plan_.get());
        } catch (const OutOfMemory& e) {
            if (len == 1)
                throw OutOfMemory(
                    postr::detail::concat("DenseCurvature::accumulate: even one sample's "
                                          "Jacobian rows over S = ",
                                          s, " do not fit (", e.what(),
                                          "). Choose a smaller subnetwork S"),
                    e.requested(), e.available());
            chunk = len / 2;
            continue;
        }
        syrk_(lower_, v.reshape({-1, s}));
        start += len;
    }
    options_.chunk_size = chunk;  // later batches start from the chunk that fitted
    num_samples_ += x.size(0);
}

Tensor DenseCurvature::matrix() const {
    Tensor full = lower_.clone();
    symmetrize_lower_(full);
    return full;
}

}  // namespace postr::nn
