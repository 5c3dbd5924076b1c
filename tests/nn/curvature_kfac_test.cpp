// Kronecker-factored curvature (nn/curvature/kfac.h) against the dense GGN / Fisher of
// DenseCurvature where the Kronecker structure is exact (one sample and one output position:
// the block is (Σ_k g_k g_kᵀ) ⊗ (a aᵀ) exactly), and against hand-computed factors where it
// is an approximation. f64 throughout; the roads differ only in summation order, so exact
// cases agree to 1e-10 relative.
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/kfac.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using nn::CurvatureOptions;
using nn::CurvatureType;
using nn::KroneckerCurvature;
using nn::KroneckerFactors;
using nn::Likelihood;
using nn::Module;
using nn::Sequential;
using ModulePtr = std::shared_ptr<Module>;

constexpr double kRelTol = 1e-10;

double max_abs(const Tensor& t) { return max(abs(t)).item(); }

// |a − b| ≤ 1e-10 · max|b| elementwise (plus a floor for all-zero blocks).
::testing::AssertionResult close(const Tensor& a, const Tensor& b) {
    return test::all_close(a, b, 0.0, kRelTol * std::max(max_abs(b), 1e-30));
}

// Every Kronecker block of `kfac` against the same θ range of the dense matrix.
void expect_blocks_match_dense(const KroneckerCurvature& kfac, const Tensor& dense) {
    for (const KroneckerFactors& f : kfac.factors()) {
        SCOPED_TRACE(testing::Message() << "layer at offset " << f.offset);
        const Tensor want = dense.narrow(0, f.offset, f.size).narrow(1, f.offset, f.size);
        EXPECT_TRUE(close(f.dense_block(), want));
    }
}

std::unique_ptr<Sequential> single_linear(std::int64_t in, std::int64_t out, bool bias,
                                          std::uint64_t seed) {
    auto net = std::make_unique<Sequential>(
        std::vector<ModulePtr>{std::make_shared<nn::Linear>(in, out, bias)});
    net->finalize(0, DType::f64);
    test::randomize_for_curvature(*net, seed);
    return net;
}

CurvatureOptions options_for(CurvatureType type, Likelihood likelihood) {
    CurvatureOptions o;
    o.type = type;
    o.likelihood = likelihood;
    o.seed = 17;
    return o;
}

TEST(KroneckerProduct, MatchesDefinition) {
    const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor b = Tensor::from_vector(std::vector<double>{7, 8}, {2, 1});
    const std::vector<double> k = nn::kronecker_product(a, b).to_vector<double>();
    // [[1·b, 2·b, 3·b], [4·b, 5·b, 6·b]] with b a column: [4, 3].
    EXPECT_EQ(k, (std::vector<double>{7, 14, 21, 8, 16, 24, 28, 35, 42, 32, 40, 48}));
    EXPECT_EQ(nn::kronecker_product(a, b).shape(), (Shape{4, 3}));
}

// One sample: every layer's block of the MLP (with and without bias) is exactly G ⊗ A, for
// the exact GGN (categorical and Gaussian), the Monte Carlo GGN (same seed, same draws as
// DenseCurvature) and the empirical Fisher.
TEST(KroneckerCurvature, OneSampleEqualsDenseBlocks) {
    auto model = test::curvature_mlp(4, 3, 1);
    const Tensor x = test::random_tensor({1, 4}, DType::f64, 2);
    const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{2}, {1});
    const Tensor y = test::random_tensor({1, 3}, DType::f64, 3);
    struct Case {
        CurvatureType type;
        Likelihood likelihood;
        Tensor targets;
    };
    for (const Case& c : {Case{CurvatureType::ggn, Likelihood::categorical(), Tensor()},
                          Case{CurvatureType::ggn, Likelihood::gaussian(0.7), Tensor()},
                          Case{CurvatureType::ggn_monte_carlo, Likelihood::categorical(), Tensor()},
                          Case{CurvatureType::empirical_fisher, Likelihood::categorical(), labels},
                          Case{CurvatureType::empirical_fisher, Likelihood::gaussian(0.7), y}}) {
        SCOPED_TRACE(testing::Message() << "type " << static_cast<int>(c.type) << " likelihood "
                                        << static_cast<int>(c.likelihood.kind));
        const CurvatureOptions o = options_for(c.type, c.likelihood);
        KroneckerCurvature kfac(*model, o);
        kfac.accumulate(x, c.targets);
        nn::DenseCurvature dense(*model, o);
        dense.accumulate(x, c.targets);
        ASSERT_EQ(kfac.factors().size(), 3u);
        EXPECT_TRUE(kfac.diagonal_blocks().empty());
        expect_blocks_match_dense(kfac, dense.matrix());
    }
}

