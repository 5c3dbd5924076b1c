// Running moments (see running_moments.h): Welford for one vector, Chan's pairwise combination for
// batches and merges, all on data shifted by the first vector seen.
#include "postr/inference/running_moments.h"

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference {

namespace {
constexpr const char* kOp = "RunningMoments";
}  // namespace

RunningMoments::RunningMoments(std::int64_t dim, Kind kind, DType dtype, Device device)
    : dim_(dim), kind_(kind) {
    POSTR_CHECK(dim >= 1, kOp, ": dim must be >= 1, got ", dim,
                ". Give the length D of the vectors to accumulate.");
    POSTR_CHECK(dtype == DType::f32 || dtype == DType::f64, kOp, ": dtype must be f32 or f64, got ",
                dtype_name(dtype), ". Accumulate in a floating dtype.");
    mean_ = Tensor::zeros({dim}, dtype, device);
    m2_ = kind == Kind::dense ? Tensor::zeros({dim, dim}, dtype, device)
                              : Tensor::zeros({dim}, dtype, device);
    delta_ = Tensor::zeros({dim}, dtype, device);
}

void RunningMoments::update(const Tensor& x) {
    check_defined(kOp, "x", x);
    check_same_dtype(kOp, "x", x, "the accumulator", mean_);
    check_same_device(kOp, "x", x, "the accumulator", mean_);
    const bool one = x.dim() == 1 && x.size(0) == dim_;
    const bool batch = x.dim() == 2 && x.size(1) == dim_;
    POSTR_CHECK(one || batch, kOp, ": x is ", to_string(x.shape()),
                " but the accumulator is over D = ", dim_,
                ". Pass one vector [D] or a batch [B, D].");
    if (x.numel() == 0) return;
    check_finite(kOp, "x", x);
    if (count_ == 0) shift_ = (one ? x : x[0]).clone();

    if (one) {
        // Welford on y = x − c: δ = y − ȳ, ȳ ← ȳ + δ/n, M2 ← M2 + ((n − 1)/n) δ δᵀ (the symmetric
        // form of δ (y − ȳ_new)ᵀ, so the dense M2 stays exactly symmetric).
        delta_.copy_(x);
        axpy_(delta_, -1.0, shift_);
        axpy_(delta_, -1.0, mean_);
        ++count_;
        const double n = static_cast<double>(count_);
        axpy_(mean_, 1.0 / n, delta_);
        if (kind_ == Kind::diagonal) {
            addcmul_(m2_, (n - 1.0) / n, delta_, delta_);
        } else {
            gemm_(m2_, delta_.view({dim_, 1}), delta_.view({1, dim_}), (n - 1.0) / n, 1.0);
        }
        return;
    }
    // A batch: its own two-pass moments (on y = x − c), then Chan's combination.
    const Tensor y = sub(x, shift_);                                                   // [B, D]
    const Tensor batch_mean = postr::mean(y, {0});                                     // [D]
    const Tensor centered = sub(y, batch_mean);                                        // [B, D]
    const Tensor batch_m2 = kind_ == Kind::diagonal ? sum(square(centered), {0})       // [D]
                                                    : matmul(centered.t(), centered);  // [D, D]
    combine(x.size(0), batch_mean, batch_m2);
}

void RunningMoments::combine(std::int64_t count_b, const Tensor& mean_b, const Tensor& m2_b) {
    // Chan, Golub & LeVeque: n = n_a + n_b, δ = ȳ_b − ȳ_a, ȳ = ȳ_a + δ n_b/n,
    // M2 = M2_a + M2_b + δ δᵀ n_a n_b / n.
    if (count_b == 0) return;
    const double na = static_cast<double>(count_), nb = static_cast<double>(count_b);
    const double n = na + nb;
    delta_.copy_(mean_b);
    axpy_(delta_, -1.0, mean_);
    axpy_(mean_, nb / n, delta_);
    axpy_(m2_, 1.0, m2_b);
    if (count_ > 0) {
        if (kind_ == Kind::diagonal) {
            addcmul_(m2_, na * nb / n, delta_, delta_);
        } else {
            gemm_(m2_, delta_.view({dim_, 1}), delta_.view({1, dim_}), na * nb / n, 1.0);
        }
    }
    count_ += count_b;
}

void RunningMoments::merge(const RunningMoments& other) {
    POSTR_CHECK(other.dim_ == dim_ && other.kind_ == kind_, kOp,
                ": cannot merge an accumulator over D = ", other.dim_,
                (other.kind_ == Kind::dense ? " (dense)" : " (diagonal)"),
                " into one over D = ", dim_, (kind_ == Kind::dense ? " (dense)" : " (diagonal)"),
                ". Merge accumulators of the same dimension and kind.");
    check_same_dtype(kOp, "other", other.mean_, "this accumulator", mean_);
    check_same_device(kOp, "other", other.mean_, "this accumulator", mean_);
    if (other.count_ == 0) return;
    if (count_ == 0) {
        count_ = other.count_;
        shift_ = other.shift_.clone();
        mean_.copy_(other.mean_);
        m2_.copy_(other.m2_);
        return;
    }
    // other's mean in this accumulator's frame: ȳ_b + (c_b − c_a). c_b − c_a is exact when the
    // shifts are within a factor 2 of each other, which data worth merging are.
    const Tensor mean_b = add(other.mean_, sub(other.shift_, shift_));
    combine(other.count_, mean_b, other.m2_);
}

Tensor RunningMoments::mean() const {
    POSTR_CHECK(count_ > 0, kOp, ": mean of an empty accumulator. Call update first.");
    return add(shift_, mean_);
}

Tensor RunningMoments::variance(std::int64_t correction) const {
    POSTR_CHECK(correction >= 0 && count_ > correction, kOp, ": variance needs more than ",
                correction, " vectors (correction ", correction, "), got ", count_,
                ". Call update first.");
    const double scale = 1.0 / static_cast<double>(count_ - correction);
    if (kind_ == Kind::diagonal) return mul(m2_, scale);
    // The diagonal of the [D, D] M2: a stride-(D + 1) view.
    return mul(m2_.as_strided({dim_}, {dim_ + 1}, m2_.offset()), scale);
}

Tensor RunningMoments::covariance(std::int64_t correction) const {
    POSTR_CHECK(kind_ == Kind::dense, kOp,
                ": covariance of a diagonal accumulator. Construct it with Kind::dense, or call "
                "variance().");
    POSTR_CHECK(correction >= 0 && count_ > correction, kOp, ": covariance needs more than ",
                correction, " vectors (correction ", correction, "), got ", count_,
                ". Call update first.");
    return mul(m2_, 1.0 / static_cast<double>(count_ - correction));
}

}  // namespace postr::inference
