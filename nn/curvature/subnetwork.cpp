#include "postr/nn/curvature/subnetwork.h"

#include <algorithm>
#include <string>
#include <vector>

#include "postr/core/error.h"
#include "postr/core/philox.h"
#include "postr/kernels/ops.h"

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

}  // namespace postr::nn
