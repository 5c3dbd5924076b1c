#include "examples/resnet18/options.h"

#include <functional>
#include <sstream>
#include <string_view>

#include "postr/core/error.h"

#include "examples/common/cli.h"

namespace postr::examples {
namespace {

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    return examples::parse_number<T>("resnet18", flag, text);
}

void check_choice(std::string_view flag, const std::string& value,
                  std::initializer_list<std::string_view> choices) {
    for (auto c : choices)
        if (value == c) return;
    std::ostringstream list;
    for (auto c : choices) list << ' ' << c;
    POSTR_CHECK(false, "resnet18: ", flag, " must be one of", list.str(), ": got \"", value,
                "\". See --help");
}

}  // namespace

std::string usage() {
    return R"(Trains ResNet-18 (CIFAR stem: 3x3 stride-1 conv, no max-pool) with SGD + momentum,
evaluating test accuracy and NLL after every epoch.

Usage: resnet18 [flags]
  --dataset NAME        fashion-mnist (default) or cifar10
  --data-dir DIR        data files (default for fashion-mnist: /usr/share/datasets/fashion-mnist,
                        from `apt-get install dataset-fashion-mnist`; required for cifar10: the
                        folder holding data_batch_1.bin .. test_batch.bin)
  --device NAME         cpu (default) or cuda
  --epochs N            passes over the training set (default 2)
  --batch-size N        (default 128)
  --lr X                peak learning rate (default 0.05)
  --momentum X          (default 0.9)
  --weight-decay X      L2 weight decay (default 5e-4)
  --schedule NAME       cosine (default), step (x0.1 at 50% and 75% of the run) or constant
  --warmup-steps N      linear warmup from lr/10 (default 0)
  --width N             base width: stages of N, 2N, 4N, 8N channels (default 8; 64 is
                        torchvision's ResNet-18 with 11.2M weights)
  --train-subset N      train on the first N training images (default 0: all)
  --test-subset N       evaluate on the first N test images (default 0: all)
  --augment             random crop with padding and horizontal flip
  --time-budget S       stop training after S seconds (at a batch boundary), evaluate and
                        checkpoint; --resume continues from there (default 0: no limit)
  --stop-after-steps N  stop after N optimizer steps in all (default 0: no limit)
  --seed N              initialization, data order and augmentation (default 0)
  --threads N           CPU threads (default 0: all cores)
  --checkpoint PATH     write model + optimizer state after every epoch and on stopping
  --resume              continue exactly where the run that wrote --checkpoint stopped
  --metrics PATH        append one JSON line per epoch

After training, a subnetwork linearized Laplace posterior (Daxberger et al. 2021) is fitted and
compared with the MAP network on the test set and a rotated test set:
  --subnetwork S        weights with a full covariance, chosen from a diagonal Laplace as
                        those of largest curvature (default 1000; 0 skips the posterior)
  --wasserstein         choose them by the Wasserstein rule (largest marginal variance)
                        instead: the paper's rule, meant for diagonal SWAG variances
  --posterior-fit N     random training images for the curvature (default 2048)
  --posterior-test N    test images for the comparison (default 2000; 0: all)
  --prior-precision X   λ of the N(0, 1/λ) prior (default 0: weight decay × training images,
                        the prior that the L2 penalty of training corresponds to)
  --tune-prior          then maximise the subnetwork's Laplace evidence over the prior
                        precision (golden-section search on log λ)
  --rotation DEG        rotation of the shifted test set (default 45)
  --weights-only        select among layer weights only (no biases or batch-norm parameters,
                        as the paper does)
  --save-posterior PATH save the fitted posterior (model, subnetwork, GGN, Cholesky factor) as
                        safetensors; SubnetworkLaplace::load reads it back
  --help                this text
)";
}

