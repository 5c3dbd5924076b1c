// Subnetwork selection rules: known answers on small inputs, θ-ordered output, determinism of
// the random rule, and clear errors.
#include "postr/nn/curvature/subnetwork.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/resnet.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

std::vector<std::int64_t> values(const Tensor& t) { return t.to_vector<std::int64_t>(); }

TEST(SelectLargestVariance, PicksTheLargestInThetaOrder) {
    Tensor var = Tensor::from_vector(std::vector<double>{0.1, 5.0, 0.2, 3.0, 0.0, 4.0}, {6});
    EXPECT_EQ(values(nn::select_largest_variance(var, 3)), (std::vector<std::int64_t>{1, 3, 5}));
    EXPECT_EQ(values(nn::select_largest_variance(var, 6)),
              (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_TRUE(test::throws_error([&] { nn::select_largest_variance(var, 7); },
                                   {"select_largest_variance", "[1, D = 6]", "got 7"}));
    Tensor negative = Tensor::from_vector(std::vector<double>{0.1, -1.0}, {2});
    EXPECT_TRUE(
        test::throws_error([&] { nn::select_largest_variance(negative, 1); }, {"non-negative"}));
    Tensor nan = Tensor::from_vector(std::vector<double>{0.1, std::nan("")}, {2});
    EXPECT_TRUE(test::throws_error([&] { nn::select_largest_variance(nan, 1); }, {"non-finite"}));
}

TEST(SelectLargestCurvature, PicksTheLargestGgnEntries) {
    Tensor diag = Tensor::from_vector(std::vector<double>{0.0, 7.0, 0.5, 9.0}, {4});
    EXPECT_EQ(values(nn::select_largest_curvature(diag, 2)), (std::vector<std::int64_t>{1, 3}));
    Tensor negative = Tensor::from_vector(std::vector<double>{1.0, -0.5}, {2});
    EXPECT_TRUE(
        test::throws_error([&] { nn::select_largest_curvature(negative, 1); }, {"non-negative"}));
}

TEST(SelectLargestMagnitude, UsesAbsoluteValues) {
    Tensor theta = Tensor::from_vector(std::vector<float>{-3.f, 1.f, 2.f, -0.5f}, {4});
    EXPECT_EQ(values(nn::select_largest_magnitude(theta, 2)), (std::vector<std::int64_t>{0, 2}));
}

TEST(SelectRandom, DistinctSortedReproducibleAndRoughlyUniform) {
    const Tensor a = nn::select_random(1000, 100, 7);
    const auto v = values(a);
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    EXPECT_EQ(std::set<std::int64_t>(v.begin(), v.end()).size(), 100u);
    EXPECT_EQ(values(nn::select_random(1000, 100, 7)), v);
    EXPECT_NE(values(nn::select_random(1000, 100, 8)), v);
    // Over 200 draws of 100 from 1000 each index is picked 20 times on average; every one of
    // ten blocks of 100 indices should get close to 2,000 picks (binomial sd ≈ 42 → ±300 is
    // > 7 sd: never fails by chance, but fails for a biased rule).
    std::vector<int> per_block(10, 0);
    for (std::uint64_t seed = 0; seed < 200; ++seed)
        for (auto i : values(nn::select_random(1000, 100, seed))) ++per_block[i / 100];
    for (int count : per_block) EXPECT_NEAR(count, 2000, 300);
}

TEST(SelectLastLayer, CoversExactlyTheFinalLinear) {
    nn::Sequential mlp({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(4, 2)});
    mlp.finalize();
    const auto v = values(nn::select_last_layer(mlp));
    ASSERT_EQ(v.size(), 10u);  // 4·2 weights + 2 biases
    EXPECT_EQ(v.front(), 16);  // after 3·4 + 4
    EXPECT_EQ(v.back(), 25);
    auto net = nn::resnet18(10, 3, true, 0, DType::f32, Device::cpu(), 8);
    EXPECT_EQ(nn::select_last_layer(*net).numel(), 64 * 10 + 10);
}

// Conv2d(1, 2, 3) → BatchNorm2d(2) → Flatten → Linear(8, 3). θ: conv weight 0-17, conv bias
// 18-19, BN weight 20-21, BN bias 22-23, linear weight 24-47, linear bias 48-50.
std::unique_ptr<nn::Sequential> small_cnn() {
    auto net = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(1, 2, 3), std::make_shared<nn::BatchNorm2d>(2),
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(8, 3)});
    net->finalize(0, DType::f64);
    return net;
}

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> v;
    for (std::int64_t i = begin; i < end; ++i) v.push_back(i);
    return v;
}

std::vector<std::int64_t> joined(std::vector<std::vector<std::int64_t>> parts) {
    std::vector<std::int64_t> v;
    for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
    return v;
}

TEST(CandidateParameters, ExcludesBiasesAndNormalizationOnRequest) {
    auto net = small_cnn();
    ASSERT_EQ(net->num_parameters(), 51);
    auto positions = [&](bool biases, bool normalization) {
        return nn::candidate_parameters(*net, {.biases = biases, .normalization = normalization})
            .to_vector<std::int64_t>();
    };
    EXPECT_EQ(positions(false, false), joined({range(0, 18), range(24, 48)}));
    EXPECT_EQ(positions(true, false), joined({range(0, 20), range(24, 51)}));
    EXPECT_EQ(positions(false, true), joined({range(0, 18), range(20, 48)}));
    EXPECT_EQ(positions(true, true), range(0, 51));

    // A rule over candidates maps back to θ positions, ascending.
    const Tensor candidates = nn::candidate_parameters(*net, {false, false});
    const Tensor chosen = Tensor::from_vector(std::vector<std::int64_t>{20, 1}, {2});
    EXPECT_EQ(nn::select_within(candidates, chosen).to_vector<std::int64_t>(),
              (std::vector<std::int64_t>{1, 26}));
}

TEST(GroupByLayer, NumbersSelectedLayersInThetaOrder) {
    auto net = small_cnn();
    const Tensor index = Tensor::from_vector(std::vector<std::int64_t>{50, 0, 21, 30, 19}, {5});
    const nn::SubnetworkGroups groups = nn::group_by_layer(*net, index);
    EXPECT_EQ(groups.names, (std::vector<std::string>{"0", "1", "3"}));
    EXPECT_EQ(groups.group.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 0, 1, 2, 0}));
    // Only layers with a selected weight get a group.
    const nn::SubnetworkGroups last =
        nn::group_by_layer(*net, Tensor::from_vector(std::vector<std::int64_t>{48, 24}, {2}));
    EXPECT_EQ(last.names, (std::vector<std::string>{"3"}));
    EXPECT_EQ(last.group.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0}));
    EXPECT_TRUE(test::throws_error(
        [&] { nn::group_by_layer(*net, Tensor::from_vector(std::vector<std::int64_t>{51}, {1})); },
        {"group_by_layer", "outside θ", "D = 51"}));
}

}  // namespace
}  // namespace postr
