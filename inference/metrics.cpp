// Metrics run on the host in f64: inputs are copied over once (N×C values), and every sum is a
// plain sequential f64 sum, so the streaming accumulator and the one-shot functions agree to
// rounding. The per-sample formulas live in one place each and are used by both paths.
#include "postr/inference/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "postr/core/error.h"

namespace postr::inference {
namespace {

// probs [N, C] and labels [N] on the host, checked.
struct ClassBatch {
    std::int64_t n = 0;
    std::int64_t c = 0;
    std::vector<double> p;        // [N, C] row-major
    std::vector<std::int64_t> y;  // [N]
};

// Checks probs and copies it to the host as f64; fills n, c and p.
void load_probs(const char* op, const Tensor& probs, ClassBatch& batch) {
    check_defined(op, "probs", probs);
    check_floating(op, "probs", probs);
    check_rank(op, "probs", probs, 2);
    POSTR_CHECK(probs.numel() > 0, op, ": probs is empty: shape ", to_string(probs.shape()),
                ". Pass at least one sample (N ≥ 1) and one class (C ≥ 1)");
    batch.n = probs.size(0);
    batch.c = probs.size(1);
    batch.p = probs.to_vector<double>();
    for (std::int64_t i = 0; i < batch.n; ++i) {
        const double* row = batch.p.data() + i * batch.c;
        double sum = 0.0;
        for (std::int64_t k = 0; k < batch.c; ++k) {
            // Written as !(x >= 0) so that NaN fails too.
            POSTR_CHECK(row[k] >= 0.0, op, ": probs has a negative or NaN entry: probs[", i, ", ",
                        k, "] = ", row[k], ". Pass probabilities (e.g. softmax of the logits)");
            sum += row[k];
        }
        POSTR_CHECK(std::abs(sum - 1.0) <= kRowSumTolerance, op,
                    ": probs has a row that does not sum to 1: row ", i, " sums to ", sum,
                    " (tolerance ", kRowSumTolerance,
                    "). Pass probabilities (e.g. softmax of the logits), not logits or scores");
    }
}

ClassBatch load_classification(const char* op, const Tensor& probs, const Tensor& labels) {
    ClassBatch batch;
    load_probs(op, probs, batch);
    check_defined(op, "labels", labels);
    check_dtype(op, "labels", labels, DType::i64);
    check_rank(op, "labels", labels, 1);
    POSTR_CHECK(labels.size(0) == batch.n, op, ": labels has the wrong length: labels is ",
                to_string(labels.shape()), ", probs is ", to_string(probs.shape()),
                ". Pass one label per row of probs");
    batch.y = labels.to_vector<std::int64_t>();
    for (std::int64_t i = 0; i < batch.n; ++i) {
        const std::int64_t label = batch.y[static_cast<std::size_t>(i)];
        POSTR_CHECK(label >= 0 && label < batch.c, op,
                    ": labels has an entry out of range: labels[", i, "] = ", label,
                    " with C = ", batch.c, " classes. Pass class indices in [0, C)");
    }
    return batch;
}

void check_bins(const char* op, int bins) {
    POSTR_CHECK(bins >= 1, op, ": bins must be at least 1: got ", bins,
                ". Pass bins >= 1 (10 is usual)");
}

// The top-1 class (lowest index among ties) and its probability.
std::pair<std::int64_t, double> top1(const double* row, std::int64_t c) {
    std::int64_t best = 0;
    for (std::int64_t k = 1; k < c; ++k)
        if (row[k] > row[best]) best = k;
    return {best, row[best]};
}

double sample_nll(const double* row, std::int64_t label) {
    return -std::log(std::max(row[label], kMinProbability));
}

double sample_brier(const double* row, std::int64_t c, std::int64_t label) {
    double s = 0.0;
    for (std::int64_t k = 0; k < c; ++k) {
        const double d = row[k] - (k == label ? 1.0 : 0.0);
        s += d * d;
    }
    return s;
}

double sample_entropy(const double* row, std::int64_t c) {
    double h = 0.0;
    for (std::int64_t k = 0; k < c; ++k)
        if (row[k] > 0.0) h -= row[k] * std::log(row[k]);
    return h;
}

// Equal-width bins on [0, 1]; a confidence of 1 (or up to the row-sum tolerance above it) would
// index bin `bins`, so it is clamped into the last bin.
std::size_t bin_index(double confidence, int bins) {
    const auto b = static_cast<std::int64_t>(std::floor(confidence * bins));
    return static_cast<std::size_t>(std::clamp<std::int64_t>(b, 0, bins - 1));
}

// ECE from per-bin sums: Σ_b (n_b/N)|acc_b − conf_b| = (1/N) Σ_b |correct_b − Σconf_b|.
double ece_from_bins(const std::vector<double>& correct, const std::vector<double>& confidence,
                     std::int64_t n) {
    double s = 0.0;
    for (std::size_t b = 0; b < correct.size(); ++b) s += std::abs(correct[b] - confidence[b]);
    return s / static_cast<double>(n);
}

const double* row_of(const ClassBatch& batch, std::int64_t i) {
    return batch.p.data() + i * batch.c;
}

std::int64_t label_of(const ClassBatch& batch, std::int64_t i) {
    return batch.y[static_cast<std::size_t>(i)];
}

}  // namespace

double accuracy(const Tensor& probs, const Tensor& labels) {
    const ClassBatch batch = load_classification("accuracy", probs, labels);
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < batch.n; ++i)
        correct += top1(row_of(batch, i), batch.c).first == label_of(batch, i) ? 1 : 0;
    return static_cast<double>(correct) / static_cast<double>(batch.n);
}

