// Command-line options of the ResNet-18 example, with the defaults the README's main command
// runs: a narrow ResNet-18 (base width 8) trained for two epochs on Fashion-MNIST, a few
// minutes on two CPU cores.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace postr::examples {

struct TrainOptions {
    std::string dataset = "fashion-mnist";  // or "cifar10"
    std::string data_dir;                   // default: Debian's package dir for Fashion-MNIST
    std::string device = "cpu";             // or "cuda"
    std::int64_t epochs = 2;
    std::int64_t batch_size = 128;
    double lr = 0.05;
    double momentum = 0.9;
    double weight_decay = 5e-4;
    std::string schedule = "cosine";  // cosine | step | constant, over the whole run
    std::int64_t warmup_steps = 0;
    std::int64_t width = 8;             // base width; torchvision's ResNet-18 is 64
    std::int64_t train_subset = 0;      // use the first N training images (0: all)
    std::int64_t test_subset = 0;       // evaluate on the first N test images (0: all)
    bool augment = false;               // random crop (padding 4 on 32×32, 2 on 28×28) + flip
    double time_budget_s = 0;           // stop training after this many seconds (0: no limit)
    std::int64_t stop_after_steps = 0;  // stop after this many steps in total (0: no limit)
    std::uint64_t seed = 0;
    int threads = 0;         // CPU threads (0: all cores)
    std::string checkpoint;  // written after each epoch and when stopping early
    bool resume = false;     // continue from `checkpoint`
    std::string metrics;     // JSON lines, one per epoch (empty: none)
    // The posterior after training (examples/resnet18/posterior.h).
    std::int64_t subnetwork = 1000;     // S (0: no posterior)
    bool wasserstein = false;           // selection rule (default: largest curvature)
    bool tune_prior = false;            // maximise the subnetwork evidence over the prior precision
    bool weights_only = false;          // no biases or batch-norm parameters in the subnetwork
    std::string save_posterior;         // where to save the fitted posterior ("": not saved)
    std::int64_t posterior_fit = 2048;  // training images for the curvature
    std::int64_t posterior_test = 2000;  // test images for the comparison (0: all)
    double prior_precision = 0;          // 0: weight decay × training-set size
    double rotation = 45;                // degrees, the shifted test set
    bool help = false;
};

// Parses argv (flags as --name value, booleans as --name). Throws postr::Error naming the
// flag and what is wrong; the message ends with a pointer to --help.
TrainOptions parse_options(int argc, const char* const* argv);
std::string usage();

// The settings a resumed run must share with the run that wrote the checkpoint (they decide
// the architecture, the data order and the learning-rate path), as checkpoint metadata.
std::map<std::string, std::string> run_identity(const TrainOptions& options);

}  // namespace postr::examples