// θ order: a single Linear with a bias, one sample, one output. The dense block must match
// entry by entry, including the weight/bias interleaving (θ = vec_row(W), then b).
TEST(KroneckerCurvature, LinearBlockFollowsThetaOrder) {
    for (bool bias : {true, false}) {
        SCOPED_TRACE(testing::Message() << "bias " << bias);
        auto model = single_linear(3, 2, bias, 5);
        const Tensor x = test::random_tensor({1, 3}, DType::f64, 6);
        KroneckerCurvature kfac(*model);
        kfac.accumulate(x);
        nn::DenseCurvature dense(*model);
        dense.accumulate(x);
        const std::vector<KroneckerFactors> f = kfac.factors();
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].offset, 0);
        EXPECT_EQ(f[0].size, model->num_parameters());
        EXPECT_EQ(f[0].out_features, 2);
        EXPECT_EQ(f[0].in_features, 3);
        EXPECT_EQ(f[0].a.shape(), (Shape{bias ? 4 : 3, bias ? 4 : 3}));
        EXPECT_TRUE(close(f[0].dense_block(), dense.matrix()));
        // to_matrix / from_matrix round-trip θ, and put the bias in the last column.
        const Tensor theta = model->parameters().theta();
        const Tensor m = f[0].to_matrix(theta);
        EXPECT_TRUE(test::all_close(f[0].from_matrix(m), theta, 0, 0));
        if (bias) {
            const Tensor b = theta.narrow(0, 6, 2);
            EXPECT_TRUE(test::all_close(m.select(1, 3), b, 0, 0));
            EXPECT_TRUE(
                test::all_close(m.narrow(1, 0, 3).reshape({-1}), theta.narrow(0, 0, 6), 0, 0));
        }
    }
}

// Conv2d with one output position (kernel as large as the padded input): exact, including
// padding zeros inside the patch and the (c, kh, kw) order of the patch entries.
TEST(KroneckerCurvature, ConvWithOnePositionEqualsDenseBlock) {
    for (std::int64_t padding : {0, 1}) {
        SCOPED_TRACE(testing::Message() << "padding " << padding);
        nn::Conv2dConfig config;
        config.padding = padding;
        auto model = std::make_unique<Sequential>(std::vector<ModulePtr>{
            std::make_shared<nn::Conv2d>(2, 3, 3, config), std::make_shared<nn::Flatten>()});
        model->finalize(0, DType::f64);
        test::randomize_for_curvature(*model, 7);
        const std::int64_t side = 3 - 2 * padding;  // (side + 2p − 3) + 1 = 1 position
        const Tensor x = test::random_tensor({1, 2, side, side}, DType::f64, 8);
        KroneckerCurvature kfac(*model);
        kfac.accumulate(x);
        nn::DenseCurvature dense(*model);
        dense.accumulate(x);
        ASSERT_EQ(kfac.factors().size(), 1u);
        EXPECT_EQ(kfac.factors()[0].in_features, 18);
        expect_blocks_match_dense(kfac, dense.matrix());
    }
}

