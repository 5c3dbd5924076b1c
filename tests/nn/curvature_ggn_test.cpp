// GGN / Fisher products and matrices by the fast road, against references built from the
// autodiff road: J_n from jacobian() of the model as a function of θ, Λ_n in closed form, and
// G = Σ_n J_nᵀ Λ_n J_n formed densely. f64 throughout; the two roads differ only in summation
// order, so they agree to 1e-10 relative (see curvature_jacobian_test.cpp).
#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/functional.h"
#include "postr/autodiff/ops.h"
#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/jacobian.h"
#include "postr/nn/functional_call.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/basic_block.h"
#include "postr/nn/layers/batch_norm2d.h"
#include "postr/nn/layers/conv2d.h"
#include "postr/nn/layers/flatten.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/pooling.h"
#include "postr/nn/layers/sequential.h"

#include "tests/nn/curvature_models.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

using nn::CurvatureOptions;
using nn::CurvatureType;
using nn::Likelihood;
using nn::Module;
using nn::Sequential;
using ModulePtr = std::shared_ptr<Module>;

constexpr double kRelTol = 1e-10;

// Σ_n J_nᵀ Λ_n J_n with J from autodiff and Λ_n given per sample: lambda [N, C, C].
Tensor reference_ggn(Module& model, const Tensor& x, const Tensor& lambda) {
    const Tensor j = jacobian(nn::as_function_of_theta(model, x), model.parameters().theta());
    return sum(matmul(matmul(j.transpose(1, 2), lambda), j), {0});
}

// Λ_n = diag(p_n) − p_n p_nᵀ for softmax outputs.
Tensor softmax_hessians(Module& model, const Tensor& x) {
    const Tensor p = softmax((model)(Var(x)).value(), 1);
    const std::int64_t n = p.size(0), c = p.size(1);
    const Tensor diag = mul(eye(c, DType::f64).view({1, c, c}), p.view({n, 1, c}));
    return sub(diag, mul(p.view({n, c, 1}), p.view({n, 1, c})));
}

// Per-sample loss gradients from autodiff: [N, D].
Tensor reference_gradients(Module& model, const Tensor& x, const Tensor& labels) {
    std::vector<Tensor> rows;
    for (std::int64_t n = 0; n < x.size(0); ++n) {
        Tensor xn = x.narrow(0, n, 1), yn = labels.narrow(0, n, 1);
        VarFn loss = [&](const Var& theta) {
            Var logits = nn::functional_call(model, theta, Var(xn));
            return neg(sum(gather(log_softmax(logits, 1), 1, yn.view({1, 1}))));
        };
        rows.push_back(grad(loss, model.parameters().theta()).view({1, -1}));
    }
    return cat(rows, 0);
}

// The main diagonal of a contiguous square matrix, as a view with stride n + 1.
Tensor diagonal_of(const Tensor& m) {
    const std::int64_t n = m.size(0);
    return m.as_strided({n}, {n + 1}, m.offset());
}

