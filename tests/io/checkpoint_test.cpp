// Module checkpoints: a bitwise round trip through a file under PyTorch names, and clear errors
// (before anything changes) for a file from another architecture.
#include "postr/io/checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "postr/io/safetensors.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/losses.h"
#include "postr/nn/optim/sgd.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

std::unique_ptr<nn::Sequential> small_net(std::int64_t classes, std::uint64_t seed) {
    auto net = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(1, 2, 3), std::make_shared<nn::BatchNorm2d>(2),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(2 * 3 * 3, classes)});
    net->finalize(seed);
    return net;
}

std::string temp_path(const char* name) {
    return (std::filesystem::temp_directory_path() / name).string();
}

TEST(Checkpoint, RoundTripIsBitwiseUnderPyTorchNames) {
    auto a = small_net(4, 1);
    // Move the batch-norm statistics off their initial values.
    Tensor x = test::random_tensor({3, 1, 5, 5}, DType::f32, 2);
    (*a)(Var(x));
    const std::string path = temp_path("postr_checkpoint_roundtrip.safetensors");
    io::save_checkpoint(path, *a, {{"epoch", "3"}});

    io::SafetensorsFile raw = io::load_safetensors(path);
    std::vector<std::string> names;
    for (const auto& [name, t] : raw.tensors) names.push_back(name);
    EXPECT_NE(std::find(names.begin(), names.end(), "0.weight"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "1.running_mean"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "1.num_batches_tracked"), names.end());

    auto b = small_net(4, 99);
    EXPECT_FALSE(test::all_close(b->parameters().theta(), a->parameters().theta(), 0, 0));
    auto metadata = io::load_checkpoint(path, *b);
    EXPECT_EQ(metadata.at("epoch"), "3");
    EXPECT_TRUE(test::all_close(b->parameters().theta(), a->parameters().theta(), 0, 0));
    auto buffers_a = a->named_buffers(), buffers_b = b->named_buffers();
    for (std::size_t i = 0; i < buffers_a.size(); ++i)
        EXPECT_TRUE(test::all_close(buffers_b[i].second, buffers_a[i].second, 0, 0))
            << buffers_a[i].first;
    b->eval();
    a->eval();
    EXPECT_TRUE(test::all_close((*b)(Var(x)).value(), (*a)(Var(x)).value(), 0, 0));
    std::remove(path.c_str());
}

TEST(Checkpoint, AnotherArchitectureIsRefusedAndLeavesTheModelAlone) {
    auto a = small_net(4, 1);
    const std::string path = temp_path("postr_checkpoint_mismatch.safetensors");
    io::save_checkpoint(path, *a);
    auto b = small_net(5, 2);
    Tensor before = b->parameters().theta().clone();
    EXPECT_TRUE(test::throws_error([&] { io::load_checkpoint(path, *b); },
                                   {"load_checkpoint", "4.weight", "[4, 18]", "[5, 18]"}));
    EXPECT_TRUE(test::all_close(b->parameters().theta(), before, 0, 0));
    std::remove(path.c_str());
}

}  // namespace
}  // namespace postr

namespace postr {
namespace {

TEST(TrainingCheckpoint, ResumedSgdTakesTheSameStepsAsAnUninterruptedRun) {
    // Two SGD-with-momentum steps in one go, against one step, save, load into a fresh model
    // and optimizer, one more step: θ must agree bitwise (same kernels, same inputs).
    Tensor x = test::random_tensor({3, 1, 5, 5}, DType::f32, 4);
    Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 2, 1}, {3});
    SgdOptions options;
    options.lr = 0.1;
    options.momentum = 0.9;
    auto train_step = [&](nn::Sequential& net, nn::Sgd& sgd) {
        Var loss = nn::cross_entropy(net(Var(x)), labels);
        loss.backward();
        net.parameters().collect_grads();
        sgd.step(net.parameters().grad());
    };
    auto straight = small_net(4, 1);
    nn::Sgd sgd_straight(straight->parameters().theta(), options);
    train_step(*straight, sgd_straight);
    train_step(*straight, sgd_straight);

    auto first = small_net(4, 1);
    nn::Sgd sgd_first(first->parameters().theta(), options);
    train_step(*first, sgd_first);
    const std::string path = temp_path("postr_training_checkpoint.safetensors");
    io::save_training_checkpoint(path, *first, sgd_first.state(), {{"epoch", "1"}});

    auto resumed = small_net(4, 7);
    nn::Sgd sgd_resumed(resumed->parameters().theta(), options);
    io::TrainingCheckpoint saved = io::load_training_checkpoint(path, *resumed);
    EXPECT_EQ(saved.metadata.at("epoch"), "1");
    sgd_resumed.load_state(saved.optimizer);
    EXPECT_EQ(sgd_resumed.step_count(), 1);
    train_step(*resumed, sgd_resumed);
    EXPECT_TRUE(
        test::all_close(resumed->parameters().theta(), straight->parameters().theta(), 0, 0));

    // The same file still loads as a plain model checkpoint; a model checkpoint is refused as
    // a training one, saying what to do.
    auto plain = small_net(4, 9);
    io::load_checkpoint(path, *plain);
    EXPECT_TRUE(test::all_close(plain->parameters().theta(), first->parameters().theta(), 0, 0));
    io::save_checkpoint(path, *first);
    EXPECT_TRUE(test::throws_error([&] { io::load_training_checkpoint(path, *plain); },
                                   {"no optimizer state"}));
    std::remove(path.c_str());
}

TEST(Checkpoint, SectionsRoundTripAndStayModelCheckpoints) {
    auto net = small_net(4, 1);
    const std::string path = temp_path("postr_section_checkpoint.safetensors");
    const io::NamedTensors extra{
        {"index", Tensor::from_vector(std::vector<std::int64_t>{3, 1}, {2})},
        {"matrix", Tensor::ones({2, 2}, DType::f64)}};
    io::save_checkpoint_with_section(path, *net, "posterior", extra, {{"kind", "test"}});

    auto other = small_net(4, 5);
    const io::CheckpointSection loaded =
        io::load_checkpoint_with_section(path, *other, "posterior");
    EXPECT_EQ(loaded.metadata.at("kind"), "test");
    ASSERT_EQ(loaded.entries.size(), 2u);
    EXPECT_EQ(loaded.entries[0].first, "index");
    EXPECT_EQ(loaded.entries[0].second.to_vector<std::int64_t>(),
              (std::vector<std::int64_t>{3, 1}));
    EXPECT_TRUE(test::all_close(other->parameters().theta(), net->parameters().theta(), 0, 0));

    // Still a model checkpoint; not an optimizer one; unknown sections are refused.
    auto plain = small_net(4, 9);
    io::load_checkpoint(path, *plain);
    EXPECT_TRUE(test::all_close(plain->parameters().theta(), net->parameters().theta(), 0, 0));
    EXPECT_TRUE(test::throws_error([&] { io::load_training_checkpoint(path, *plain); },
                                   {"no \"optimizer.*\" entries", "no optimizer state"}));
    EXPECT_TRUE(
        test::throws_error([&] { io::save_checkpoint_with_section(path, *net, "extras", extra); },
                           {"unknown checkpoint section \"extras\""}));
    std::remove(path.c_str());
}

}  // namespace
}  // namespace postr