// Several samples of a categorical Linear model: A = (1/N) Σ a aᵀ and G = Σ_n (diag p_n −
// p_n p_nᵀ) computed by hand, and the same factors whether the data come in one batch, in
// two, or in chunks of one sample.
TEST(KroneckerCurvature, SeveralSamplesAverageTheFactors) {
    const std::int64_t n = 5, in = 3, out = 4;
    auto model = single_linear(in, out, true, 9);
    const Tensor x = test::random_tensor({n, in}, DType::f64, 10);
    const std::vector<double> xs = x.to_vector<double>();
    const Tensor p = softmax((*model)(Var(x)).value(), 1);
    const std::vector<double> ps = p.to_vector<double>();
    std::vector<double> a(16, 0.0), g(16, 0.0);
    for (std::int64_t s = 0; s < n; ++s) {
        const double aug[4] = {xs[static_cast<std::size_t>(s * in)],
                               xs[static_cast<std::size_t>(s * in + 1)],
                               xs[static_cast<std::size_t>(s * in + 2)], 1.0};
        const double* ps_s = &ps[static_cast<std::size_t>(s * out)];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
                a[static_cast<std::size_t>(i * 4 + j)] += aug[i] * aug[j] / n;
                g[static_cast<std::size_t>(i * 4 + j)] +=
                    (i == j ? ps_s[i] : 0.0) - ps_s[i] * ps_s[j];
            }
    }
    const Tensor a_hand = Tensor::from_vector(a, {4, 4});
    const Tensor g_hand = Tensor::from_vector(g, {4, 4});

    KroneckerCurvature whole(*model);
    whole.accumulate(x);
    const KroneckerFactors f = whole.factors()[0];
    EXPECT_TRUE(close(f.a, a_hand));
    EXPECT_TRUE(close(f.g, g_hand));
    // θ order by hand: index o·I + i is W[o, i] (M[o, i]), index O·I + o is b[o] (M[o, I]), and
    // the block's entry for M[o, i], M[o', i'] is G[o, o']·A[i, i'].
    const Tensor block = f.dense_block();
    auto entry = [](const Tensor& t, std::int64_t i, std::int64_t j) { return t[i][j].item(); };
    const double tol = kRelTol * max_abs(block);
    EXPECT_NEAR(entry(block, 0, 0), g[0] * a[0], tol);                   // W00, W00
    EXPECT_NEAR(entry(block, 12, 12), g[0] * a[15], tol);                // b0, b0
    EXPECT_NEAR(entry(block, 0, 12), g[0] * a[3], tol);                  // W00, b0
    EXPECT_NEAR(entry(block, 1, 4), g[1] * a[5], tol);                   // W01, W11
    EXPECT_NEAR(entry(block, 5, 14), g[1 * 4 + 2] * a[2 * 4 + 3], tol);  // W12, b2

    KroneckerCurvature split(*model);
    split.accumulate(x.narrow(0, 0, 2));
    split.accumulate(x.narrow(0, 2, 3));
    CurvatureOptions one;
    one.chunk_size = 1;
    KroneckerCurvature chunked(*model, one);
    chunked.accumulate(x);
    for (const KroneckerCurvature* k : {&split, &chunked}) {
        EXPECT_EQ(k->num_samples(), n);
        EXPECT_TRUE(close(k->factors()[0].a, a_hand));
        EXPECT_TRUE(close(k->factors()[0].g, g_hand));
    }
    // With several samples the Kronecker product is an approximation, not the GGN.
    nn::DenseCurvature dense(*model);
    dense.accumulate(x);
    EXPECT_FALSE(close(f.dense_block(), dense.matrix()));
}

// A Gaussian likelihood with one output: G = N/σ², G ⊗ A = XᵀX/σ² = the exact GGN, for any N.
TEST(KroneckerCurvature, SingleGaussianOutputIsExactForManySamples) {
    auto model = single_linear(4, 1, true, 11);
    const Tensor x = test::random_tensor({7, 4}, DType::f64, 12);
    CurvatureOptions o;
    o.likelihood = Likelihood::gaussian(0.5);
    KroneckerCurvature kfac(*model, o);
    kfac.accumulate(x);
    nn::DenseCurvature dense(*model, o);
    dense.accumulate(x);
    EXPECT_NEAR(kfac.factors()[0].g.item(), 7 / 0.25, 1e-12);
    expect_blocks_match_dense(kfac, dense.matrix());
}