double negative_log_likelihood(const Tensor& probs, const Tensor& labels) {
    const ClassBatch batch = load_classification("negative_log_likelihood", probs, labels);
    double s = 0.0;
    for (std::int64_t i = 0; i < batch.n; ++i)
        s += sample_nll(row_of(batch, i), label_of(batch, i));
    return s / static_cast<double>(batch.n);
}

double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins) {
    const char* op = "expected_calibration_error";
    check_bins(op, bins);
    const ClassBatch batch = load_classification(op, probs, labels);
    std::vector<double> correct(static_cast<std::size_t>(bins), 0.0);
    std::vector<double> confidence(static_cast<std::size_t>(bins), 0.0);
    for (std::int64_t i = 0; i < batch.n; ++i) {
        const auto [predicted, conf] = top1(row_of(batch, i), batch.c);
        const std::size_t b = bin_index(conf, bins);
        correct[b] += predicted == label_of(batch, i) ? 1.0 : 0.0;
        confidence[b] += conf;
    }
    return ece_from_bins(correct, confidence, batch.n);
}

double brier_score(const Tensor& probs, const Tensor& labels) {
    const ClassBatch batch = load_classification("brier_score", probs, labels);
    double s = 0.0;
    for (std::int64_t i = 0; i < batch.n; ++i)
        s += sample_brier(row_of(batch, i), batch.c, label_of(batch, i));
    return s / static_cast<double>(batch.n);
}

Tensor predictive_entropy(const Tensor& probs) {
    ClassBatch batch;
    load_probs("predictive_entropy", probs, batch);
    std::vector<double> h(static_cast<std::size_t>(batch.n));  // [N]
    for (std::int64_t i = 0; i < batch.n; ++i)
        h[static_cast<std::size_t>(i)] = sample_entropy(row_of(batch, i), batch.c);
    return Tensor::from_vector(h, {batch.n}).to(probs.dtype()).to(probs.device());
}

ClassificationMetrics::ClassificationMetrics(int bins)
    : bins_(bins),
      bin_count_(static_cast<std::size_t>(std::max(bins, 0)), 0),
      bin_correct_(static_cast<std::size_t>(std::max(bins, 0)), 0.0),
      bin_confidence_(static_cast<std::size_t>(std::max(bins, 0)), 0.0) {
    check_bins("ClassificationMetrics", bins);
}

void ClassificationMetrics::add(const Tensor& probs, const Tensor& labels) {
    const char* op = "ClassificationMetrics::add";
    const ClassBatch batch = load_classification(op, probs, labels);
    POSTR_CHECK(classes_ == 0 || batch.c == classes_, op,
                ": probs has a different number of classes from earlier batches: C = ", batch.c,
                ", earlier C = ", classes_, ". Pass batches from the same model and label set");
    classes_ = batch.c;
    for (std::int64_t i = 0; i < batch.n; ++i) {
        const double* row = row_of(batch, i);
        const std::int64_t label = label_of(batch, i);
        const auto [predicted, conf] = top1(row, batch.c);
        const bool hit = predicted == label;
        correct_ += hit ? 1 : 0;
        nll_sum_ += sample_nll(row, label);
        brier_sum_ += sample_brier(row, batch.c, label);
        entropy_sum_ += sample_entropy(row, batch.c);
        const std::size_t b = bin_index(conf, bins_);
        bin_count_[b] += 1;
        bin_correct_[b] += hit ? 1.0 : 0.0;
        bin_confidence_[b] += conf;
    }
    count_ += batch.n;
}

ClassificationMetrics::Summary ClassificationMetrics::summary() const {
    POSTR_CHECK(count_ > 0, "ClassificationMetrics::summary: the accumulator is empty: 0 samples ",
                "added. Call add() with at least one batch first");
    const auto n = static_cast<double>(count_);
    return Summary{count_,         static_cast<double>(correct_) / n,
                   nll_sum_ / n,   ece_from_bins(bin_correct_, bin_confidence_, count_),
                   brier_sum_ / n, entropy_sum_ / n};
}

