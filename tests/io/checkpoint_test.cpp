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
