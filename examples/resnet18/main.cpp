// The ResNet-18 example: trains ResNet-18 (CIFAR stem) on Fashion-MNIST or CIFAR-10 with SGD +
// momentum, evaluates test accuracy and NLL after every epoch, checkpoints, and resumes exactly
// where a run stopped (same data order, learning rate and optimizer state, so the resumed run's
// weights equal the uninterrupted run's bit for bit on the same machine and thread count).
// `resnet18 --help` lists the flags.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/io/checkpoint.h"
#include "postr/io/data_loader.h"
#include "postr/io/datasets.h"
#include "postr/io/progress.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/lr_schedule.h"
#include "postr/nn/optim/sgd.h"

#include "examples/common/image_subsets.h"
#include "examples/common/timing.h"
#include "examples/resnet18/options.h"
#include "examples/resnet18/posterior.h"

namespace postr::examples {
namespace {

struct Data {
    io::ImageDataset train, test;
    std::vector<double> mean, std;  // per channel, for normalisation
    std::int64_t crop_padding;      // for --augment
};

Data load_data(const TrainOptions& o) {
    Data d;
    if (o.dataset == "cifar10") {
        d.train = io::load_cifar10(o.data_dir, "train");
        d.test = io::load_cifar10(o.data_dir, "test");
        d.mean = {0.4914, 0.4822, 0.4465};
        d.std = {0.2470, 0.2435, 0.2616};
        d.crop_padding = 4;
    } else {
        const std::string dir = o.data_dir.empty() ? io::kFashionMnistDir : o.data_dir;
        d.train = io::load_fashion_mnist("train", dir);
        d.test = io::load_fashion_mnist("test", dir);
        d.mean = {0.2860};
        d.std = {0.3530};
        d.crop_padding = 2;
    }
    d.train = first_rows(d.train, o.train_subset);
    d.test = first_rows(d.test, o.test_subset);
    return d;
}

// The learning rate at optimizer step t of a run of total_steps.
std::function<double(std::int64_t)> make_schedule(const TrainOptions& o, std::int64_t total_steps) {
    const std::int64_t after_warmup = std::max<std::int64_t>(total_steps - o.warmup_steps, 1);
    std::function<double(std::int64_t)> main;
    if (o.schedule == "cosine") {
        main = nn::CosineAnnealing(o.lr, after_warmup);
    } else if (o.schedule == "step") {
        // ×0.1 at 50% and 75% of the run: StepLR with a step of a quarter, skipping the first.
        const std::int64_t quarter = std::max<std::int64_t>(after_warmup / 4, 1);
        main = [lr = o.lr, quarter](std::int64_t t) {
            const std::int64_t drops =
                std::max<std::int64_t>(std::min<std::int64_t>(t / quarter, 3) - 1, 0);
            return lr * (drops == 0 ? 1.0 : drops == 1 ? 0.1 : 0.01);
        };
    } else {
        main = [lr = o.lr](std::int64_t) { return lr; };
    }
    if (o.warmup_steps == 0) return main;
    return nn::LinearWarmup(o.warmup_steps, 0.1, main);
}

struct Evaluation {
    double accuracy = 0, nll = 0;
};

Evaluation evaluate(nn::Module& model, const io::DataLoader& loader, Device device) {
    model.eval();
    NoGradGuard no_grad;
    double correct = 0, nll_sum = 0;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
        io::Batch batch = loader.batch(0, b);
        Tensor labels = batch.labels.to(device);
        Var logits = model(Var(batch.images.to(device)));
        nll_sum += nn::cross_entropy(logits, labels, nn::Reduction::sum).value().item();
        correct += postr::sum(eq(argmax(logits.value(), 1), labels)).item();
    }
    model.train();
    const auto n = static_cast<double>(loader.size());
    return {correct / n, nll_sum / n};
}

// Where a run stands: the next batch to train on and the optimizer steps taken so far.
struct Position {
    std::int64_t epoch = 0, batch = 0, step = 0;
};

std::map<std::string, std::string> checkpoint_metadata(const TrainOptions& o, const Position& at,
                                                       const Evaluation& eval) {
    auto meta = run_identity(o);
    meta["next_epoch"] = std::to_string(at.epoch);
    meta["next_batch"] = std::to_string(at.batch);
    meta["step"] = std::to_string(at.step);
    std::ostringstream acc;
    acc << std::setprecision(6) << eval.accuracy;
    meta["test_accuracy"] = acc.str();
    return meta;
}

// Loads the checkpoint into model and optimizer; returns where its run stopped. Throws when it
// was written by a run with other settings, naming the first one that differs.
Position resume_from(const TrainOptions& o, nn::Module& model, nn::Sgd& sgd) {
    io::TrainingCheckpoint saved = io::load_training_checkpoint(o.checkpoint, model);
    for (const auto& [key, value] : run_identity(o)) {
        auto it = saved.metadata.find(key);
        POSTR_CHECK(it != saved.metadata.end() && it->second == value, "resnet18: \"", o.checkpoint,
                    "\" was written by a run with ", key, " = ",
                    it == saved.metadata.end() ? std::string("(none)") : it->second,
                    ", this run has ", key, " = ", value,
                    ". Resume with the same flags, or start afresh without --resume");
    }
    sgd.load_state(saved.optimizer);
    auto number = [&](const char* key) { return std::stoll(saved.metadata.at(key)); };
    return {number("next_epoch"), number("next_batch"), number("step")};
}

int run(const TrainOptions& o) {
    const auto start = Clock::now();
    if (o.threads > 0) set_num_threads(o.threads);
    const Device device = o.device == "cuda" ? Device::cuda() : Device::cpu();

    Data data = load_data(o);
    io::DataLoaderOptions train_options;
    train_options.batch_size = o.batch_size;
    train_options.seed = o.seed;
    train_options.mean = data.mean;
    train_options.std = data.std;
    train_options.crop_padding = o.augment ? data.crop_padding : 0;
    train_options.horizontal_flip = o.augment;
    const io::DataLoader train_loader(data.train, train_options);
    io::DataLoaderOptions test_options;
    test_options.batch_size = 500;
    test_options.shuffle = false;
    test_options.mean = data.mean;
    test_options.std = data.std;
    const io::DataLoader test_loader(data.test, test_options);

    const std::int64_t channels = data.train.images.size(1);
    auto model = nn::resnet18(10, channels, true, o.seed, DType::f32, device, o.width);
    SgdOptions sgd_options;
    sgd_options.lr = o.lr;
    sgd_options.momentum = o.momentum;
    sgd_options.weight_decay = o.weight_decay;
    nn::Sgd sgd(model->parameters().theta(), sgd_options);

    const std::int64_t steps_per_epoch = train_loader.num_batches();
    const auto schedule = make_schedule(o, steps_per_epoch * o.epochs);
    Position at;
    if (o.resume) at = resume_from(o, *model, sgd);
    std::cout << "ResNet-18 (width " << o.width << ", " << model->num_parameters()
              << " weights) on " << o.dataset << ": " << data.train.size() << " train / "
              << data.test.size() << " test images, " << o.device << ", " << num_threads()
              << " CPU threads\n";
    if (o.resume)
        std::cout << "resumed from " << o.checkpoint << " at epoch " << at.epoch + 1 << ", batch "
                  << at.batch << " (step " << at.step << ")\n";

    std::optional<io::MetricsLog> metrics;
    if (!o.metrics.empty()) metrics.emplace(o.metrics, io::MetricsFormat::jsonl);
    auto save = [&](const Position& next, const Evaluation& eval) {
        if (o.checkpoint.empty()) return;
        io::save_training_checkpoint(o.checkpoint, *model, sgd.state(),
                                     checkpoint_metadata(o, next, eval));
    };
    auto out_of_time = [&] {
        return (o.time_budget_s > 0 && seconds_since(start) >= o.time_budget_s) ||
               (o.stop_after_steps > 0 && at.step >= o.stop_after_steps);
    };

    std::optional<Evaluation> eval;  // of the current weights
    bool stopped_early = false;
    // One line and one metrics row per (possibly partial) epoch.
    auto report_epoch = [&](double train_loss) {
        std::cout << "epoch " << at.epoch + 1 << "/" << o.epochs
                  << (stopped_early ? " (partial)" : "") << ": train loss " << std::fixed
                  << std::setprecision(4) << train_loss << ", test accuracy "
                  << std::setprecision(2) << 100 * eval->accuracy << "%, test NLL "
                  << std::setprecision(4) << eval->nll << ", " << std::setprecision(0)
                  << seconds_since(start) << " s" << std::endl;
        std::cout.unsetf(std::ios::floatfield);
        if (metrics)
            metrics->log({{"epoch", static_cast<double>(at.epoch + 1)},
                          {"step", static_cast<double>(at.step)},
                          {"train_loss", train_loss},
                          {"test_accuracy", eval->accuracy},
                          {"test_nll", eval->nll},
                          {"seconds", seconds_since(start)}});
    };

    while (at.epoch < o.epochs && !stopped_early) {
        io::Progress progress(steps_per_epoch - at.batch, "epoch " + std::to_string(at.epoch + 1) +
                                                              "/" + std::to_string(o.epochs));
        double loss_sum = 0;
        std::int64_t loss_count = 0;
        for (; at.batch < steps_per_epoch; ++at.batch, ++at.step) {
            if (out_of_time()) {
                stopped_early = true;
                break;
            }
            io::Batch batch = train_loader.batch(at.epoch, at.batch);
            sgd.set_lr(schedule(at.step));
            Var loss =
                nn::cross_entropy((*model)(Var(batch.images.to(device))), batch.labels.to(device));
            const double value = loss.value().item();
            POSTR_CHECK(std::isfinite(value), "resnet18: the training loss became ", value,
                        " at step ", at.step, " (epoch ", at.epoch + 1, ", lr ", sgd.lr(),
                        "). Lower --lr or add --warmup-steps");
            loss.backward();
            model->parameters().collect_grads();
            sgd.step(model->parameters().grad());
            eval.reset();
            loss_sum += value;
            ++loss_count;
            progress.update(
                1, {{"loss", loss_sum / static_cast<double>(loss_count)}, {"lr", sgd.lr()}});
        }
        progress.finish();
        if (loss_count > 0) {
            eval = evaluate(*model, test_loader, device);
            report_epoch(loss_sum / static_cast<double>(loss_count));
        }
        if (!stopped_early) {
            if (!eval) eval = evaluate(*model, test_loader, device);
            at = {at.epoch + 1, 0, at.step};
            save(at, *eval);
        }
    }
    if (!eval) eval = evaluate(*model, test_loader, device);
    if (stopped_early) {
        save(at, *eval);
        const bool by_steps = o.stop_after_steps > 0 && at.step >= o.stop_after_steps;
        std::cout << "stopped at epoch " << at.epoch + 1 << ", batch " << at.batch << " (step "
                  << at.step << ") by " << (by_steps ? "--stop-after-steps" : "--time-budget");
        if (!o.checkpoint.empty())
            std::cout << "; continue with --resume --checkpoint " << o.checkpoint;
        std::cout << "\n";
    }
    std::cout << "final test accuracy " << std::fixed << std::setprecision(2)
              << 100 * eval->accuracy << "%, test NLL " << std::setprecision(4) << eval->nll
              << ", total " << std::setprecision(0) << seconds_since(start) << " s\n";
    std::cout.unsetf(std::ios::floatfield);
    std::cout << std::setprecision(6);
    if (o.subnetwork > 0) {
        PosteriorOptions p;
        p.subnetwork = std::min(o.subnetwork, model->num_parameters());
        p.wasserstein = o.wasserstein;
        p.tune_prior = o.tune_prior;
        p.weights_only = o.weights_only;
        p.save_posterior = o.save_posterior;
        p.fit_samples = o.posterior_fit;
        p.test_samples = o.posterior_test;
        // L2 weight decay wd on the mean loss is a N(0, 1/(wd·N)) prior on the summed one.
        const double from_decay = o.weight_decay * static_cast<double>(data.train.size());
        p.prior_precision =
            o.prior_precision > 0 ? o.prior_precision : (from_decay > 0 ? from_decay : 1.0);
        p.rotation_degrees = o.rotation;
        p.batch_size = std::min<std::int64_t>(o.batch_size, 128);
        p.seed = o.seed;
        fit_and_compare(*model, data.train, data.test, {data.mean, data.std}, p, device);
        std::cout << "total " << static_cast<int>(seconds_since(start)) << " s\n";
    }
    return 0;
}

}  // namespace
}  // namespace postr::examples

int main(int argc, char** argv) {
    try {
        const auto options = postr::examples::parse_options(argc, argv);
        if (options.help) {
            std::cout << postr::examples::usage();
            return 0;
        }
        return postr::examples::run(options);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
