#include "examples/rotated_fmnist/laplace_fits.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"

#include "examples/common/timing.h"

namespace postr::examples::rotated {
namespace {

template <class Laplace>
void accumulate(Laplace& laplace, const LaplaceSettings& s) {
    const io::DataLoader loader = make_loader(s.fit_data, s.normalization, 128, false);
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
        const io::Batch batch = loader.batch(0, b);
        laplace.accumulate(batch.images.to(s.device), batch.labels.to(s.device));
    }
    laplace.fit();
    if (s.prior == "evidence") laplace.optimize_prior_precision();
    if (s.prior == "validation") {
        const double lambda =
            laplace.tune_prior_precision_on_validation(s.grid, s.validation_x, s.validation_y);
        if (lambda == s.grid.front() || lambda == s.grid.back())
            std::printf(
                "  (the validation NLL is lowest at the edge of the grid, λ = %g: the "
                "best λ may lie beyond it)\n",
                lambda);
    }
}

}  // namespace

std::unique_ptr<inference::DiagonalLinearizedLaplace> fit_diagonal_laplace(
    nn::Module& model, const LaplaceSettings& s) {
    const auto start = Clock::now();
    model.eval();
    inference::DiagonalLinearizedLaplaceOptions o;
    o.prior_precision = s.initial_prior;
    o.ggn_scale = s.ggn_scale;
    auto laplace = std::make_unique<inference::DiagonalLinearizedLaplace>(model, o);
    accumulate(*laplace, s);
    std::printf("  diagonal Laplace: %lld weights, prior precision %.4g, fitted in %.0f s\n",
                static_cast<long long>(model.num_parameters()), laplace->prior_precision(),
                seconds_since(start));
    return laplace;
}

std::unique_ptr<inference::SubnetworkLaplace> fit_subnetwork_laplace(nn::Module& model,
                                                                     const Tensor& index,
                                                                     const LaplaceSettings& s,
                                                                     const std::string& name) {
    const auto start = Clock::now();
    model.eval();
    inference::SubnetworkLaplaceOptions o;
    o.prior_precision = s.initial_prior;
    o.ggn_scale = s.ggn_scale;
    auto laplace = std::make_unique<inference::SubnetworkLaplace>(model, index, o);
    accumulate(*laplace, s);
    std::printf("  %s: S = %lld, prior precision %.4g, fitted in %.0f s\n", name.c_str(),
                static_cast<long long>(laplace->size()), laplace->prior_precision(),
                seconds_since(start));
    return laplace;
}

Tensor weight_candidates(const nn::Module& model) {
    nn::Candidates c;
    c.biases = false;
    c.normalization = false;
    return nn::candidate_parameters(model, c);
}

Tensor select_wasserstein(const nn::Module& model, const Tensor& variances, std::int64_t s) {
    const Tensor candidates = weight_candidates(model);
    const std::int64_t n = std::min(s, candidates.numel());
    return nn::select_within(
        candidates, nn::select_largest_variance(index_select(variances, 0, candidates), n));
}

Tensor select_random_weights(const nn::Module& model, std::int64_t s, std::uint64_t seed) {
    const Tensor candidates = weight_candidates(model);
    const std::int64_t n = std::min(s, candidates.numel());
    return nn::select_within(candidates,
                             nn::select_random(candidates.numel(), n, seed, candidates.device()));
}

}  // namespace postr::examples::rotated