TrainOptions parse_options(int argc, const char* const* argv) {
    TrainOptions o;
    // Flags that take a value, each with its setter.
    const std::map<std::string_view, std::function<void(std::string_view, std::string_view)>>
        valued{
            {"--dataset", [&](auto, auto v) { o.dataset = v; }},
            {"--data-dir", [&](auto, auto v) { o.data_dir = v; }},
            {"--device", [&](auto, auto v) { o.device = v; }},
            {"--epochs", [&](auto f, auto v) { o.epochs = parse_number<std::int64_t>(f, v); }},
            {"--batch-size",
             [&](auto f, auto v) { o.batch_size = parse_number<std::int64_t>(f, v); }},
            {"--lr", [&](auto f, auto v) { o.lr = parse_number<double>(f, v); }},
            {"--momentum", [&](auto f, auto v) { o.momentum = parse_number<double>(f, v); }},
            {"--weight-decay",
             [&](auto f, auto v) { o.weight_decay = parse_number<double>(f, v); }},
            {"--schedule", [&](auto, auto v) { o.schedule = v; }},
            {"--warmup-steps",
             [&](auto f, auto v) { o.warmup_steps = parse_number<std::int64_t>(f, v); }},
            {"--width", [&](auto f, auto v) { o.width = parse_number<std::int64_t>(f, v); }},
            {"--train-subset",
             [&](auto f, auto v) { o.train_subset = parse_number<std::int64_t>(f, v); }},
            {"--test-subset",
             [&](auto f, auto v) { o.test_subset = parse_number<std::int64_t>(f, v); }},
            {"--time-budget",
             [&](auto f, auto v) { o.time_budget_s = parse_number<double>(f, v); }},
            {"--stop-after-steps",
             [&](auto f, auto v) { o.stop_after_steps = parse_number<std::int64_t>(f, v); }},
            {"--seed", [&](auto f, auto v) { o.seed = parse_number<std::uint64_t>(f, v); }},
            {"--threads", [&](auto f, auto v) { o.threads = parse_number<int>(f, v); }},
            {"--checkpoint", [&](auto, auto v) { o.checkpoint = v; }},
            {"--metrics", [&](auto, auto v) { o.metrics = v; }},
            {"--subnetwork",
             [&](auto f, auto v) { o.subnetwork = parse_number<std::int64_t>(f, v); }},
            {"--posterior-fit",
             [&](auto f, auto v) { o.posterior_fit = parse_number<std::int64_t>(f, v); }},
            {"--posterior-test",
             [&](auto f, auto v) { o.posterior_test = parse_number<std::int64_t>(f, v); }},
            {"--prior-precision",
             [&](auto f, auto v) { o.prior_precision = parse_number<double>(f, v); }},
            {"--rotation", [&](auto f, auto v) { o.rotation = parse_number<double>(f, v); }},
            {"--save-posterior", [&](auto, auto v) { o.save_posterior = v; }},
        };
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            o.help = true;
        } else if (flag == "--augment") {
            o.augment = true;
        } else if (flag == "--tune-prior") {
            o.tune_prior = true;
        } else if (flag == "--wasserstein") {
            o.wasserstein = true;
        } else if (flag == "--weights-only") {
            o.weights_only = true;
        } else if (flag == "--resume") {
            o.resume = true;
        } else if (auto it = valued.find(flag); it != valued.end()) {
            POSTR_CHECK(i + 1 < argc, "resnet18: ", flag, " needs a value. See --help");
            it->second(flag, argv[++i]);
        } else {
            POSTR_CHECK(false, "resnet18: unknown flag \"", flag, "\". See --help");
        }
    }
    check_choice("--dataset", o.dataset, {"fashion-mnist", "cifar10"});
    check_choice("--device", o.device, {"cpu", "cuda"});
    check_choice("--schedule", o.schedule, {"cosine", "step", "constant"});
    POSTR_CHECK(o.epochs >= 1 && o.batch_size >= 1 && o.width >= 1,
                "resnet18: --epochs, --batch-size and --width must be at least 1: got ", o.epochs,
                ", ", o.batch_size, ", ", o.width, ". See --help");
    POSTR_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0,
                "resnet18: --lr, --momentum and --weight-decay must be non-negative. See --help");
    POSTR_CHECK(o.train_subset >= 0 && o.test_subset >= 0 && o.time_budget_s >= 0 &&
                    o.stop_after_steps >= 0 && o.warmup_steps >= 0 && o.threads >= 0,
                "resnet18: subsets, budgets, warmup and threads must be non-negative. See --help");
    POSTR_CHECK(o.subnetwork >= 0 && o.posterior_fit >= 1 && o.posterior_test >= 0 &&
                    o.prior_precision >= 0,
                "resnet18: --subnetwork, --posterior-test and --prior-precision must be "
                "non-negative and --posterior-fit at least 1. See --help");
    POSTR_CHECK(!o.resume || !o.checkpoint.empty(),
                "resnet18: --resume needs --checkpoint PATH (the file to continue from)");
    POSTR_CHECK(o.dataset != "cifar10" || !o.data_dir.empty(),
                "resnet18: --dataset cifar10 needs --data-dir DIR, the folder with the binary "
                "version's data_batch_1.bin .. test_batch.bin (cifar-10-binary.tar.gz from "
                "https://www.cs.toronto.edu/~kriz/cifar.html)");
    return o;
}

std::map<std::string, std::string> run_identity(const TrainOptions& o) {
    auto text = [](auto v) {
        std::ostringstream s;
        s << v;
        return s.str();
    };
    return {{"dataset", o.dataset},
            {"epochs", text(o.epochs)},
            {"batch_size", text(o.batch_size)},
            {"lr", text(o.lr)},
            {"momentum", text(o.momentum)},
            {"weight_decay", text(o.weight_decay)},
            {"schedule", o.schedule},
            {"warmup_steps", text(o.warmup_steps)},
            {"width", text(o.width)},
            {"train_subset", text(o.train_subset)},
            {"augment", o.augment ? "1" : "0"},
            {"seed", text(o.seed)}};
}

}  // namespace postr::examples
