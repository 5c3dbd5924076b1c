// Predictive and calibration metrics for evaluating a posterior on a test set: accuracy, NLL,
// expected calibration error, Brier score, predictive entropy, OOD AUROC, and for regression the
// Gaussian test log-likelihood and RMSE. Metrics are evaluation, not training: every function
// copies its inputs to the host and sums in f64, whatever their dtype and device.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::inference {

// --- Classification -------------------------------------------------------------------------
//
// Common arguments: probs [N, C], f32 or f64, each row a predictive distribution over C classes
// (for example softmax outputs, or a Monte Carlo / probit predictive); labels [N], i64 in [0, C).
// Both may be on the CPU or CUDA: the N×C values are copied to the host, which is cheap next to
// the forward passes that produced them.
//
// Validation, and what throws postr::Error: an undefined tensor, probs not rank 2 or not
// floating, labels not rank 1 i64 of length N, N = 0 or C = 0, a label outside [0, C), a
// negative or NaN probability, and a row whose sum is off 1 by more than kRowSumTolerance.
//
// The top-1 prediction ŷ_i = argmax_c p_ic takes the lowest index among ties; its confidence is
// p_iŷ.

// Rows must sum to 1 within this. The tolerance is loose because predictive probabilities come
// from f32 softmaxes (rounding about C·6e-8 per row), from averages of S Monte Carlo softmaxes
// and from probit approximations that are renormalized in f32; 1e-3 admits all of these for C up
// to about 10^4, yet still catches logits or unnormalized scores passed by mistake.
inline constexpr double kRowSumTolerance = 1e-3;

// The floor applied to p_y in the log-likelihood, so that a zero probability on the true class
// gives a large finite loss (−log(2.2e-308) ≈ 708.4) instead of +∞. It is the smallest normal
// double, so no representable positive probability above the subnormals is changed.
inline constexpr double kMinProbability = std::numeric_limits<double>::min();

// Fraction of samples whose top-1 prediction equals the label: (1/N) Σ_i 1[ŷ_i = y_i].
double accuracy(const Tensor& probs, const Tensor& labels);

// Mean negative log-likelihood (the negative test log-likelihood per sample):
//   NLL = −(1/N) Σ_i log max(p_{i,y_i}, kMinProbability).
double negative_log_likelihood(const Tensor& probs, const Tensor& labels);

// Expected calibration error of the top-1 prediction (Guo et al. 2017, "On Calibration of Modern
// Neural Networks"), with `bins` equal-width bins on [0, 1]:
//   bin b holds the samples with floor(conf_i · bins) = b, b = 0..bins−1, where a confidence of
//   exactly 1 (or, within the row-sum tolerance, slightly above) goes in the last bin;
//   ECE = Σ_b (n_b / N) · |acc_b − conf_b|,
// with n_b the bin's count, acc_b its accuracy and conf_b its mean confidence (empty bins add 0).
// Throws postr::Error also when bins < 1.
double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins = 10);

// Multi-class Brier score (Brier 1950): (1/N) Σ_i Σ_c (p_ic − 1[c = y_i])². This is the sum over
// classes, in [0, 2], not divided by C (some libraries report the mean over classes, which is
// this divided by C).
double brier_score(const Tensor& probs, const Tensor& labels);

// Predictive entropy per sample, H_i = −Σ_c p_ic log p_ic in nats, with 0 log 0 = 0.
// probs: [N, C] → [N], same dtype and device as probs (computed on the host).
// Throws postr::Error for the probs checks above.
Tensor predictive_entropy(const Tensor& probs);

// The classification metrics over a test set seen in batches. add() folds each batch into
// running sums (correct count, Σ −log p_y, Σ Brier, Σ entropy, and per ECE bin the count, the
// correct count and the confidence sum), so summary() equals the one-shot functions applied to
// the concatenated batches, up to f64 rounding in the order of summation. Batches may differ in
// N, dtype and device, but not in C.
class ClassificationMetrics {
  public:
    // Throws postr::Error when bins < 1.
    explicit ClassificationMetrics(int bins = 10);

    // probs [B, C], labels [B]; checked as the one-shot functions check them. Throws also when
    // C differs from earlier batches.
    void add(const Tensor& probs, const Tensor& labels);

    struct Summary {
        std::int64_t count;  // N, the samples added so far
        double accuracy;
        double nll;           // as negative_log_likelihood
        double ece;           // as expected_calibration_error with this accumulator's bins
        double brier;         // as brier_score
        double mean_entropy;  // mean of predictive_entropy
    };
    // Throws postr::Error when no sample has been added.
    Summary summary() const;

  private:
    int bins_;
    std::int64_t classes_ = 0;  // C, fixed by the first batch
    std::int64_t count_ = 0;
    std::int64_t correct_ = 0;
    double nll_sum_ = 0.0;
    double brier_sum_ = 0.0;
    double entropy_sum_ = 0.0;
    std::vector<std::int64_t> bin_count_;  // [bins]
    std::vector<double> bin_correct_;      // [bins]
    std::vector<double> bin_confidence_;   // [bins], Σ conf_i over the bin
};

// --- Out-of-distribution detection -----------------------------------------------------------

// Area under the ROC curve for telling out-of-distribution samples (the positives, out_scores)
// from in-distribution ones (in_scores) by a score where higher means more OOD, e.g. the
// predictive entropy. Computed as the Mann–Whitney U statistic,
//   AUROC = (1 / (n_in · n_out)) Σ_{o ∈ out} Σ_{i ∈ in} (1[s_o > s_i] + ½·1[s_o = s_i]),
// from mid-ranks after one sort: O(n log n) in n = n_in + n_out. 1 is perfect separation, 0.5 is
// chance (and the value for identical score sets), 0 is perfectly inverted.
// in_scores: [n_in], out_scores: [n_out], f32 or f64, any device (copied to host). Scores are
// compared as doubles, so pass both in one dtype when ties matter (0.4f ≠ 0.4).
// Throws postr::Error for an undefined tensor, a rank other than 1, a non-floating dtype, an
// empty set, or a NaN score.
double auroc(const Tensor& in_scores, const Tensor& out_scores);

// --- Regression ---------------------------------------------------------------------------

// Mean Gaussian test log-likelihood of the targets under the predictive N(mean, variance):
//   LL = (1/N) Σ_i Σ_d −½ [log(2π σ²_id) + (y_id − μ_id)² / σ²_id],
// with σ² the predictive variance (epistemic plus observation noise, as the caller defines it).
// mean, variance, targets: all [N] (D = 1) or all [N, D]; f32 or f64 (may differ); any device.
// Throws postr::Error for an undefined tensor, a non-floating dtype, a rank other than 1 or 2,
// differing shapes, N = 0 or D = 0, or a variance that is not > 0 (zero, negative or NaN).
double gaussian_log_likelihood(const Tensor& mean, const Tensor& variance, const Tensor& targets);

// Root mean squared error over all N·D elements: sqrt((1/(N·D)) Σ_id (μ_id − y_id)²).
// mean, targets: both [N] or both [N, D]; f32 or f64; any device.
// Throws postr::Error as gaussian_log_likelihood does for these two arguments.
double rmse(const Tensor& mean, const Tensor& targets);

}  // namespace postr::inference
