// Rotated Fashion-MNIST (Daxberger et al., "Bayesian Deep Learning via Subnetwork Inference",
// ICML 2021, Fig. 5): how well eight predictives of a ResNet-18 keep their calibration as the
// test images rotate away from the training distribution. Trains the MAP network, fits the
// posteriors around it (diagonal Laplace, last-layer Laplace, diagonal SWAG, Wasserstein and
// random subnetwork Laplace), trains the MC-dropout network and the ensemble members, and
// evaluates all of them on the test set rotated by 0°, 15°, …, 180°. Writes results.csv and
// plot.svg to --out-dir; examples/rotated_fmnist/README.md has the numbers of the default run.
// `rotated_fmnist --help` lists the flags.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/inference/metrics.h"
#include "postr/io/data_loader.h"
#include "postr/io/datasets.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/resnet.h"

#include "examples/common/image_subsets.h"
#include "examples/common/timing.h"
#include "examples/rotated_fmnist/dropout_resnet.h"
#include "examples/rotated_fmnist/laplace_fits.h"
#include "examples/rotated_fmnist/options.h"
#include "examples/rotated_fmnist/report.h"
#include "examples/rotated_fmnist/swag_run.h"
#include "examples/rotated_fmnist/training.h"

namespace postr::examples::rotated {
namespace {

// Class probabilities [N, C] for normalised test images [N, 1, 28, 28] on the device.
using Predictor = std::function<Tensor(const Tensor& x)>;

// The test set rotated by each angle, normalised, on the device.
struct RotatedTestSets {
    std::vector<double> angles;
    std::vector<Tensor> inputs;
    Tensor labels;
};

RotatedTestSets rotated_test_sets(const io::ImageDataset& test, const Options& o,
                                  const Normalization& normalization, Device device) {
    RotatedTestSets sets;
    sets.labels = test.labels;
    for (double angle = 0; angle <= 180 + 1e-9; angle += o.angle_step) {
        const io::ImageDataset rotated{io::rotate_images(test.images, angle), test.labels};
        const io::DataLoader loader = make_loader(rotated, normalization, test.size(), false);
        sets.angles.push_back(angle);
        sets.inputs.push_back(loader.batch(0, 0).images.to(device));
    }
    return sets;
}

int run(const Options& o) {
    const auto start = Clock::now();
    if (o.threads > 0) set_num_threads(o.threads);
    const Device device = o.device == "cuda" ? Device::cuda() : Device::cpu();
    const Normalization normalization;
    const std::string dir = o.data_dir.empty() ? io::kFashionMnistDir : o.data_dir;
    // The last `validation` training images are held out for the prior of the Laplace methods;
    // the networks train on the first train_subset of the others.
    const io::ImageDataset all_train = io::load_fashion_mnist("train", dir);
    const std::int64_t held_out =
        o.prior == "validation" ? std::min(o.validation, all_train.size() - 1) : 0;
    const io::ImageDataset train_data =
        first_rows(first_rows(all_train, all_train.size() - held_out), o.train_subset);
    const io::ImageDataset test_data =
        first_rows(io::load_fashion_mnist("test", dir), o.test_subset);
    std::filesystem::create_directories(o.out_dir);

    TrainSettings train_settings;
    train_settings.epochs = o.epochs;
    train_settings.batch_size = o.batch_size;
    train_settings.lr = o.lr;
    train_settings.momentum = o.momentum;
    train_settings.weight_decay = o.weight_decay;
    train_settings.seed = o.seed;

    auto model = nn::resnet18(10, 1, true, o.seed, DType::f32, device, o.width);
    std::printf(
        "ResNet-18 (width %lld, %lld weights) on Fashion-MNIST: %lld train / %lld test "
        "images, %s, %d CPU threads\n",
        static_cast<long long>(o.width), static_cast<long long>(model->num_parameters()),
        static_cast<long long>(train_data.size()), static_cast<long long>(test_data.size()),
        o.device.c_str(), num_threads());
    std::printf("[%4.0f s] training the MAP network\n", seconds_since(start));
    train(*model, train_data, normalization, train_settings, device, "MAP");

    const RotatedTestSets tests = rotated_test_sets(test_data, o, normalization, device);
    std::vector<Result> results;
    auto evaluate = [&](const std::string& method, const Predictor& predict) {
        const auto t0 = Clock::now();
        for (std::size_t a = 0; a < tests.angles.size(); ++a) {
            inference::ClassificationMetrics metrics;
            metrics.add(predict(tests.inputs[a]), tests.labels);
            results.push_back({method, tests.angles[a], metrics.summary()});
        }
        const auto& at0 = results[results.size() - tests.angles.size()].metrics;
        const auto& at180 = results.back().metrics;
        std::printf(
            "[%4.0f s] %s evaluated in %.0f s: accuracy %.1f%% -> %.1f%%, NLL %.3f -> "
            "%.3f (first -> last angle)\n",
            seconds_since(start), display_name(method).c_str(), seconds_since(t0),
            100 * at0.accuracy, 100 * at180.accuracy, at0.nll, at180.nll);
        std::fflush(stdout);
    };

    if (o.runs("map")) evaluate("map", [&](const Tensor& x) { return predict_softmax(*model, x); });

    // The Laplace family: one GGN subset, one prior rule.
    LaplaceSettings laplace;
    laplace.fit_data = random_rows(train_data, o.laplace_fit, o.seed);
    laplace.ggn_scale =
        static_cast<double>(train_data.size()) / static_cast<double>(laplace.fit_data.size());
    // L2 weight decay wd on the mean loss is a N(0, 1/(wd·N)) prior on the summed one.
    laplace.initial_prior =
        o.weight_decay > 0 ? o.weight_decay * static_cast<double>(train_data.size()) : 1.0;
    laplace.prior = o.prior;
    if (o.prior == "validation") {
        const io::ImageDataset validation{
            all_train.images.narrow(0, all_train.size() - held_out, held_out),
            all_train.labels.narrow(0, all_train.size() - held_out, held_out)};
        const io::Batch batch = make_loader(validation, normalization, held_out, false).batch(0, 0);
        laplace.validation_x = batch.images.to(device);
        laplace.validation_y = batch.labels.to(device);
        for (double e = -1; e <= 5 + 1e-9; e += 0.5) laplace.grid.push_back(std::pow(10.0, e));
    }
    laplace.normalization = normalization;
    laplace.device = device;
    auto laplace_predictor = [](const auto& la) {
        return [&la](const Tensor& x) { return la.predict_probabilities(x); };
    };
    if (o.runs("diag_laplace")) {
        std::printf("[%4.0f s] fitting the diagonal Laplace\n", seconds_since(start));
        auto la = fit_diagonal_laplace(*model, laplace);
        evaluate("diag_laplace", laplace_predictor(*la));
    }
    if (o.runs("last_layer")) {
        std::printf("[%4.0f s] fitting the last-layer Laplace\n", seconds_since(start));
        auto la = fit_subnetwork_laplace(*model, nn::select_last_layer(*model), laplace,
                                         "last-layer Laplace");
        evaluate("last_layer", laplace_predictor(*la));
    }
    std::unique_ptr<SwagPosterior> swag;
    if (o.runs("swag") || o.runs("wasserstein")) {
        std::printf("[%4.0f s] collecting diagonal SWAG moments\n", seconds_since(start));
        SwagSettings s;
        s.epochs = o.swag_epochs;
        s.lr = o.swag_lr;
        s.momentum = o.momentum;
        s.weight_decay = o.weight_decay;
        s.batch_size = o.batch_size;
        s.snapshots = o.swag_snapshots;
        s.seed = o.seed + 100;
        swag =
            std::make_unique<SwagPosterior>(fit_swag(*model, train_data, normalization, s, device));
    }
    if (o.runs("swag")) {
        const BatchNormRefresh refresh{random_rows(train_data, o.swag_bn_images, o.seed + 300),
                                       normalization, o.batch_size, device};
        swag->draw(*model, o.swag_samples, o.seed + 200, o.swag_bn_images > 0 ? &refresh : nullptr);
        evaluate("swag", [&](const Tensor& x) { return swag->predict(*model, x); });
    }
    const std::int64_t s = std::min(o.subnetwork, model->num_parameters());
    if (o.runs("wasserstein")) {
        std::printf("[%4.0f s] fitting the Wasserstein subnetwork Laplace\n", seconds_since(start));
        auto la = fit_subnetwork_laplace(*model, select_wasserstein(*model, swag->variances(), s),
                                         laplace, "Wasserstein subnetwork (SWAG variances)");
        evaluate("wasserstein", laplace_predictor(*la));
    }
    if (o.runs("random")) {
        std::printf("[%4.0f s] fitting the random subnetwork Laplace\n", seconds_since(start));
        auto la = fit_subnetwork_laplace(*model, select_random_weights(*model, s, o.seed + 1),
                                         laplace, "random subnetwork");
        evaluate("random", laplace_predictor(*la));
    }

    if (o.runs("mc_dropout")) {
        std::printf("[%4.0f s] training the dropout network (p = %g)\n", seconds_since(start),
                    o.dropout);
        auto net = dropout_resnet18(10, 1, o.width, o.dropout, o.seed, device);
        train(*net, train_data, normalization, train_settings, device, "dropout network");
        net->set_mc_dropout(true);
        evaluate("mc_dropout", [&](const Tensor& x) {
            Tensor sum = predict_softmax(*net, x);
            for (std::int64_t t = 1; t < o.dropout_samples; ++t)
                axpy_(sum, 1.0, predict_softmax(*net, x));
            scale_(sum, 1.0 / static_cast<double>(o.dropout_samples));
            return sum;
        });
    }

    if (o.runs("ensemble")) {
        // Member 1 is the MAP network; the others differ in initialization and data order.
        std::vector<ModelState> members{save_state(*model)};
        auto scratch = nn::resnet18(10, 1, true, o.seed, DType::f32, device, o.width);
        for (std::int64_t k = 1; k < o.ensemble_size; ++k) {
            std::printf("[%4.0f s] training ensemble member %lld/%lld\n", seconds_since(start),
                        static_cast<long long>(k + 1), static_cast<long long>(o.ensemble_size));
            scratch->finalize(o.seed + static_cast<std::uint64_t>(k), DType::f32, device);
            TrainSettings member = train_settings;
            member.seed = o.seed + static_cast<std::uint64_t>(k);
            train(*scratch, train_data, normalization, member, device,
                  "member " + std::to_string(k + 1));
            members.push_back(save_state(*scratch));
        }
        evaluate("ensemble", [&](const Tensor& x) {
            Tensor sum;
            for (const auto& m : members) {
                load_state(*scratch, m);
                const Tensor probs = predict_softmax(*scratch, x);
                if (sum.defined())
                    axpy_(sum, 1.0, probs);
                else
                    sum = probs.clone();
            }
            scale_(sum, 1.0 / static_cast<double>(members.size()));
            return sum;
        });
    }

    // Table and plot in the order of all_methods().
    auto rank = [](const std::string& m) {
        const auto& all = all_methods();
        return std::find(all.begin(), all.end(), m) - all.begin();
    };
    std::stable_sort(results.begin(), results.end(), [&](const Result& a, const Result& b) {
        return rank(a.method) < rank(b.method);
    });
    print_tables(results);
    const std::string csv = (std::filesystem::path(o.out_dir) / "results.csv").string();
    const std::string svg = (std::filesystem::path(o.out_dir) / "plot.svg").string();
    write_csv(results, csv);
    char subtitle[160];
    std::snprintf(subtitle, sizeof subtitle, "width %lld, %lld train / %lld test images, S = %lld",
                  static_cast<long long>(o.width), static_cast<long long>(train_data.size()),
                  static_cast<long long>(test_data.size()), static_cast<long long>(s));
    write_plot(results, svg, subtitle);
    std::printf("\nwrote %s and %s; total %.0f s\n", csv.c_str(), svg.c_str(),
                seconds_since(start));
    return 0;
}

}  // namespace
}  // namespace postr::examples::rotated

int main(int argc, char** argv) {
    try {
        const auto options = postr::examples::rotated::parse_options(argc, argv);
        if (options.help) {
            std::cout << postr::examples::rotated::usage();
            return 0;
        }
        return postr::examples::rotated::run(options);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
