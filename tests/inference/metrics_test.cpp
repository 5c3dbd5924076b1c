// The inference metrics on small hand-computed cases, the streaming accumulator against the
// one-shot functions, AUROC against an O(n²) pair count, and every error case.
// Tolerances: f64 inputs 1e-12 (a handful of f64 operations on values near 1); f32 inputs 1e-6
// (the inputs themselves carry f32 rounding, about 6e-8 relative, and the metrics amplify it by at
// most 1/p_min ≈ 7 in these cases).
#include "postr/inference/metrics.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace postr {
namespace {

using inference::accuracy;
using inference::auroc;
using inference::brier_score;
using inference::ClassificationMetrics;
using inference::expected_calibration_error;
using inference::gaussian_log_likelihood;
using inference::negative_log_likelihood;
using inference::predictive_entropy;
using inference::rmse;

Tensor labels_of(const std::vector<std::int64_t>& y) {
    return Tensor::from_vector(y, {static_cast<std::int64_t>(y.size())});
}

Tensor f64(const std::vector<double>& v, const Shape& shape) {
    return Tensor::from_vector(v, shape);
}

double tolerance(DType dtype) { return dtype == DType::f64 ? 1e-12 : 1e-6; }

class MetricsDType : public ::testing::TestWithParam<DType> {};

// Four samples, three classes, confidences away from bin edges:
//   row  probs               label  top-1  conf  correct  bin (of 10)
//   0    [0.72, 0.18, 0.10]  0      0      0.72  yes      7
//   1    [0.22, 0.63, 0.15]  2      1      0.63  no       6
//   2    [0.05, 0.04, 0.91]  2      2      0.91  yes      9
//   3    [0.44, 0.31, 0.25]  1      0      0.44  no       4
Tensor hand_probs(DType dtype) {
    return f64({0.72, 0.18, 0.10, 0.22, 0.63, 0.15, 0.05, 0.04, 0.91, 0.44, 0.31, 0.25}, {4, 3})
        .to(dtype);
}
Tensor hand_labels() { return labels_of({0, 2, 2, 1}); }

TEST_P(MetricsDType, AccuracyCountsTopOneHits) {
    EXPECT_DOUBLE_EQ(accuracy(hand_probs(GetParam()), hand_labels()), 0.5);  // rows 0 and 2
}

TEST_P(MetricsDType, NegativeLogLikelihoodIsMeanMinusLogPy) {
    const double expected =
        -(std::log(0.72) + std::log(0.15) + std::log(0.91) + std::log(0.31)) / 4.0;  // ≈ 0.87278
    EXPECT_NEAR(negative_log_likelihood(hand_probs(GetParam()), hand_labels()), expected,
                tolerance(GetParam()));
}

TEST_P(MetricsDType, ExpectedCalibrationErrorByHand) {
    const Tensor probs = hand_probs(GetParam());
    const double tol = tolerance(GetParam());
    // 10 bins: each sample alone in its bin, so ECE = (1/4) Σ |correct − conf|
    //   = (|1 − 0.72| + |0 − 0.63| + |1 − 0.91| + |0 − 0.44|) / 4 = (0.28 + 0.63 + 0.09 + 0.44) / 4
    //   = 1.44 / 4 = 0.36.
    EXPECT_NEAR(expected_calibration_error(probs, hand_labels()), 0.36, tol);
    // 4 bins [0, .25), [.25, .5), [.5, .75), [.75, 1]: bin 1 holds row 3 (acc 0, conf 0.44),
    // bin 2 rows 0 and 1 (acc 1/2, conf 0.675), bin 3 row 2 (acc 1, conf 0.91):
    //   ECE = (1/4)·0.44 + (2/4)·|0.5 − 0.675| + (1/4)·0.09 = 0.11 + 0.0875 + 0.0225 = 0.22.
    EXPECT_NEAR(expected_calibration_error(probs, hand_labels(), 4), 0.22, tol);
    // One bin: |accuracy − mean confidence| = |0.5 − 2.70/4| = 0.175.
    EXPECT_NEAR(expected_calibration_error(probs, hand_labels(), 1), 0.175, tol);
}

TEST_P(MetricsDType, BrierScoreIsTheSumOverClasses) {
    // Per row Σ_c (p_c − 1[c = y])²:
    //   0: 0.28² + 0.18² + 0.10² = 0.0784 + 0.0324 + 0.0100 = 0.1208
    //   1: 0.22² + 0.63² + 0.85² = 0.0484 + 0.3969 + 0.7225 = 1.1678
    //   2: 0.05² + 0.04² + 0.09² = 0.0025 + 0.0016 + 0.0081 = 0.0122
    //   3: 0.44² + 0.69² + 0.25² = 0.1936 + 0.4761 + 0.0625 = 0.7322
    // mean = 2.0330 / 4 = 0.50825 (not divided by C = 3).
    EXPECT_NEAR(brier_score(hand_probs(GetParam()), hand_labels()), 0.50825, tolerance(GetParam()));
}

TEST_P(MetricsDType, PredictiveEntropyWithZeroLogZeroEqualZero) {
    const Tensor probs =
        f64({0.5, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0}, {3, 4})
            .to(GetParam());
    const Tensor h = predictive_entropy(probs);
    EXPECT_EQ(h.shape(), (Shape{3}));
    EXPECT_EQ(h.dtype(), GetParam());
    EXPECT_TRUE(test::all_close(h, f64({std::log(2.0), 0.0, std::log(3.0)}, {3}).to(GetParam()),
                                0.0, tolerance(GetParam())));
}

TEST_P(MetricsDType, AccumulatorEqualsOneShotOnUnevenBatches) {
    const DType dtype = GetParam();
    // 103 samples, 5 classes: softmax of logits scaled by 3 so the confidences spread over the
    // bins; labels agree with the argmax about half the time.
    const std::int64_t n = 103;
    const std::int64_t c = 5;
    const std::vector<double> logits =
        test::random_tensor({n, c}, DType::f64, 7, -3.0, 3.0).to_vector<double>();
    std::vector<double> p(logits.size());
    for (std::int64_t i = 0; i < n; ++i) {
        double z = 0.0;
        for (std::int64_t k = 0; k < c; ++k) z += std::exp(logits[i * c + k]);
        for (std::int64_t k = 0; k < c; ++k) p[i * c + k] = std::exp(logits[i * c + k]) / z;
    }
    const Tensor probs = f64(p, {n, c}).to(dtype);
    const Tensor labels = test::random_ints({n}, 0, c, 8);

    ClassificationMetrics metrics;
    std::int64_t start = 0;
    for (std::int64_t size : {1, 17, 40, 45}) {
        // Strided copies: the accumulator must not assume contiguous batches.
        metrics.add(test::strided_copy(probs.narrow(0, start, size)),
                    labels.narrow(0, start, size));
        start += size;
    }
    ASSERT_EQ(start, n);
    const ClassificationMetrics::Summary s = metrics.summary();
    // Same sequential f64 sums in the same order, so the agreement is to rounding.
    const double tol = 1e-12;
    EXPECT_EQ(s.count, n);
    EXPECT_NEAR(s.accuracy, accuracy(probs, labels), tol);
    EXPECT_NEAR(s.nll, negative_log_likelihood(probs, labels), tol);
    EXPECT_NEAR(s.ece, expected_calibration_error(probs, labels), tol);
    EXPECT_NEAR(s.brier, brier_score(probs, labels), tol);
    // predictive_entropy returns probs' dtype, so in f32 its mean carries f32 rounding.
    const std::vector<double> h = predictive_entropy(probs).to_vector<double>();
    double mean_h = 0.0;
    for (double v : h) mean_h += v;
    mean_h /= static_cast<double>(n);
    EXPECT_NEAR(s.mean_entropy, mean_h, tolerance(dtype));
    // The case is not degenerate: some but not all predictions are right, and ECE > 0.
    EXPECT_GT(s.accuracy, 0.0);
    EXPECT_LT(s.accuracy, 1.0);
    EXPECT_GT(s.ece, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Metrics, MetricsDType, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Metrics, ConfidenceOfOneGoesInTheLastBin) {
    // Both rows have confidence exactly 1 (bin index 10 before clamping): bin 9 holds 2 samples,
    // 1 correct, mean confidence 1, so ECE = |0.5 − 1| = 0.5.
    const Tensor probs = f64({1.0, 0.0, 0.0, 1.0}, {2, 2});
    EXPECT_DOUBLE_EQ(expected_calibration_error(probs, labels_of({0, 0})), 0.5);
    EXPECT_DOUBLE_EQ(expected_calibration_error(probs, labels_of({0, 1})), 0.0);
}

TEST(Metrics, TopOneTieTakesTheLowestIndex) {
    const Tensor probs = f64({0.4, 0.4, 0.2}, {1, 3});
    EXPECT_DOUBLE_EQ(accuracy(probs, labels_of({0})), 1.0);
    EXPECT_DOUBLE_EQ(accuracy(probs, labels_of({1})), 0.0);
}

TEST(Metrics, ZeroProbabilityOnTheLabelGivesALargeFiniteNll) {
    const double nll = negative_log_likelihood(f64({1.0, 0.0}, {1, 2}), labels_of({1}));
    EXPECT_TRUE(std::isfinite(nll));
    EXPECT_DOUBLE_EQ(nll, -std::log(inference::kMinProbability));
    EXPECT_GT(nll, 700.0);
    // A certain, correct prediction costs nothing.
    EXPECT_DOUBLE_EQ(negative_log_likelihood(f64({1.0, 0.0}, {1, 2}), labels_of({0})), 0.0);
}

TEST(Metrics, BrierScoreExtremes) {
    EXPECT_DOUBLE_EQ(brier_score(f64({1.0, 0.0}, {1, 2}), labels_of({0})), 0.0);
    EXPECT_DOUBLE_EQ(brier_score(f64({1.0, 0.0}, {1, 2}), labels_of({1})), 2.0);  // the maximum
}

TEST(Metrics, RowsWithinTheSumToleranceAreAccepted) {
    // f32 softmax rows are off 1 by rounding; 5e-4 is inside kRowSumTolerance = 1e-3.
    EXPECT_NO_THROW(accuracy(f64({0.6005, 0.4}, {1, 2}), labels_of({0})));
}

TEST(Metrics, AurocKnownRankings) {
    const Tensor low = f64({0.1, 0.2, 0.3}, {3});
    const Tensor high = f64({0.4, 0.5}, {2});
    EXPECT_DOUBLE_EQ(auroc(low, high), 1.0);  // every OOD score above every in-distribution one
    EXPECT_DOUBLE_EQ(auroc(high, low), 0.0);
    // Identical score sets: every pair ties or is mirrored, U = n²/2.
    EXPECT_DOUBLE_EQ(auroc(f64({1.0, 2.0, 3.0}, {3}), f64({1.0, 2.0, 3.0}, {3})), 0.5);
    EXPECT_DOUBLE_EQ(auroc(f64({2.0, 2.0}, {2}), f64({2.0, 2.0, 2.0}, {3})), 0.5);
    // in = {0.1, 0.4, 0.35, 0.8}, out = {0.4, 0.9, 0.2}:
    //   out 0.4 beats 0.1 and 0.35, ties 0.4 → 2.5; out 0.9 beats all 4 → 4; out 0.2 beats 0.1 → 1.
    //   U = 7.5, AUROC = 7.5 / (4·3) = 0.625.
    const Tensor in = f64({0.1, 0.4, 0.35, 0.8}, {4});
    const Tensor out = f64({0.4, 0.9, 0.2}, {3});
    EXPECT_DOUBLE_EQ(auroc(in, out), 0.625);
    // Both f32, so the tie at 0.4 survives (0.4f as a double is not 0.4: mixing dtypes breaks it).
    EXPECT_DOUBLE_EQ(auroc(in.to(DType::f32), out.to(DType::f32)), 0.625);
}

TEST(Metrics, AurocMatchesPairCountWithTies) {
    // Scores rounded to 10 levels so many pairs tie; compare with the O(n²) definition.
    std::mt19937_64 rng(11);
    std::uniform_int_distribution<int> level(0, 9);
    std::vector<double> in(57);
    std::vector<double> out(31);
    for (double& v : in) v = 0.1 * level(rng);
    for (double& v : out) v = 0.1 * level(rng) + 0.15;  // shifted: OOD scores tend to be higher
    double u = 0.0;
    for (double o : out)
        for (double i : in) u += o > i ? 1.0 : (o == i ? 0.5 : 0.0);
    const double expected = u / (57.0 * 31.0);
    EXPECT_NEAR(auroc(f64(in, {57}), f64(out, {31})), expected, 1e-15);
    EXPECT_GT(expected, 0.5);
}

TEST(Metrics, GaussianLogLikelihoodByHand) {
    const double log_2pi = std::log(2.0 * std::numbers::pi);
    // N = 2, D = 1: sample 0 has residual 1 at variance 1, sample 1 residual 0 at variance 4.
    //   LL = ( −½(log 2π + 0 + 1) − ½(log 2π + log 4 + 0) ) / 2.
    const double expected = (-0.5 * (log_2pi + 1.0) - 0.5 * (log_2pi + std::log(4.0))) / 2.0;
    EXPECT_NEAR(
        gaussian_log_likelihood(f64({1.0, 2.0}, {2}), f64({1.0, 4.0}, {2}), f64({2.0, 2.0}, {2})),
        expected, 1e-12);
    // N = 2, D = 2: the log-density sums over D and averages over N. Row 0 is exact at unit
    // variance (−log 2π); row 1 has residuals 2 and 0 at variances 4 and 0.5:
    //   −½(log 2π + log 4 + 1) − ½(log 2π + log 0.5).
    const double row1 = -0.5 * (log_2pi + std::log(4.0) + 1.0) - 0.5 * (log_2pi + std::log(0.5));
    EXPECT_NEAR(gaussian_log_likelihood(f64({0.0, 1.0, 3.0, -1.0}, {2, 2}),
                                        f64({1.0, 1.0, 4.0, 0.5}, {2, 2}).to(DType::f32),
                                        f64({0.0, 1.0, 1.0, -1.0}, {2, 2})),
                (-log_2pi + row1) / 2.0, 1e-7);  // f32 variance: 0.5 and 4 are exact, log is f64
}

TEST(Metrics, RmseByHand) {
    // Residuals 0, 2, 0: sqrt(4/3).
    EXPECT_NEAR(rmse(f64({1.0, 2.0, 3.0}, {3}), f64({1.0, 4.0, 3.0}, {3})), std::sqrt(4.0 / 3.0),
                1e-15);
    // Over all N·D elements: residuals 1, −1, 3, 1 → sqrt(12/4).
    EXPECT_NEAR(
        rmse(f64({1.0, 0.0, 3.0, 1.0}, {2, 2}).to(DType::f32), f64({0.0, 1.0, 0.0, 0.0}, {2, 2})),
        std::sqrt(3.0), 1e-7);
}

TEST(Metrics, ClassificationErrors) {
    const Tensor probs = hand_probs(DType::f64);
    const Tensor labels = hand_labels();
    EXPECT_TRUE(test::throws_error([&] { accuracy(Tensor(), labels); },
                                   {"accuracy: probs", "undefined tensor"}));
    EXPECT_TRUE(test::throws_error([&] { accuracy(probs.flatten(), labels); },
                                   {"accuracy: probs must have rank 2", "[12]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(labels.reshape({2, 2}), labels.narrow(0, 0, 2));
        },
        {"accuracy: probs must be f32 or f64"}));
    EXPECT_TRUE(test::throws_error([&] { brier_score(probs, labels.to(DType::f64)); },
                                   {"brier_score: labels has the wrong dtype", "i64"}));
    EXPECT_TRUE(test::throws_error(
        [&] { negative_log_likelihood(probs, labels.narrow(0, 0, 3)); },
        {"negative_log_likelihood: labels has the wrong length", "[3]", "[4, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(probs, labels_of({0, 3, 2, 1}));
        },
        {"accuracy: labels has an entry out of range", "labels[1] = 3", "C = 3", "[0, C)"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(probs, labels_of({0, 0, -1, 1}));
        },
        {"labels[2] = -1", "out of range"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            brier_score(f64({1.2, -0.2}, {1, 2}), labels_of({0}));
        },
        {"brier_score: probs has a negative or NaN entry", "probs[0, 1] = -0.2"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            brier_score(f64({std::nan(""), 1.0}, {1, 2}), labels_of({0}));
        },
        {"negative or NaN entry", "probs[0, 0]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            negative_log_likelihood(f64({0.5, 0.5, 2.0, 3.0}, {2, 2}), labels_of({0, 1}));
        },
        {"does not sum to 1", "row 1 sums to 5", "not logits"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(f64({0.502, 0.5}, {1, 2}), labels_of({0}));
        },
        {"does not sum to 1"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(Tensor::zeros({0, 3}, DType::f64), labels_of({}));
        },
        {"accuracy: probs is empty", "[0, 3]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            accuracy(Tensor::zeros({2, 0}, DType::f64), labels_of({0, 0}));
        },
        {"probs is empty", "[2, 0]"}));
    EXPECT_TRUE(
        test::throws_error([&] { expected_calibration_error(probs, labels, 0); },
                           {"expected_calibration_error: bins must be at least 1", "got 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            predictive_entropy(f64({0.3, 0.3}, {1, 2}));
        },
        {"predictive_entropy: probs has a row that does not sum to 1"}));
}

TEST(Metrics, AccumulatorErrors) {
    EXPECT_TRUE(test::throws_error([] { (void)ClassificationMetrics(0); },
                                   {"ClassificationMetrics: bins must be at least 1"}));
    ClassificationMetrics metrics;
    EXPECT_TRUE(test::throws_error([&] { metrics.summary(); },
                                   {"ClassificationMetrics::summary: the accumulator is empty"}));
    metrics.add(hand_probs(DType::f32), hand_labels());
    EXPECT_TRUE(test::throws_error(
        [&] {
            metrics.add(f64({0.5, 0.5}, {1, 2}), labels_of({0}));
        },
        {"ClassificationMetrics::add: probs has a different number of classes", "C = 2",
         "earlier C = 3"}));
    EXPECT_TRUE(test::throws_error([&] { metrics.add(hand_probs(DType::f32), labels_of({0})); },
                                   {"ClassificationMetrics::add: labels has the wrong length"}));
    // A rejected batch leaves the sums untouched.
    EXPECT_EQ(metrics.summary().count, 4);
    EXPECT_DOUBLE_EQ(metrics.summary().accuracy, 0.5);
}

TEST(Metrics, AurocErrors) {
    const Tensor s = f64({0.1, 0.2}, {2});
    EXPECT_TRUE(
        test::throws_error([&] { auroc(Tensor(), s); }, {"auroc: in_scores", "undefined tensor"}));
    EXPECT_TRUE(test::throws_error([&] { auroc(s, Tensor::zeros({0}, DType::f64)); },
                                   {"auroc: out_scores is empty", "[0]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            auroc(s.reshape({1, 2}), s);
        },
        {"auroc: in_scores must have rank 1", "[1, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            auroc(s, labels_of({1, 2}));
        },
        {"auroc: out_scores must be f32 or f64"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            auroc(s, f64({0.3, std::nan("")}, {2}));
        },
        {"auroc: out_scores has a NaN entry", "out_scores[1]"}));
}

TEST(Metrics, RegressionErrors) {
    const Tensor m = f64({1.0, 2.0}, {2});
    const Tensor v = f64({1.0, 1.0}, {2});
    const char* ll = "gaussian_log_likelihood";
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(m, f64({1.0, 0.0}, {2}), m);
        },
        {ll, "variance has an entry that is not positive", "variance[1] (flat index) = 0", "> 0"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(m, f64({-1.0, 1.0}, {2}), m);
        },
        {"variance[0] (flat index) = -1"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(m, f64({std::nan(""), 1.0}, {2}), m);
        },
        {"not positive", "nan"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(m, v, m.reshape({2, 1}));
        },
        {ll, "shapes differ", "[2]", "[2, 1]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(m, v.reshape({1, 1, 2}), m);
        },
        {ll, "variance must have rank 1 or 2", "[1, 1, 2]"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            const Tensor e = Tensor::zeros({0}, DType::f64);
            gaussian_log_likelihood(e, e, e);
        },
        {ll, "mean is empty"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            gaussian_log_likelihood(labels_of({1, 2}), v, m);
        },
        {ll, "mean must be f32 or f64"}));
    EXPECT_TRUE(test::throws_error(
        [&] {
            rmse(m, f64({1.0, 2.0, 3.0}, {3}));
        },
        {"rmse: shapes differ", "[2]", "[3]"}));
    EXPECT_TRUE(
        test::throws_error([&] { rmse(m, Tensor()); }, {"rmse: targets", "undefined tensor"}));
}

}  // namespace
}  // namespace postr
