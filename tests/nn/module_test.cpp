// The flat ParameterVector contract: shared storage, order and names, collect_grads, dtype
// moves; ResNet-18's parameter count and names; a tiny MLP trained by plain SGD on θ.
#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/layers/sequential.h"
#include "postr/nn/losses.h"

#include "tests/support/test_support.h"

namespace postr::nn {
namespace {

using test::all_close;
using test::random_tensor;

std::shared_ptr<Sequential> mlp(std::int64_t in, std::int64_t hidden, std::int64_t out) {
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
        std::make_shared<Linear>(in, hidden), std::make_shared<ReLU>(),
        std::make_shared<Linear>(hidden, out)});
}

TEST(ParameterVector, ViewsShareTheFlatVector) {
    auto net = mlp(2, 3, 1);
    net->finalize(0);
    ParameterVector& pv = net->parameters();
    EXPECT_EQ(pv.size(), 2 * 3 + 3 + 3 + 1);
    for (const auto& [name, v] : net->named_parameters()) {
        EXPECT_TRUE(v.value().shares_storage_with(pv.theta())) << name;
        EXPECT_TRUE(v.requires_grad()) << name;
    }
    // Layout: weight then bias, layer by layer, at increasing offsets.
    EXPECT_EQ(pv.entries()[1].name, "0.bias");
    EXPECT_EQ(pv.entries()[1].offset, 6);
    EXPECT_EQ(pv.entries()[3].offset, 12);
    const Tensor x = random_tensor({4, 2}, DType::f32, 1);
    const Tensor y0 = (*net)(Var(x)).value();
    Tensor& theta = pv.theta();
    axpy_(theta, 0.5, Tensor::ones({pv.size()}));  // in place: every layer sees it
    EXPECT_FALSE(all_close((*net)(Var(x)).value(), y0, 0, 1e-6));
    axpy_(theta, -0.5, Tensor::ones({pv.size()}));
    EXPECT_TRUE(all_close((*net)(Var(x)).value(), y0, 1e-6, 1e-6));
}

TEST(ParameterVector, CollectGradsEqualsAutodiffGradient) {
    auto net = mlp(3, 4, 2);
    net->finalize(2, DType::f64);
    const Tensor x = random_tensor({5, 3}, DType::f64, 3);
    const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1, 0, 1}, {5});
    std::vector<Var> leaves;
    for (const auto& [name, v] : net->named_parameters()) leaves.push_back(v);
    Var loss = cross_entropy((*net)(Var(x)), labels);
    std::vector<Var> expected = grad({loss}, leaves, {}, true);
    loss.backward();
    ParameterVector& pv = net->parameters();
    pv.collect_grads();
    for (std::size_t i = 0; i < leaves.size(); ++i) {
        const auto& e = pv.entries()[i];
        EXPECT_TRUE(all_close(pv.grad().narrow(0, e.offset, numel(e.shape)).view(e.shape),
                              expected[i].value(), 1e-14, 1e-14))
            << e.name;
        EXPECT_FALSE(leaves[i].grad().defined());  // cleared for the next backward
    }
    // A second backward does not accumulate onto the first.
    (*net)(Var(x));
    cross_entropy((*net)(Var(x)), labels).backward();
    const Tensor g1 = pv.grad().clone();
    pv.collect_grads();
    EXPECT_TRUE(all_close(pv.grad(), g1, 1e-14, 1e-14));
}

TEST(ParameterVector, LoadFlatAndDtypeMoveKeepLayout) {
    auto net = mlp(2, 2, 1);
    net->finalize(4);
    const Tensor theta = net->parameters().theta().clone();
    net->to(DType::f64);
    EXPECT_EQ(net->parameters().theta().dtype(), DType::f64);
    for (const auto& [name, v] : net->named_parameters()) {
        EXPECT_EQ(v.dtype(), DType::f64);
        EXPECT_TRUE(v.value().shares_storage_with(net->parameters().theta()));
    }
    EXPECT_TRUE(all_close(net->parameters().theta(), theta.to(DType::f64), 0, 0));
    net->load_flat(Tensor::zeros({net->num_parameters()}, DType::f64));
    EXPECT_NEAR((*net)(Var(Tensor::ones({1, 2}, DType::f64))).value().item(), 0.0, 0);
    EXPECT_TRUE(
        test::throws_error([&] { net->load_flat(Tensor::zeros({3})); }, {"load_flat", "[3]"}));
}

TEST(Module, ParametersBeforeFinalizeThrow) {
    Linear lin(2, 2);
    EXPECT_EQ(lin.num_parameters(), 6);
    EXPECT_TRUE(test::throws_error([&] { lin(Var(Tensor::zeros({1, 2}))); }, {"finalize"}));
}