namespace {

std::vector<double> load_scores(const char* name, const Tensor& scores) {
    const char* op = "auroc";
    check_defined(op, name, scores);
    check_floating(op, name, scores);
    check_rank(op, name, scores, 1);
    POSTR_CHECK(scores.numel() > 0, op, ": ", name, " is empty: shape ", to_string(scores.shape()),
                ". Pass at least one score in each set");
    std::vector<double> s = scores.to_vector<double>();
    for (std::size_t i = 0; i < s.size(); ++i)
        POSTR_CHECK(!std::isnan(s[i]), op, ": ", name, " has a NaN entry: ", name, "[", i,
                    "] = nan. Remove or fix NaN scores before computing the AUROC");
    return s;
}

}  // namespace

double auroc(const Tensor& in_scores, const Tensor& out_scores) {
    const std::vector<double> in = load_scores("in_scores", in_scores);
    const std::vector<double> out = load_scores("out_scores", out_scores);
    // (score, is_out), sorted by score; then walk the groups of equal scores. For a group with
    // in_g in-scores and out_g out-scores above `in_below` smaller in-scores, its out-scores beat
    // in_below in-scores and tie in_g: 2U gains out_g · (2·in_below + in_g). Integer counts keep
    // U exact (2·n_in·n_out fits in i64 for any test set that fits in memory).
    std::vector<std::pair<double, bool>> all;
    all.reserve(in.size() + out.size());
    for (double s : in) all.emplace_back(s, false);
    for (double s : out) all.emplace_back(s, true);
    std::sort(all.begin(), all.end());
    std::int64_t in_below = 0;
    std::int64_t twice_u = 0;
    for (std::size_t g = 0; g < all.size();) {
        std::size_t end = g;
        std::int64_t in_g = 0;
        std::int64_t out_g = 0;
        for (; end < all.size() && all[end].first == all[g].first; ++end)
            (all[end].second ? out_g : in_g) += 1;
        twice_u += out_g * (2 * in_below + in_g);
        in_below += in_g;
        g = end;
    }
    return static_cast<double>(twice_u) /
           (2.0 * static_cast<double>(in.size()) * static_cast<double>(out.size()));
}

namespace {

// Checks one regression argument (rank 1 or 2, floating, non-empty) and copies it to the host.
std::vector<double> load_regression(const char* op, const char* name, const Tensor& t) {
    check_defined(op, name, t);
    check_floating(op, name, t);
    POSTR_CHECK(t.dim() == 1 || t.dim() == 2, op, ": ", name, " must have rank 1 or 2: got ",
                to_string(t.shape()), ". Pass [N] or [N, D]");
    POSTR_CHECK(t.numel() > 0, op, ": ", name, " is empty: shape ", to_string(t.shape()),
                ". Pass at least one sample (N ≥ 1) and one output (D ≥ 1)");
    return t.to_vector<double>();
}

}  // namespace

double gaussian_log_likelihood(const Tensor& mean, const Tensor& variance, const Tensor& targets) {
    const char* op = "gaussian_log_likelihood";
    const std::vector<double> mu = load_regression(op, "mean", mean);
    const std::vector<double> var = load_regression(op, "variance", variance);
    const std::vector<double> y = load_regression(op, "targets", targets);
    check_same_shape(op, "mean", mean, "variance", variance);
    check_same_shape(op, "mean", mean, "targets", targets);
    const double log_2pi = std::log(2.0 * std::numbers::pi);
    double s = 0.0;
    for (std::size_t k = 0; k < var.size(); ++k) {
        POSTR_CHECK(var[k] > 0.0, op, ": variance has an entry that is not positive: variance[", k,
                    "] (flat index) = ", var[k],
                    ". Pass the predictive variance, which must be > 0 (add the observation "
                    "noise variance)");
        const double r = y[k] - mu[k];
        s -= 0.5 * (log_2pi + std::log(var[k]) + r * r / var[k]);
    }
    return s / static_cast<double>(mean.size(0));
}

double rmse(const Tensor& mean, const Tensor& targets) {
    const char* op = "rmse";
    const std::vector<double> mu = load_regression(op, "mean", mean);
    const std::vector<double> y = load_regression(op, "targets", targets);
    check_same_shape(op, "mean", mean, "targets", targets);
    double s = 0.0;
    for (std::size_t k = 0; k < mu.size(); ++k) s += (mu[k] - y[k]) * (mu[k] - y[k]);
    return std::sqrt(s / static_cast<double>(mu.size()));
}

}  // namespace postr::inference