// Conv2d over several positions: the KFC factors by hand on a 2-channel 3×3 input with a 2×2
// kernel (T = 4 positions): A = (1/N) Σ_n Σ_t a_{n,t} a_{n,t}ᵀ with patches unfolded in the
// weight's (c, kh, kw) order and a bias 1; with one output channel and a Gaussian likelihood
// on the flattened outputs, g_{n,c,t} = δ_ct/σ, so G = (1/T) Σ_n Σ_c Σ_t g² = N/σ², and the
// product equals the exact GGN Σ_n Σ_t a_{n,t} a_{n,t}ᵀ / σ².
TEST(KroneckerCurvature, ConvFactorsMatchHandUnfolding) {
    auto model = std::make_unique<Sequential>(std::vector<ModulePtr>{
        std::make_shared<nn::Conv2d>(2, 1, 2), std::make_shared<nn::Flatten>()});
    model->finalize(0, DType::f64);
    test::randomize_for_curvature(*model, 13);
    const std::int64_t n = 2;
    const Tensor x = test::random_tensor({n, 2, 3, 3}, DType::f64, 14);
    const std::vector<double> xs = x.to_vector<double>();
    std::vector<double> a(81, 0.0);
    for (std::int64_t s = 0; s < n; ++s)
        for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 2; ++w) {
                double patch[9];
                for (int c = 0; c < 2; ++c)
                    for (int kh = 0; kh < 2; ++kh)
                        for (int kw = 0; kw < 2; ++kw)
                            patch[(c * 2 + kh) * 2 + kw] = xs[static_cast<std::size_t>(
                                ((s * 2 + c) * 3 + h + kh) * 3 + w + kw)];
                patch[8] = 1.0;
                for (int i = 0; i < 9; ++i)
                    for (int j = 0; j < 9; ++j)
                        a[static_cast<std::size_t>(i * 9 + j)] += patch[i] * patch[j] / n;
            }
    CurvatureOptions o;
    o.likelihood = Likelihood::gaussian(2.0);
    KroneckerCurvature kfac(*model, o);
    kfac.accumulate(x);
    const KroneckerFactors f = kfac.factors()[0];
    EXPECT_EQ(f.in_features, 8);
    EXPECT_TRUE(close(f.a, Tensor::from_vector(a, {9, 9})));
    EXPECT_NEAR(f.g.item(), n / 4.0, 1e-12);
    nn::DenseCurvature dense(*model, o);
    dense.accumulate(x);
    expect_blocks_match_dense(kfac, dense.matrix());
}

// BatchNorm2d gets the diagonal of its GGN block (the same as DiagonalCurvature's), and the
// factors and diagonal blocks together tile θ.
TEST(KroneckerCurvature, BatchNormGetsItsDiagonal) {
    auto model = test::curvature_cnn(2, 15);
    const Tensor x = test::random_tensor({3, 2, 6, 6}, DType::f64, 16);
    KroneckerCurvature kfac(*model);
    kfac.accumulate(x);
    nn::DiagonalCurvature diag(*model);
    diag.accumulate(x);
    std::vector<std::pair<std::int64_t, std::int64_t>> tiles;
    for (const KroneckerFactors& f : kfac.factors()) {
        tiles.emplace_back(f.offset, f.size);
        // The Kronecker diagonal diag(G) ⊗ diag(A) is not the exact diagonal, but both are
        // non-negative and of the same order; the factors are symmetric.
        EXPECT_TRUE(test::all_close(f.a, f.a.t(), 0, 0));
        EXPECT_TRUE(test::all_close(f.g, f.g.t(), 0, 0));
    }
    const std::vector<nn::DiagonalBlock> blocks = kfac.diagonal_blocks();
    ASSERT_EQ(blocks.size(), 4u);  // the stem's BN, the block's two and its downsample's
    for (const nn::DiagonalBlock& b : blocks) {
        tiles.emplace_back(b.offset, b.size);
        EXPECT_TRUE(close(b.diagonal, diag.diagonal().narrow(0, b.offset, b.size)));
    }
    std::sort(tiles.begin(), tiles.end());
    std::int64_t next = 0;
    for (const auto& [offset, size] : tiles) {
        EXPECT_EQ(offset, next);
        next = offset + size;
    }
    EXPECT_EQ(next, model->num_parameters());
}

TEST(KroneckerCurvature, RejectsBadUse) {
    auto model = single_linear(3, 2, true, 18);
    KroneckerCurvature kfac(*model);
    EXPECT_TRUE(
        test::throws_error([&] { kfac.factors(); }, {"KroneckerCurvature::factors", "no data"}));
    CurvatureOptions fisher;
    fisher.type = CurvatureType::empirical_fisher;
    KroneckerCurvature ef(*model, fisher);
    EXPECT_TRUE(test::throws_error(
        [&] {
            ef.accumulate(Tensor::zeros({2, 3}, DType::f64));
        },
        {"KroneckerCurvature::accumulate", "one target per sample"}));
    CurvatureOptions bad;
    bad.mc_samples = 0;
    EXPECT_TRUE(test::throws_error([&] { KroneckerCurvature k(*model, bad); },
                                   {"KroneckerCurvature", "mc_samples"}));
    kfac.accumulate(Tensor::zeros({2, 3}, DType::f64));
    EXPECT_TRUE(test::throws_error([&] { kfac.factors()[0].to_matrix(Tensor::zeros({5})); },
                                   {"to_matrix", "8]", "[5]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            kfac.factors()[0].from_matrix(Tensor::zeros({2, 3}));
        },
        {"from_matrix", "2, 4]", "[2, 3]"}));
}

}  // namespace
}  // namespace postr
