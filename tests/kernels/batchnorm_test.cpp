// batch_norm_train / batch_norm_eval / batch_norm_backward on the CPU, against the formulas
// written out in f64 and, for the backward, central finite differences of Σ r·out.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::random_tensor;
using test::throws_error;
using i64 = std::int64_t;

struct Naive {
    std::vector<double> out, mean, var;  // var biased
};

// x as [N, C, S] in row-major order.
Naive naive_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    i64 n = x.size(0), c = x.size(1), s = x.numel() / std::max<i64>(n * c, 1);
    auto xv = x.to_vector<double>();
    std::vector<double> wv = weight.defined()
                                 ? weight.to_vector<double>()
                                 : std::vector<double>(static_cast<std::size_t>(c), 1.0);
    std::vector<double> bv = bias.defined() ? bias.to_vector<double>()
                                            : std::vector<double>(static_cast<std::size_t>(c), 0.0);
    Naive r{std::vector<double>(xv.size()), std::vector<double>(static_cast<std::size_t>(c)),
            std::vector<double>(static_cast<std::size_t>(c))};
    auto at = [&](i64 i, i64 ch, i64 j) { return static_cast<std::size_t>((i * c + ch) * s + j); };
    for (i64 ch = 0; ch < c; ++ch) {
        double m = 0, v = 0;
        for (i64 i = 0; i < n; ++i)
            for (i64 j = 0; j < s; ++j) m += xv[at(i, ch, j)];
        m /= static_cast<double>(n * s);
        for (i64 i = 0; i < n; ++i)
            for (i64 j = 0; j < s; ++j) v += (xv[at(i, ch, j)] - m) * (xv[at(i, ch, j)] - m);
        v /= static_cast<double>(n * s);
        r.mean[static_cast<std::size_t>(ch)] = m;
        r.var[static_cast<std::size_t>(ch)] = v;
        for (i64 i = 0; i < n; ++i)
            for (i64 j = 0; j < s; ++j)
                r.out[at(i, ch, j)] =
                    (xv[at(i, ch, j)] - m) / std::sqrt(v + eps) * wv[static_cast<std::size_t>(ch)] +
                    bv[static_cast<std::size_t>(ch)];
    }
    return r;
}

Tensor vec(const std::vector<double>& v, const Shape& shape, DType dt) {
    return Tensor::from_vector(v, shape).to(dt);
}

