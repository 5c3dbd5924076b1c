#include "postr/nn/curvature/subnetwork.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "postr/core/error.h"
#include "postr/core/philox.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/batch_norm2d.h"

namespace postr::nn {
namespace {

void check_count(const char* op, std::int64_t s, std::int64_t d) {
    POSTR_CHECK(s >= 1 && s <= d, op, ": the subnetwork size must be in [1, D = ", d, "]: got ", s,
                ". Choose how many weights get a full covariance");
}

void check_scores(const char* op, const char* name, const Tensor& t) {
    check_defined(op, name, t);
    check_rank(op, name, t, 1);
    check_floating(op, name, t);
    check_finite(op, name, t);
}

// The indices sorted ascending, on `device`.
Tensor sorted_indices(const Tensor& indices, Device device) {
    std::vector<std::int64_t> v = indices.to(Device::cpu()).to_vector<std::int64_t>();
    std::sort(v.begin(), v.end());
    const auto n = static_cast<std::int64_t>(v.size());
    return Tensor::from_vector(v, {n}).to(device);
}

}  // namespace

Tensor select_largest_variance(const Tensor& variances, std::int64_t s) {
    check_scores("select_largest_variance", "variances", variances);
    check_count("select_largest_variance", s, variances.numel());
    POSTR_CHECK(postr::min(variances).item() >= 0,
                "select_largest_variance: variances must be non-negative: the smallest is ",
                postr::min(variances).item(), ". Pass marginal variances of a diagonal posterior");
    return sorted_indices(topk(variances, s).indices, variances.device());
}

Tensor select_largest_curvature(const Tensor& ggn_diagonal, std::int64_t s) {
    check_scores("select_largest_curvature", "ggn_diagonal", ggn_diagonal);
    check_count("select_largest_curvature", s, ggn_diagonal.numel());
    POSTR_CHECK(postr::min(ggn_diagonal).item() >= 0,
                "select_largest_curvature: the GGN diagonal must be non-negative: the smallest "
                "entry is ",
                postr::min(ggn_diagonal).item(), ". Pass DiagonalCurvature::diagonal()");
    return sorted_indices(topk(ggn_diagonal, s).indices, ggn_diagonal.device());
}

Tensor select_random(std::int64_t num_parameters, std::int64_t s, std::uint64_t seed,
                     Device device) {
    check_count("select_random", s, num_parameters);
    // The S largest of D uniform keys are a uniform subset without replacement.
    Generator gen(seed);
    const Tensor keys = uniform({num_parameters}, gen, 0.0, 1.0, DType::f64, device);
    return sorted_indices(topk(keys, s).indices, device);
}

Tensor select_largest_magnitude(const Tensor& theta, std::int64_t s) {
    check_scores("select_largest_magnitude", "theta", theta);
    check_count("select_largest_magnitude", s, theta.numel());
    return sorted_indices(topk(abs(theta), s).indices, theta.device());
}

Tensor select_last_layer(const Module& model) {
    const auto params = model.named_parameters();
    POSTR_CHECK(!params.empty(), "select_last_layer: the model has no parameters");
    // The owning module's prefix: everything before the last '.' of the last name.
    const std::string& last = params.back().first;
    const auto dot = last.rfind('.');
    const std::string prefix = dot == std::string::npos ? std::string() : last.substr(0, dot + 1);
    std::int64_t offset = 0, first = -1;
    for (const auto& [name, var] : params) {
        const bool in_layer =
            prefix.empty()
                ? name.find('.') == std::string::npos
                : name.starts_with(prefix) && name.find('.', prefix.size()) == std::string::npos;
        if (in_layer && first < 0) first = offset;
        offset += var.numel();
    }
    const std::int64_t d = model.num_parameters();
    return arange(static_cast<double>(first), static_cast<double>(d), 1.0, DType::i64,
                  model.parameters().device());
}

namespace {

// "a.b.weight" → "a.b" (the owning module's path); "weight" → "".
std::string owner_of(const std::string& name) {
    const auto dot = name.rfind('.');
    return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

// Every module of the tree under its path ("" for the root).
void collect_modules(const Module& module, const std::string& path,
                     std::map<std::string, const Module*>& out) {
    out.emplace(path, &module);
    for (const auto& [name, child] : module.children())
        collect_modules(*child, path.empty() ? name : path + "." + name, out);
}

}  // namespace

Tensor candidate_parameters(const Module& model, Candidates candidates) {
    std::map<std::string, const Module*> modules;
    collect_modules(model, "", modules);
    std::vector<std::int64_t> keep;
    std::int64_t offset = 0;
    for (const auto& [name, var] : model.named_parameters()) {
        const std::string owner = owner_of(name);
        const auto it = modules.find(owner);
        const bool normalization =
            it != modules.end() && dynamic_cast<const BatchNorm2d*>(it->second) != nullptr;
        const bool bias =
            !normalization && name.substr(owner.empty() ? 0 : owner.size() + 1) == "bias";
        const bool allowed = normalization ? candidates.normalization
                             : bias        ? candidates.biases
                                           : true;
        if (allowed)
            for (std::int64_t i = 0; i < var.numel(); ++i) keep.push_back(offset + i);
        offset += var.numel();
    }
    POSTR_CHECK(!keep.empty(),
                "candidate_parameters: no parameter of the model is a candidate. "
                "Allow biases or normalization parameters");
    return Tensor::from_vector(keep, {static_cast<std::int64_t>(keep.size())})
        .to(model.parameters().device());
}

Tensor select_within(const Tensor& candidates, const Tensor& chosen) {
    check_dtype("select_within", "candidates", candidates, DType::i64);
    check_dtype("select_within", "chosen", chosen, DType::i64);
    return sorted_indices(index_select(candidates, 0, chosen), candidates.device());
}

SubnetworkGroups group_by_layer(const Module& model, const Tensor& index) {
    check_dtype("group_by_layer", "index", index, DType::i64);
    // The layer of every θ position, as a run of [begin, end) per parameter entry.
    struct Run {
        std::int64_t end;
        std::string layer;
    };
    std::vector<Run> runs;
    std::int64_t offset = 0;
    for (const auto& [name, var] : model.named_parameters()) {
        offset += var.numel();
        runs.push_back({offset, owner_of(name)});
    }
    const std::vector<std::int64_t> positions = index.to(Device::cpu()).to_vector<std::int64_t>();
    std::map<std::string, std::int64_t> number;  // layer → group, assigned in θ order below
    std::vector<std::int64_t> layer_run(positions.size());
    for (std::size_t i = 0; i < positions.size(); ++i) {
        const std::int64_t p = positions[i];
        POSTR_CHECK(p >= 0 && p < offset, "group_by_layer: index entry ", i, " = ", p,
                    " is outside θ (D = ", offset, ")");
        const auto run = std::upper_bound(runs.begin(), runs.end(), p,
                                          [](std::int64_t v, const Run& r) { return v < r.end; });
        layer_run[i] = run - runs.begin();
    }
    // Number layers in θ order of their runs, skipping those without a selected weight.
    std::vector<bool> used(runs.size());
    for (std::int64_t r : layer_run) used[static_cast<std::size_t>(r)] = true;
    SubnetworkGroups out;
    for (std::size_t r = 0; r < runs.size(); ++r)
        if (used[r] &&
            number.emplace(runs[r].layer, static_cast<std::int64_t>(out.names.size())).second)
            out.names.push_back(runs[r].layer);
    std::vector<std::int64_t> group;
    group.reserve(positions.size());
    for (std::int64_t r : layer_run)
        group.push_back(number.at(runs[static_cast<std::size_t>(r)].layer));
    out.group =
        Tensor::from_vector(group, {static_cast<std::int64_t>(group.size())}).to(index.device());
    return out;
}

}  // namespace postr::nn
