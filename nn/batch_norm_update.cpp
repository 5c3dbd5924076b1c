#include "postr/nn/batch_norm_update.h"

#include <vector>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/nn/layers/batch_norm2d.h"

namespace postr::nn {
namespace {

void collect_batch_norms(Module& module, std::vector<BatchNorm2d*>& out) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&module)) out.push_back(bn);
    for (const auto& [name, child] : module.children()) collect_batch_norms(*child, out);
}

}  // namespace

void update_batch_norm_statistics(Module& model, std::int64_t num_batches,
                                  const std::function<Tensor(std::int64_t)>& batch) {
    POSTR_CHECK(num_batches >= 1, "update_batch_norm_statistics: needs at least one batch: got ",
                num_batches, ". Pass batches of training inputs");
    std::vector<BatchNorm2d*> layers;
    collect_batch_norms(model, layers);
    if (layers.empty()) return;
    // Restores the layers' momenta and the model's mode however the pass ends.
    struct Restore {
        Module& model;
        const std::vector<BatchNorm2d*>& layers;
        std::vector<double> momenta;
        bool was_training;
        ~Restore() {
            for (std::size_t i = 0; i < layers.size(); ++i) layers[i]->set_momentum(momenta[i]);
            model.train(was_training);
        }
    } restore{model, layers, {}, model.is_training()};
    for (BatchNorm2d* bn : layers) {
        restore.momenta.push_back(bn->momentum());
        bn->reset_running_statistics();
    }
    model.train();
    NoGradGuard no_graph;
    for (std::int64_t k = 0; k < num_batches; ++k) {
        for (BatchNorm2d* bn : layers) bn->set_momentum(1.0 / static_cast<double>(k + 1));
        model(Var(batch(k)));
    }
}

}  // namespace postr::nn