double dot(const Tensor& a, const Tensor& b) {
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    double s = 0;
    for (std::size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
    return s;
}

// f32: normalization divides by σ computed from N·S ≤ 240 terms accumulated in double, then
// rounds once to f32: a few ulp of values of order |x̂|·|w| + |b| ≤ ~5. f64: the same at 2^-52.
double rtol_for(DType dt) { return dt == DType::f32 ? 8 * test::kEpsF32 : 1e-12; }

class BatchNormTyped : public ::testing::TestWithParam<DType> {};

TEST_P(BatchNormTyped, TrainMatchesNaiveFormulasAndUpdatesRunningStats) {
    const DType dt = GetParam();
    const double tol = rtol_for(dt), eps = 1e-5, momentum = 0.1;
    std::uint64_t seed = 1;
    for (const Shape& shape :
         {Shape{4, 3, 5, 6}, Shape{8, 5}, Shape{3, 2, 7}, Shape{2, 4, 2, 3, 2}}) {
        for (bool affine : {true, false}) {
            SCOPED_TRACE(to_string(shape) + (affine ? " affine" : " plain") + " seed " +
                         std::to_string(seed));
            i64 c = shape[1];
            Tensor x = random_tensor(shape, dt, seed++, -2.0, 3.0);
            Tensor w = affine ? random_tensor({c}, dt, seed++, 0.5, 1.5) : Tensor();
            Tensor b = affine ? random_tensor({c}, dt, seed++) : Tensor();
            Tensor rm0 = random_tensor({c}, dt, seed++),
                   rv0 = random_tensor({c}, dt, seed++, 0.5, 2);
            Tensor rm = rm0.clone(), rv = rv0.clone();
            BatchNormResult r = batch_norm_train(x, w, b, rm, rv, momentum, eps);
            Naive ref = naive_batch_norm(x, w, b, eps);
            EXPECT_TRUE(all_close(r.out, vec(ref.out, shape, DType::f64), tol, tol));
            EXPECT_TRUE(all_close(r.save_mean, vec(ref.mean, {c}, DType::f64), tol, tol));
            std::vector<double> invstd(ref.var.size()), rm_ref(ref.var.size()),
                rv_ref(ref.var.size());
            auto rm0v = rm0.to_vector<double>(), rv0v = rv0.to_vector<double>();
            double count = static_cast<double>(x.numel() / c);
            for (std::size_t i = 0; i < invstd.size(); ++i) {
                invstd[i] = 1 / std::sqrt(ref.var[i] + eps);
                rm_ref[i] = (1 - momentum) * rm0v[i] + momentum * ref.mean[i];
                rv_ref[i] = (1 - momentum) * rv0v[i] + momentum * ref.var[i] * count / (count - 1);
            }
            EXPECT_TRUE(all_close(r.save_invstd, vec(invstd, {c}, DType::f64), tol, tol));
            EXPECT_TRUE(all_close(rm, vec(rm_ref, {c}, DType::f64), tol, tol));
            EXPECT_TRUE(all_close(rv, vec(rv_ref, {c}, DType::f64), tol, tol));
            // A non-contiguous x gives the same result.
            Tensor rm2 = rm0.clone(), rv2 = rv0.clone();
            BatchNormResult s =
                batch_norm_train(test::transposed_copy(x), w, b, rm2, rv2, momentum, eps);
            EXPECT_TRUE(all_close(s.out, r.out, 0, 0));
            EXPECT_TRUE(all_close(rv2, rv, 0, 0));
        }
    }
}

TEST_P(BatchNormTyped, EvalUsesRunningStatistics) {
    const DType dt = GetParam();
    const double tol = rtol_for(dt), eps = 1e-3;
    Shape shape{3, 4, 3, 5};
    Tensor x = random_tensor(shape, dt, 7);
    Tensor w = random_tensor({4}, dt, 8), b = random_tensor({4}, dt, 9);
    Tensor rm = random_tensor({4}, dt, 10), rv = random_tensor({4}, dt, 11, 0.5, 2);
    auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>(),
         mv = rm.to_vector<double>(), vv = rv.to_vector<double>();
    std::vector<double> ref(xv.size());
    for (std::size_t i = 0; i < xv.size(); ++i) {
        std::size_t ch = (i / 15) % 4;
        ref[i] = (xv[i] - mv[ch]) / std::sqrt(vv[ch] + eps) * wv[ch] + bv[ch];
    }
    Tensor out = batch_norm_eval(x, w, b, rm, rv, eps);
    EXPECT_TRUE(all_close(out, vec(ref, shape, DType::f64), tol, tol));
    // Without weight/bias the result is the plain standardization.
    Tensor plain = batch_norm_eval(x, Tensor(), Tensor(), rm, rv, eps);
    for (std::size_t i = 0; i < xv.size(); ++i) {
        std::size_t ch = (i / 15) % 4;
        ref[i] = (xv[i] - mv[ch]) / std::sqrt(vv[ch] + eps);
    }
    EXPECT_TRUE(all_close(plain, vec(ref, shape, DType::f64), tol, tol));
    // Strided running statistics are read correctly.
    EXPECT_TRUE(all_close(
        batch_norm_eval(x, w, b, test::strided_copy(rm), test::strided_copy(rv), eps), out, 0, 0));
}

TEST_P(BatchNormTyped, BackwardMatchesNaiveFormula) {
    const DType dt = GetParam();
    // f32: sums of up to 60 terms of size ~3 in double, one rounding to f32, then a difference
    // of three O(1) terms: 32 ulp.
    const double tol = dt == DType::f32 ? 32 * test::kEpsF32 : 1e-12;
    Shape shape{5, 3, 4, 3};
    Tensor x = random_tensor(shape, dt, 21, -1, 2);
    Tensor w = random_tensor({3}, dt, 22, 0.5, 1.5), b = random_tensor({3}, dt, 23);
    Tensor rm = Tensor::zeros({3}, dt), rv = Tensor::ones({3}, dt);
    BatchNormResult r = batch_norm_train(x, w, b, rm, rv, 0.1, 1e-5);
    Tensor g = random_tensor(shape, dt, 24);
    BatchNormGrads grads = batch_norm_backward(g, x, w, r.save_mean, r.save_invstd);
    auto xv = x.to_vector<double>(), gv = g.to_vector<double>(), wv = w.to_vector<double>();
    auto mv = r.save_mean.to_vector<double>(), iv = r.save_invstd.to_vector<double>();
    std::vector<double> gx(xv.size()), gw(3, 0.0), gb(3, 0.0);
    const double m = 60;
    for (std::size_t i = 0; i < xv.size(); ++i) {
        std::size_t ch = (i / 12) % 3;
        gb[ch] += gv[i];
        gw[ch] += gv[i] * (xv[i] - mv[ch]) * iv[ch];
    }
    for (std::size_t i = 0; i < xv.size(); ++i) {
        std::size_t ch = (i / 12) % 3;
        double xhat = (xv[i] - mv[ch]) * iv[ch];
        gx[i] = iv[ch] * wv[ch] * (gv[i] - gb[ch] / m - xhat * gw[ch] / m);
    }
    EXPECT_TRUE(all_close(grads.grad_x, vec(gx, shape, DType::f64), tol, tol));
    EXPECT_TRUE(all_close(grads.grad_weight, vec(gw, {3}, DType::f64), tol, tol));
    EXPECT_TRUE(all_close(grads.grad_bias, vec(gb, {3}, DType::f64), tol, tol));
}

INSTANTIATE_TEST_SUITE_P(BatchNorm, BatchNormTyped, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(BatchNorm, BackwardMatchesFiniteDifferences) {
    // L(x, w, b) = Σ r·batch_norm_train(x, w, b); central differences with
    // h = cbrt(ε)·max(1, |v|) and the gradcheck rule |a − b| ≤ 1e-8 + 1e-6·|b| (STYLE 3.9).
    const double eps = 1e-5;
    for (const Shape& shape : {Shape{3, 2, 2, 3}, Shape{6, 3}}) {
        for (bool affine : {true, false}) {
            SCOPED_TRACE(to_string(shape) + (affine ? " affine" : " plain"));
            i64 c = shape[1];
            Tensor x = random_tensor(shape, DType::f64, 31, -1, 2);
            Tensor w = affine ? random_tensor({c}, DType::f64, 32, 0.5, 1.5) : Tensor();
            Tensor b = affine ? random_tensor({c}, DType::f64, 33) : Tensor();
            Tensor r = random_tensor(shape, DType::f64, 34);
            Tensor none;
            auto loss = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
                Tensor rm, rv;
                return dot(r, batch_norm_train(xx, ww, bb, rm, rv, 0.1, eps).out);
            };
            BatchNormResult fwd = batch_norm_train(x, w, b, none, none, 0.1, eps);
            BatchNormGrads grads = batch_norm_backward(r, x, w, fwd.save_mean, fwd.save_invstd);
            auto fd_check = [&](const Tensor& param, const Tensor& analytic, const char* name,
                                auto&& eval) {
                SCOPED_TRACE(name);
                auto values = param.to_vector<double>(), grad = analytic.to_vector<double>();
                ASSERT_EQ(values.size(), grad.size());
                for (std::size_t i = 0; i < values.size(); ++i) {
                    double h = 6e-6 * std::max(1.0, std::abs(values[i]));
                    auto plus = values, minus = values;
                    plus[i] += h;
                    minus[i] -= h;
                    double fd = (eval(Tensor::from_vector(plus, param.shape())) -
                                 eval(Tensor::from_vector(minus, param.shape()))) /
                                (2 * h);
                    EXPECT_NEAR(grad[i], fd, 1e-8 + 1e-6 * std::abs(fd)) << "element " << i;
                }
            };
            fd_check(x, grads.grad_x, "x", [&](const Tensor& v) { return loss(v, w, b); });
            Tensor ones = Tensor::ones({c}, DType::f64), zeros = Tensor::zeros({c}, DType::f64);
            // The weight and bias gradients exist even when weight/bias are undefined (1 and 0).
            fd_check(affine ? w : ones, grads.grad_weight, "weight",
                     [&](const Tensor& v) { return loss(x, v, b); });
            fd_check(affine ? b : zeros, grads.grad_bias, "bias",
                     [&](const Tensor& v) { return loss(x, w, v); });
        }
    }
}

TEST(BatchNorm, StridedRunningStatisticsAreUpdatedInPlace) {
    Tensor x = random_tensor({6, 3, 4}, DType::f64, 41);
    Tensor rm_c = Tensor::zeros({3}, DType::f64), rv_c = Tensor::ones({3}, DType::f64);
    Tensor rm = test::strided_copy(rm_c), rv = test::strided_copy(rv_c);
    ASSERT_FALSE(rm.is_contiguous());
    Tensor rm_base = rm, rv_base = rv;  // handles to the same views
    batch_norm_train(x, Tensor(), Tensor(), rm_c, rv_c, 0.25, 1e-5);
    batch_norm_train(x, Tensor(), Tensor(), rm, rv, 0.25, 1e-5);
    EXPECT_TRUE(rm.shares_storage_with(rm_base));
    EXPECT_TRUE(all_close(rm_base, rm_c, 0, 0));
    EXPECT_TRUE(all_close(rv_base, rv_c, 0, 0));
    EXPECT_FALSE(all_close(rv_c, Tensor::ones({3}, DType::f64), 0, 0));
}

TEST(BatchNorm, ConstantChannelNormalizesToBias) {
    // Zero variance: x̂ = 0·(1/√eps) exactly, so out = b; the unbiased running var gets 0.
    Tensor x = Tensor::full({4, 2, 3}, 1.5, DType::f64);
    Tensor b = Tensor::from_vector(std::vector<double>{0.25, -1.0}, {2});
    Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
    BatchNormResult r = batch_norm_train(x, Tensor(), b, rm, rv, 1.0, 1e-5);
    EXPECT_TRUE(all_close(r.out, b.view({1, 2, 1}).expand({4, 2, 3}).contiguous(), 0, 0));
    EXPECT_TRUE(all_close(rm, Tensor::full({2}, 1.5, DType::f64), 0, 0));
    EXPECT_TRUE(all_close(rv, Tensor::zeros({2}, DType::f64), 0, 0));
}

TEST(BatchNorm, RejectsBadArguments) {
    Tensor x = random_tensor({4, 3, 5}, DType::f32, 1);
    Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
    Tensor one = random_tensor({1, 3}, DType::f32, 2);
    EXPECT_TRUE(throws_error([&] { batch_norm_train(one, Tensor(), Tensor(), rm, rv, 0.1, 1e-5); },
                             {"batch_norm_train", "too few values per channel", "[1, 3]"}));
    EXPECT_TRUE(
        throws_error([&] { batch_norm_train(x, Tensor::ones({4}), Tensor(), rm, rv, 0.1, 1e-5); },
                     {"batch_norm_train", "weight must be [3]", "[4, 3, 5]", "[4]"}));
    EXPECT_TRUE(
        throws_error([&] { batch_norm_train(x.view({60}), Tensor(), Tensor(), rm, rv, 0.1, 1e-5); },
                     {"batch_norm_train", "x must have rank at least 2", "[60]"}));
    Tensor rm64 = Tensor::zeros({3}, DType::f64);
    EXPECT_TRUE(throws_error([&] { batch_norm_train(x, Tensor(), Tensor(), rm64, rv, 0.1, 1e-5); },
                             {"batch_norm_train", "dtypes differ", "running_mean"}));
    EXPECT_TRUE(throws_error([&] { batch_norm_eval(x, Tensor(), Tensor(), Tensor(), rv, 1e-5); },
                             {"batch_norm_eval", "running_mean is an undefined tensor"}));
    Tensor mean = Tensor::zeros({3}), invstd = Tensor::ones({3});
    EXPECT_TRUE(throws_error(
        [&] {
            batch_norm_backward(x.view({4, 15}), x, Tensor(), mean, invstd);
        },
        {"batch_norm_backward", "shapes differ", "[4, 15]", "[4, 3, 5]"}));
    EXPECT_TRUE(
        throws_error([&] { batch_norm_backward(x, x, Tensor(), Tensor::zeros({2}), invstd); },
                     {"batch_norm_backward", "save_mean must be [3]", "[2]"}));
}

}  // namespace
}  // namespace postr