Tensor labels_for(std::int64_t n, std::int64_t classes) {
    std::vector<std::int64_t> y(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = (3 * i + 1) % classes;
    return Tensor::from_vector(y, {n});
}

TEST(DenseGgn, EqualsJacobianSandwichForMlpAndCnn) {
    auto net = test::curvature_mlp(3, 4, 11);
    Tensor x = test::random_tensor({6, 3}, DType::f64, 1);
    nn::DenseCurvature dense(*net);
    dense.accumulate(x);
    EXPECT_TRUE(test::all_close(dense.matrix(), reference_ggn(*net, x, softmax_hessians(*net, x)),
                                kRelTol, kRelTol));
    EXPECT_EQ(dense.num_samples(), 6);

    auto conv = test::curvature_cnn(1, 12);
    Tensor images = test::random_tensor({3, 1, 5, 5}, DType::f64, 2);
    nn::DenseCurvature dense_conv(*conv);
    dense_conv.accumulate(images);
    EXPECT_TRUE(test::all_close(dense_conv.matrix(),
                                reference_ggn(*conv, images, softmax_hessians(*conv, images)),
                                kRelTol, kRelTol));
}

TEST(DenseGgn, GaussianLikelihoodIsJacobianGramOverSigmaSquared) {
    auto net = test::curvature_mlp(3, 2, 11);
    Tensor x = test::random_tensor({5, 3}, DType::f64, 3);
    CurvatureOptions options;
    options.likelihood = Likelihood::gaussian(0.5);
    nn::DenseCurvature dense(*net, options);
    dense.accumulate(x);
    const Tensor lambda = mul(eye(2, DType::f64).view({1, 2, 2}).expand({5, 2, 2}), 4.0);
    EXPECT_TRUE(test::all_close(dense.matrix(), reference_ggn(*net, x, lambda), kRelTol, kRelTol));
}

TEST(DenseGgn, SubsetIsTheGatheredBlockAndChunkingChangesNothing) {
    auto net = test::curvature_cnn(1, 12);
    Tensor x = test::random_tensor({5, 1, 5, 5}, DType::f64, 4);
    nn::DenseCurvature full(*net);
    full.accumulate(x);
    const std::int64_t d = net->num_parameters();
    Tensor index = Tensor::from_vector(std::vector<std::int64_t>{d - 1, 4, 20, 4, 0, d - 7}, {6});
    const Tensor expected = index_select(index_select(full.matrix(), 0, index), 1, index);
    for (std::int64_t chunk : {0, 1, 2}) {
        CurvatureOptions options;
        options.chunk_size = chunk;
        nn::DenseCurvature subset(*net, options, index);
        // Two batches of uneven size, like a data loader's last batch.
        subset.accumulate(x.narrow(0, 0, 3));
        subset.accumulate(x.narrow(0, 3, 2));
        EXPECT_TRUE(test::all_close(subset.matrix(), expected, kRelTol, kRelTol))
            << "chunk " << chunk;
    }
}

TEST(GgnVectorProduct, FastRoadEqualsDenseGgnAndTheAutodiffRoad) {
    auto net = test::curvature_cnn(1, 12);
    Tensor x = test::random_tensor({4, 1, 5, 5}, DType::f64, 5);
    Tensor v = test::random_tensor({net->num_parameters()}, DType::f64, 6);
    const Tensor fast = nn::ggn_vector_product(*net, x, Likelihood::categorical(), v);
    const Tensor g = reference_ggn(*net, x, softmax_hessians(*net, x));
    EXPECT_TRUE(test::all_close(fast, matmul(g, v.view({-1, 1})).view({-1}), kRelTol, kRelTol));
    // The general road: jvp → Hessian of Σ_n logsumexp(z_n) (the cross-entropy's Hessian for
    // any labels) → vjp.
    VarFn loss = [](const Var& z) { return sum(logsumexp(z, {1})); };
    const Tensor general =
        ggn_vector_product(nn::as_function_of_theta(*net, x), loss, net->parameters().theta(), v);
    EXPECT_TRUE(test::all_close(fast, general, kRelTol, kRelTol));
    // The tangents are gone afterwards: a plain forward pass carries none.
    EXPECT_FALSE((*net)(Var(x)).tangent().defined());
}

TEST(DiagonalGgn, EqualsTheDenseDiagonalWhateverTheChunks) {
    for (bool conv : {false, true}) {
        auto net = conv ? test::curvature_cnn(1, 12) : test::curvature_mlp(3, 4, 11);
        Tensor x = conv ? test::random_tensor({5, 1, 5, 5}, DType::f64, 7)
                        : test::random_tensor({5, 3}, DType::f64, 7);
        nn::DenseCurvature dense(*net);
        dense.accumulate(x);
        const Tensor expected = diagonal_of(dense.matrix());
        for (std::int64_t chunk : {0, 2}) {
            CurvatureOptions options;
            options.chunk_size = chunk;
            nn::DiagonalCurvature diag(*net, options);
            diag.accumulate(x.narrow(0, 0, 2));
            diag.accumulate(x.narrow(0, 2, 3));
            EXPECT_TRUE(test::all_close(diag.diagonal(), expected, kRelTol, kRelTol))
                << (conv ? "cnn" : "mlp") << ", chunk " << chunk;
        }
    }
}

TEST(DiagonalGgn, MonteCarloConvergesToTheExactDiagonal) {
    // Each sampled row is an unbiased draw of Λ_n's factor, so the relative error of the
    // estimate falls like 1/√K: measured with a fixed seed it must shrink from K = 10 to
    // K = 10,000 and end below 5% (the standard error at K = 10,000 is ≈ 1-2%).
    auto net = test::curvature_mlp(3, 4, 11);
    Tensor x = test::random_tensor({6, 3}, DType::f64, 8);
    nn::DiagonalCurvature exact(*net);
    exact.accumulate(x);
    auto relative_error = [&](std::int64_t k) {
        CurvatureOptions options;
        options.type = CurvatureType::ggn_monte_carlo;
        options.mc_samples = k;
        options.seed = 3;
        nn::DiagonalCurvature mc(*net, options);
        mc.accumulate(x);
        return norm(sub(mc.diagonal(), exact.diagonal())).item() / norm(exact.diagonal()).item();
    };
    const double coarse = relative_error(10), fine = relative_error(10000);
    EXPECT_LT(fine, coarse);
    EXPECT_LT(fine, 0.05);
}

TEST(EmpiricalFisher, DenseDiagonalAndProductEqualSumsOfGradientOuterProducts) {
    auto net = test::curvature_cnn(1, 12);
    Tensor x = test::random_tensor({4, 1, 5, 5}, DType::f64, 9);
    Tensor y = labels_for(4, 3);
    const Tensor g = reference_gradients(*net, x, y);
    const Tensor expected = matmul(g.t(), g);
    CurvatureOptions options;
    options.type = CurvatureType::empirical_fisher;
    nn::DenseCurvature dense(*net, options);
    dense.accumulate(x, y);
    EXPECT_TRUE(test::all_close(dense.matrix(), expected, kRelTol, kRelTol));
    nn::DiagonalCurvature diag(*net, options);
    diag.accumulate(x, y);
    EXPECT_TRUE(test::all_close(diag.diagonal(), diagonal_of(expected), kRelTol, kRelTol));
    Tensor v = test::random_tensor({net->num_parameters()}, DType::f64, 10);
    EXPECT_TRUE(test::all_close(
        nn::empirical_fisher_vector_product(*net, x, y, Likelihood::categorical(), v),
        matmul(expected, v.view({-1, 1})).view({-1}), kRelTol, kRelTol));
    EXPECT_TRUE(test::throws_error([&] { diag.accumulate(x); },
                                   {"empirical Fisher needs one target per sample"}));
}

}  // namespace
}  // namespace postr