TEST(ResNet18, StandardStemParameterCountMatchesTorchvision) {
    // torchvision's count for 10 classes is 11,181,642 with 3 channels; one input channel
    // removes 64·2·7·7 stem weights. Counting needs no finalize (no θ allocated).
    ResNet standard(10, 1, false);
    EXPECT_EQ(standard.num_parameters(), 11181642 - 64 * 2 * 7 * 7);
}

TEST(ResNet18, CifarCountPyTorchNamesAndOrder) {
    auto net = resnet18(10, 3, true);
    EXPECT_EQ(net->num_parameters(), 11173962);
    EXPECT_EQ(net->parameters().size(), 11173962);
    auto params = net->named_parameters();
    EXPECT_EQ(params.front().first, "conv1.weight");
    EXPECT_EQ(params[1].first, "bn1.weight");
    EXPECT_EQ(params[3].first, "layer1.0.conv1.weight");
    EXPECT_EQ(params[params.size() - 2].first, "fc.weight");
    EXPECT_EQ(params.back().first, "fc.bias");
    EXPECT_EQ(params.back().second.shape(), (Shape{10}));
    bool found_downsample = false;
    for (const auto& [name, v] : params)
        if (name == "layer2.0.downsample.0.weight") {
            found_downsample = true;
            EXPECT_EQ(v.shape(), (Shape{128, 64, 1, 1}));
        }
    EXPECT_TRUE(found_downsample);
    auto buffers = net->named_buffers();
    EXPECT_EQ(buffers[0].first, "bn1.running_mean");
    EXPECT_EQ(buffers[2].first, "bn1.num_batches_tracked");
    EXPECT_EQ(buffers[2].second.dtype(), DType::i64);
    bool found_running = false;
    for (const auto& [name, t] : buffers) found_running |= name == "layer1.0.bn1.running_mean";
    EXPECT_TRUE(found_running);
    // torchvision init: conv weights N(0, 2/fan_out), fan_out = 64·3·3 for the stem.
    const Tensor w = params.front().second.value();
    EXPECT_NEAR(std::sqrt(postr::var(w).item()), std::sqrt(2.0 / (64 * 9)), 0.01);
}

TEST(ResNet18, BaseWidthScalesEveryStage) {
    // Width 16: stem 1·16·9, BN pairs 2·(16+32+64+128)·2 ... counted by hand from torchvision's
    // layout with every channel count divided by 4.
    ResNet narrow(10, 1, true, 16);
    auto count_conv = [](std::int64_t o, std::int64_t i, std::int64_t k) { return o * i * k * k; };
    std::int64_t expected = count_conv(16, 1, 3) + 2 * 16;  // stem conv + bn1
    std::int64_t in = 16;
    for (std::int64_t w : {16, 32, 64, 128}) {
        // Block 0 (with a 1×1 downsample when the width changes), then block 1.
        expected += count_conv(w, in, 3) + 2 * w + count_conv(w, w, 3) + 2 * w;
        if (w != in) expected += count_conv(w, in, 1) + 2 * w;
        expected += 2 * (count_conv(w, w, 3) + 2 * w);
        in = w;
    }
    expected += 128 * 10 + 10;
    EXPECT_EQ(narrow.num_parameters(), expected);
    EXPECT_TRUE(test::throws_error([] { ResNet(10, 1, true, 0); }, {"base_width 0"}));
}

TEST(ResNet18, ForwardOnOneCifarImage) {
    auto net = resnet18(10, 3, true, 1);
    net->eval();
    NoGradGuard no_grad;
    Tensor logits = (*net)(Var(random_tensor({1, 3, 32, 32}, DType::f32, 5))).value();
    EXPECT_EQ(logits.shape(), (Shape{1, 10}));
    EXPECT_TRUE(all_finite(logits));
}

TEST(Training, TinyMlpSeparatesTwoBlobs) {
    // Two Gaussian blobs at (±2, ±2); SGD on θ directly: θ ← θ − lr·g.
    const std::int64_t n = 64;
    Generator gen(0);
    Tensor x = normal({n, 2}, gen, 0.0, 0.5);
    std::vector<std::int64_t> y(n);
    Tensor shift = Tensor::zeros({n, 2});
    for (std::int64_t i = 0; i < n; ++i) {
        y[static_cast<std::size_t>(i)] = i % 2;
        shift[i].fill_(i % 2 ? 2.0 : -2.0);
    }
    x = postr::add(x, shift);
    const Tensor labels = Tensor::from_vector(y, {n});
    auto net = mlp(2, 16, 2);
    net->finalize(7);
    ParameterVector& pv = net->parameters();
    for (int step = 0; step < 300; ++step) {
        cross_entropy((*net)(Var(x)), labels).backward();
        pv.collect_grads();
        axpy_(pv.theta(), -0.1, pv.grad());
    }
    const Tensor pred = argmax((*net)(Var(x)).value(), 1);
    EXPECT_EQ(postr::sum(eq(pred, labels)).item<std::int64_t>(), n);
}

}  // namespace
}  // namespace postr::nn
