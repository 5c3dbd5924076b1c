// Command-line options of the rotated Fashion-MNIST experiment, with the defaults its README
// reports: a narrow ResNet-18 (base width 8) trained for 2 epochs on 5,000 training images,
// evaluated on 300 test images rotated by 0°, 15°, …, 180°; the whole run takes about four
// minutes on two idle CPU cores.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace postr::examples::rotated {

// The methods the experiment compares, in the order of the table and the plot.
inline const std::vector<std::string>& all_methods() {
    static const std::vector<std::string> names{"map",         "diag_laplace", "last_layer",
                                                "swag",        "mc_dropout",   "ensemble",
                                                "wasserstein", "random"};
    return names;
}

struct Options {
    std::string data_dir;  // default: Debian's package dir for Fashion-MNIST
    std::string out_dir = "rotated_fmnist_out";
    std::string device = "cpu";  // or "cuda"
    std::uint64_t seed = 0;
    int threads = 0;  // CPU threads (0: all cores)
    // The networks (MAP, ensemble members, the dropout network): SGD + momentum, cosine LR.
    std::int64_t width = 8;  // ResNet-18 base width (torchvision: 64)
    std::int64_t epochs = 2;
    std::int64_t batch_size = 128;
    double lr = 0.05;
    double momentum = 0.9;
    double weight_decay = 5e-4;
    std::int64_t train_subset = 5000;  // first N training images (0: all 60,000)
    std::int64_t test_subset = 300;    // first N test images (0: all 10,000)
    double angle_step = 15;            // test rotations 0, step, …, 180 degrees
    std::vector<std::string> methods = all_methods();
    // Laplace methods.
    std::int64_t laplace_fit = 512;  // random training images for the GGN (scaled up to N)
    // evidence | validation | weight-decay: the rule for λ, the same for every Laplace.
    std::string prior = "evidence";
    std::int64_t validation =
        200;  // held-out training images (the last ones) for --prior validation
    std::int64_t subnetwork = 1000;  // S of the Wasserstein and random subnetworks
    // SWAG: extra SGD epochs at a constant LR from the MAP, diagonal, Monte Carlo predictive.
    std::int64_t swag_epochs = 1;
    double swag_lr = 0.01;
    std::int64_t swag_snapshots = 20;
    std::int64_t swag_samples = 10;
    // Training images over which each sample's batch-norm statistics are recomputed (0: keep
    // the statistics from the end of the SWAG run).
    std::int64_t swag_bn_images = 1000;
    // MC dropout: dropout with probability p before the final layer; T passes.
    double dropout = 0.2;
    std::int64_t dropout_samples = 10;
    // Deep ensemble.
    std::int64_t ensemble_size = 5;
    bool help = false;

    bool runs(const std::string& method) const;
};

// Parses argv (flags as --name value, --help). Throws postr::Error naming the flag and what is
// wrong.
Options parse_options(int argc, const char* const* argv);
std::string usage();

}  // namespace postr::examples::rotated
