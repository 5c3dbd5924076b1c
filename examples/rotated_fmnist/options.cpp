#include "examples/rotated_fmnist/options.h"

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>
#include <string_view>

#include "postr/core/error.h"

#include "examples/common/cli.h"

namespace postr::examples::rotated {
namespace {

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    return examples::parse_number<T>("rotated_fmnist", flag, text);
}

std::vector<std::string> parse_methods(std::string_view text) {
    std::vector<std::string> chosen;
    std::stringstream in{std::string(text)};
    std::string name;
    while (std::getline(in, name, ',')) {
        if (name.empty()) continue;
        if (name == "all") return all_methods();
        const auto& known = all_methods();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::ostringstream list;
            for (const auto& k : known) list << ' ' << k;
            POSTR_CHECK(false, "rotated_fmnist: --methods has an unknown method \"", name,
                        "\": choose among", list.str(), " (or all). See --help");
        }
        if (std::find(chosen.begin(), chosen.end(), name) == chosen.end()) chosen.push_back(name);
    }
    POSTR_CHECK(!chosen.empty(), "rotated_fmnist: --methods names no method: got \"", text,
                "\". See --help");
    // Table and plot order.
    std::vector<std::string> ordered;
    for (const auto& m : all_methods())
        if (std::find(chosen.begin(), chosen.end(), m) != chosen.end()) ordered.push_back(m);
    return ordered;
}

}  // namespace

bool Options::runs(const std::string& method) const {
    return std::find(methods.begin(), methods.end(), method) != methods.end();
}

std::string usage() {
    return R"(Rotated Fashion-MNIST (Daxberger et al. 2021, Fig. 5): trains ResNet-18 and compares the
predictive uncertainty of MAP, diagonal Laplace, last-layer Laplace, diagonal SWAG, MC dropout,
a deep ensemble and Wasserstein and random subnetwork Laplace on the test set rotated by
0..180 degrees. Writes results.csv (method, angle, accuracy, nll, ece, brier) and plot.svg.

Usage: rotated_fmnist [flags]
  --data-dir DIR          Fashion-MNIST files (default /usr/share/datasets/fashion-mnist,
                          from `apt-get install dataset-fashion-mnist`)
  --out-dir DIR           where results.csv and plot.svg go (default rotated_fmnist_out)
  --device NAME           cpu (default) or cuda
  --seed N                initialization, data order, subsets and samples (default 0)
  --threads N             CPU threads (default 0: all cores)
  --width N               ResNet-18 base width (default 8; torchvision's is 64)
  --epochs N              training epochs of every network (default 2)
  --batch-size N          (default 128)
  --lr X                  peak learning rate, cosine schedule (default 0.05)
  --weight-decay X        L2 weight decay (default 5e-4)
  --train-subset N        train on the first N training images (default 5000; 0: all)
  --test-subset N         evaluate on the first N test images (default 300; 0: all)
  --angle-step DEG        rotations 0, DEG, ..., 180 (default 15)
  --methods LIST          comma list of map, diag_laplace, last_layer, swag, mc_dropout,
                          ensemble, wasserstein, random (default all)
  --laplace-fit N         random training images for the GGN of every Laplace (default 512;
                          the GGN is scaled by train-subset / N)
  --prior RULE            prior precision of every Laplace: evidence (default: maximise each
                          posterior's Laplace evidence over lambda), validation (the lambda of
                          a log grid 1e-1..1e5 with the lowest NLL on held-out training
                          images) or weight-decay (lambda = weight decay x training images,
                          the prior of the L2 penalty)
  --validation N          held-out images for --prior validation: the last N training images,
                          never trained on (default 200)
  --subnetwork S          weights of the Wasserstein and random subnetworks (default 1000)
  --swag-epochs N         SGD epochs from the MAP collecting SWAG moments (default 1)
  --swag-lr X             their constant learning rate (default 0.01)
  --swag-snapshots N      snapshots taken over those epochs (default 20)
  --swag-samples N        Monte Carlo samples of the SWAG predictive (default 10)
  --swag-bn-images N      training images over which each SWAG sample's batch-norm statistics
                          are recomputed (default 1000; 0: keep the end-of-run statistics)
  --dropout P             dropout probability before the final layer (default 0.2)
  --dropout-samples T     stochastic passes of the MC-dropout predictive (default 10)
  --ensemble-size K       deep-ensemble members, the MAP network being the first (default 5)
  --help                  this text
)";
}

