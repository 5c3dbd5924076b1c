#include "examples/rotated_fmnist/swag_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/inference/log_posterior.h"
#include "postr/kernels/ops.h"
#include "postr/nn/batch_norm_update.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/sgd.h"

namespace postr::examples::rotated {

Tensor SwagPosterior::variances() const {
    return mul(inference::swag::variance(state), transform.config().scale);
}

void SwagPosterior::draw(nn::Module& model, std::int64_t samples, std::uint64_t seed,
                         const BatchNormRefresh* refresh) {
    const ModelState map = save_state(model);
    Generator gen(seed);
    const Tensor thetas = transform.sample(state, samples, gen);
    drawn.clear();
    for (std::int64_t s = 0; s < samples; ++s) {
        load_state(model, {thetas.select(0, s), buffers});
        if (refresh) {
            const io::DataLoader loader = make_loader(refresh->data, refresh->normalization,
                                                      refresh->batch_size, true, seed + 1 + s);
            nn::update_batch_norm_statistics(model, loader.num_batches(), [&](std::int64_t b) {
                return loader.batch(0, b).images.to(refresh->device);
            });
        }
        drawn.push_back(save_state(model));
    }
    load_state(model, map);
}

Tensor SwagPosterior::predict(nn::Module& model, const Tensor& x) const {
    POSTR_CHECK(!drawn.empty(), "rotated_fmnist: SWAG predict before draw");
    const ModelState map = save_state(model);
    Tensor sum;
    for (const ModelState& sample : drawn) {
        load_state(model, sample);
        const Tensor probs = predict_softmax(model, x);
        if (sum.defined())
            axpy_(sum, 1.0, probs);
        else
            sum = probs.clone();
    }
    load_state(model, map);
    scale_(sum, 1.0 / static_cast<double>(drawn.size()));
    return sum;
}

SwagPosterior fit_swag(nn::Module& model, const io::ImageDataset& data,
                       const Normalization& normalization, const SwagSettings& s, Device device) {
    const ModelState map = save_state(model);
    const io::DataLoader loader = make_loader(data, normalization, s.batch_size, true, s.seed);
    const std::int64_t steps = loader.num_batches() * s.epochs;
    const std::int64_t every = std::max<std::int64_t>(steps / s.snapshots, 1);

    inference::swag::Config config;
    config.lr = s.lr;
    config.momentum = s.momentum;
    config.weight_decay = s.weight_decay;
    config.rank = 0;  // diagonal SWAG
    // The SGD steps below are the model's own (training-mode batch norm); the transform only
    // collects their iterates, so its log-posterior is never called.
    auto transform = inference::swag::build(
        [](const Var&, const inference::Batch&) -> Var {
            POSTR_CHECK(false, "rotated_fmnist: SWAG's log-posterior is not used");
            return Var();
        },
        config);
    inference::swag::State state = transform.init(model.parameters().theta());

    SgdOptions sgd_options;
    sgd_options.lr = s.lr;
    sgd_options.momentum = s.momentum;
    sgd_options.weight_decay = s.weight_decay;
    nn::Sgd sgd(model.parameters().theta(), sgd_options);
    model.train();
    std::int64_t step = 0;
    for (std::int64_t epoch = 0; epoch < s.epochs; ++epoch) {
        double loss_sum = 0;
        for (std::int64_t b = 0; b < loader.num_batches(); ++b, ++step) {
            const io::Batch batch = loader.batch(epoch, b);
            Var loss =
                nn::cross_entropy(model(Var(batch.images.to(device))), batch.labels.to(device));
            const double value = loss.value().item();
            POSTR_CHECK(std::isfinite(value), "rotated_fmnist: SWAG: the loss became ", value,
                        " at step ", step, ". Lower --swag-lr");
            loss.backward();
            model.parameters().collect_grads();
            sgd.step(model.parameters().grad());
            loss_sum += value;
            if ((step + 1) % every == 0 && state.num_snapshots < s.snapshots)
                transform.collect(state, model.parameters().theta());
        }
        std::printf("  SWAG: epoch %lld/%lld at lr %g, train loss %.4f, %lld snapshots\n",
                    static_cast<long long>(epoch + 1), static_cast<long long>(s.epochs), s.lr,
                    loss_sum / static_cast<double>(loader.num_batches()),
                    static_cast<long long>(state.num_snapshots));
    }
    model.eval();
    SwagPosterior posterior{transform, state, save_state(model).buffers, {}};
    load_state(model, map);
    return posterior;
}

}  // namespace postr::examples::rotated
