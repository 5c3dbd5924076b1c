#include "examples/rotated_fmnist/training.h"

#include <cmath>
#include <cstdio>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/inference/linearized_predictive.h"
#include "postr/kernels/ops.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/lr_schedule.h"
#include "postr/nn/optim/sgd.h"

namespace postr::examples::rotated {

io::DataLoader make_loader(const io::ImageDataset& data, const Normalization& normalization,
                           std::int64_t batch_size, bool shuffle, std::uint64_t seed) {
    io::DataLoaderOptions o;
    o.batch_size = batch_size;
    o.shuffle = shuffle;
    o.seed = seed;
    o.mean = normalization.mean;
    o.std = normalization.std;
    return io::DataLoader(data, o);
}

double train(nn::Module& model, const io::ImageDataset& data, const Normalization& normalization,
             const TrainSettings& s, Device device, const std::string& name) {
    const io::DataLoader loader = make_loader(data, normalization, s.batch_size, true, s.seed);
    SgdOptions sgd_options;
    sgd_options.lr = s.lr;
    sgd_options.momentum = s.momentum;
    sgd_options.weight_decay = s.weight_decay;
    nn::Sgd sgd(model.parameters().theta(), sgd_options);
    const std::int64_t steps_per_epoch = loader.num_batches();
    const nn::CosineAnnealing schedule(s.lr, std::max<std::int64_t>(steps_per_epoch * s.epochs, 1));
    model.train();
    double epoch_loss = 0;
    std::int64_t step = 0;
    for (std::int64_t epoch = 0; epoch < s.epochs; ++epoch) {
        double loss_sum = 0;
        for (std::int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
            const io::Batch batch = loader.batch(epoch, b);
            sgd.set_lr(schedule(step));
            Var loss =
                nn::cross_entropy(model(Var(batch.images.to(device))), batch.labels.to(device));
            const double value = loss.value().item();
            POSTR_CHECK(std::isfinite(value), "rotated_fmnist: training ", name,
                        ": the loss became ", value, " at step ", step, ". Lower --lr");
            loss.backward();
            model.parameters().collect_grads();
            sgd.step(model.parameters().grad());
            loss_sum += value;
        }
        epoch_loss = loss_sum / static_cast<double>(steps_per_epoch);
        std::printf("  %s: epoch %lld/%lld, train loss %.4f\n", name.c_str(),
                    static_cast<long long>(epoch + 1), static_cast<long long>(s.epochs),
                    epoch_loss);
        std::fflush(stdout);
    }
    model.eval();
    return epoch_loss;
}

ModelState save_state(const nn::Module& model) {
    ModelState state;
    state.theta = model.parameters().theta().clone();
    for (const auto& [name, buffer] : model.named_buffers())
        state.buffers.push_back(buffer.clone());
    return state;
}

void load_state(nn::Module& model, const ModelState& state) {
    model.load_flat(state.theta);
    auto buffers = model.named_buffers();
    POSTR_CHECK(buffers.size() == state.buffers.size(),
                "rotated_fmnist: load_state: the model has ", buffers.size(),
                " buffers, the saved state ", state.buffers.size(),
                ". Load a state saved from the same architecture");
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_(state.buffers[i]);
}

Tensor predict_softmax(nn::Module& model, const Tensor& x, std::int64_t chunk) {
    std::vector<Tensor> parts;
    inference::for_each_chunk(x, chunk, [&](const Tensor& xc) {
        parts.push_back(softmax(inference::map_outputs(model, xc), 1));
    });
    return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

}  // namespace postr::examples::rotated