Options parse_options(int argc, const char* const* argv) {
    Options o;
    using Setter = std::function<void(std::string_view, std::string_view)>;
    auto integer = [](std::int64_t& field) -> Setter {
        return [&field](auto f, auto v) { field = parse_number<std::int64_t>(f, v); };
    };
    auto real = [](double& field) -> Setter {
        return [&field](auto f, auto v) { field = parse_number<double>(f, v); };
    };
    const std::map<std::string_view, Setter> valued{
        {"--data-dir", [&](auto, auto v) { o.data_dir = v; }},
        {"--out-dir", [&](auto, auto v) { o.out_dir = v; }},
        {"--device", [&](auto, auto v) { o.device = v; }},
        {"--seed", [&](auto f, auto v) { o.seed = parse_number<std::uint64_t>(f, v); }},
        {"--threads", [&](auto f, auto v) { o.threads = parse_number<int>(f, v); }},
        {"--width", integer(o.width)},
        {"--epochs", integer(o.epochs)},
        {"--batch-size", integer(o.batch_size)},
        {"--lr", real(o.lr)},
        {"--weight-decay", real(o.weight_decay)},
        {"--train-subset", integer(o.train_subset)},
        {"--test-subset", integer(o.test_subset)},
        {"--angle-step", real(o.angle_step)},
        {"--methods", [&](auto, auto v) { o.methods = parse_methods(v); }},
        {"--laplace-fit", integer(o.laplace_fit)},
        {"--prior", [&](auto, auto v) { o.prior = v; }},
        {"--validation", integer(o.validation)},
        {"--subnetwork", integer(o.subnetwork)},
        {"--swag-epochs", integer(o.swag_epochs)},
        {"--swag-lr", real(o.swag_lr)},
        {"--swag-snapshots", integer(o.swag_snapshots)},
        {"--swag-samples", integer(o.swag_samples)},
        {"--swag-bn-images", integer(o.swag_bn_images)},
        {"--dropout", real(o.dropout)},
        {"--dropout-samples", integer(o.dropout_samples)},
        {"--ensemble-size", integer(o.ensemble_size)},
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            o.help = true;
        } else if (auto it = valued.find(flag); it != valued.end()) {
            POSTR_CHECK(i + 1 < argc, "rotated_fmnist: ", flag, " needs a value. See --help");
            it->second(flag, argv[++i]);
        } else {
            POSTR_CHECK(false, "rotated_fmnist: unknown flag \"", flag, "\". See --help");
        }
    }
    POSTR_CHECK(o.device == "cpu" || o.device == "cuda",
                "rotated_fmnist: --device must be cpu or cuda: got \"", o.device, "\". See --help");
    POSTR_CHECK(o.prior == "validation" || o.prior == "evidence" || o.prior == "weight-decay",
                "rotated_fmnist: --prior must be validation, evidence or weight-decay: got \"",
                o.prior, "\". See --help");
    POSTR_CHECK(o.width >= 1 && o.epochs >= 1 && o.batch_size >= 1 && o.laplace_fit >= 1 &&
                    o.subnetwork >= 1 && o.swag_epochs >= 1 && o.swag_snapshots >= 2 &&
                    o.swag_samples >= 1 && o.dropout_samples >= 1 && o.ensemble_size >= 1,
                "rotated_fmnist: --width, --epochs, --batch-size, --laplace-fit, --subnetwork, "
                "--swag-epochs, --swag-samples, --dropout-samples and --ensemble-size must be "
                "at least 1 and --swag-snapshots at least 2. See --help");
    POSTR_CHECK(
        o.train_subset >= 0 && o.test_subset >= 0 && o.threads >= 0 && o.swag_bn_images >= 0,
        "rotated_fmnist: --train-subset, --test-subset, --threads and --swag-bn-images "
        "must be non-negative. See --help");
    POSTR_CHECK(o.validation >= 1 || o.prior != "validation",
                "rotated_fmnist: --validation must be at least 1 with --prior validation: got ",
                o.validation, ". See --help");
    POSTR_CHECK(o.lr > 0 && o.weight_decay >= 0 && o.swag_lr > 0,
                "rotated_fmnist: --lr and --swag-lr must be positive and --weight-decay "
                "non-negative: got ",
                o.lr, ", ", o.swag_lr, ", ", o.weight_decay, ". See --help");
    POSTR_CHECK(o.dropout >= 0 && o.dropout < 1,
                "rotated_fmnist: --dropout must be in [0, 1): got ", o.dropout, ". See --help");
    POSTR_CHECK(o.angle_step > 0 && o.angle_step <= 180,
                "rotated_fmnist: --angle-step must be in (0, 180]: got ", o.angle_step,
                ". See --help");
    return o;
}

}  // namespace postr::examples::rotated
