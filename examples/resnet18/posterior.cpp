#include "examples/resnet18/posterior.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "postr/autodiff/graph.h"
#include "postr/inference/metrics.h"
#include "postr/inference/subnetwork_laplace.h"
#include "postr/io/data_loader.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/subnetwork.h"

#include "examples/common/image_subsets.h"
#include "examples/common/timing.h"

namespace postr::examples {
namespace {

io::DataLoader loader_for(const io::ImageDataset& data, const Normalization& normalization,
                          std::int64_t batch_size) {
    io::DataLoaderOptions o;
    o.batch_size = batch_size;
    o.shuffle = false;
    o.mean = normalization.mean;
    o.std = normalization.std;
    return io::DataLoader(data, o);
}

struct Row {
    inference::ClassificationMetrics::Summary map, laplace;
};

Row evaluate(nn::Module& model, const inference::SubnetworkLaplace& laplace,
             const io::DataLoader& loader, Device device) {
    inference::ClassificationMetrics map, la;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
        const io::Batch batch = loader.batch(0, b);
        const Tensor x = batch.images.to(device);
        Tensor logits;
        {
            NoGradGuard no_graph;
            logits = model(Var(x)).value();
        }
        map.add(softmax(logits, 1), batch.labels);
        la.add(laplace.predict_probabilities(x), batch.labels);
    }
    return {map.summary(), la.summary()};
}

void print_row(const char* method, const inference::ClassificationMetrics::Summary& a,
               const inference::ClassificationMetrics::Summary& b) {
    std::printf("  %-20s %6.2f%%  %6.4f  %6.4f  %6.4f   | %6.2f%%  %6.4f  %6.4f  %6.4f\n", method,
                100 * a.accuracy, a.nll, a.ece, a.brier, 100 * b.accuracy, b.nll, b.ece, b.brier);
}

}  // namespace

void fit_and_compare(nn::Module& model, const io::ImageDataset& train, const io::ImageDataset& test,
                     const Normalization& normalization, const PosteriorOptions& o, Device device) {
    const auto start = Clock::now();
    model.eval();
    const io::ImageDataset fit = random_rows(train, o.fit_samples, o.seed);
    const io::DataLoader fit_loader = loader_for(fit, normalization, o.batch_size);
    const double prior = o.prior_precision;

    // 1. A diagonal Laplace (Monte Carlo diagonal GGN, one sampled label per image) gives the
    //    marginal variances; the Wasserstein rule keeps the S largest.
    nn::CurvatureOptions diag_options;
    diag_options.type = nn::CurvatureType::ggn_monte_carlo;
    diag_options.seed = o.seed;
    nn::DiagonalCurvature diag(model, diag_options);
    for (std::int64_t b = 0; b < fit_loader.num_batches(); ++b)
        diag.accumulate(fit_loader.batch(0, b).images.to(device));
    // The GGN of a subset of the data stands in for the whole: scale it up to N images.
    const double scale = static_cast<double>(train.size()) / static_cast<double>(fit.size());
    const Tensor ggn_diagonal = mul(diag.diagonal(), scale);
    // Candidates: every parameter, or the layer weights only (--weights-only, as the paper).
    const Tensor candidates = nn::candidate_parameters(
        model, {.biases = !o.weights_only, .normalization = !o.weights_only});
    const Tensor scores = index_select(ggn_diagonal, 0, candidates);
    const Tensor chosen =
        o.wasserstein ? nn::select_largest_variance(reciprocal(add(scores, prior)), o.subnetwork)
                      : nn::select_largest_curvature(scores, o.subnetwork);
    const Tensor index = nn::select_within(candidates, chosen);

    // 2. The dense S×S GGN over the subnetwork, the prior, the Cholesky factor.
    inference::SubnetworkLaplaceOptions la_options;
    la_options.prior_precision = prior;
    la_options.ggn_scale = scale;
    inference::SubnetworkLaplace laplace(model, index, la_options);
    for (std::int64_t b = 0; b < fit_loader.num_batches(); ++b) {
        const io::Batch batch = fit_loader.batch(0, b);
        laplace.accumulate(batch.images.to(device), batch.labels.to(device));
    }
    laplace.fit();
    if (o.tune_prior) {
        const double tuned = laplace.optimize_prior_precision();
        std::cout << "prior precision " << prior << " -> " << tuned
                  << " by the subnetwork's Laplace evidence\n";
    }
    std::cout << "subnetwork Laplace: S = " << o.subnetwork << " of " << model.num_parameters()
              << " weights (" << (o.wasserstein ? "Wasserstein rule" : "largest curvature")
              << " on a diagonal Laplace), " << fit.size() << " training images, prior precision "
              << laplace.prior_precision() << ", fitted in "
              << static_cast<int>(seconds_since(start)) << " s\n";

    if (!o.save_posterior.empty()) {
        laplace.save(o.save_posterior, {{"example", "resnet18"}});
        std::cout << "saved the posterior to " << o.save_posterior << "\n";
    }

    // 3. MAP vs linearized predictive (probit) on the test set and on a rotated copy.
    const io::ImageDataset shown = first_rows(test, o.test_samples);
    const io::ImageDataset rotated{io::rotate_images(shown.images, o.rotation_degrees),
                                   shown.labels};
    const Row plain =
        evaluate(model, laplace, loader_for(shown, normalization, o.batch_size), device);
    const Row shifted =
        evaluate(model, laplace, loader_for(rotated, normalization, o.batch_size), device);
    std::printf("  %-20s %-34s | rotated by %.0f degrees\n", "", "test set", o.rotation_degrees);
    std::printf("  %-20s %7s  %6s  %6s  %6s   | %7s  %6s  %6s  %6s\n", "method", "acc", "NLL",
                "ECE", "Brier", "acc", "NLL", "ECE", "Brier");
    print_row("MAP", plain.map, shifted.map);
    print_row("subnetwork Laplace", plain.laplace, shifted.laplace);
    std::cout << "  (" << shown.size() << " test images; posterior total "
              << static_cast<int>(seconds_since(start)) << " s)\n";
}

}  // namespace postr::examples
