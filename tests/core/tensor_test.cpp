#include "postr/core/tensor.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

std::vector<double> iota(int n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
}

TEST(Tensor, FromVectorRoundTrips) {
    Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.strides(), (Shape{3, 1}));
    EXPECT_EQ(t.dtype(), DType::f32);
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    Tensor i = Tensor::from_vector(std::vector<std::int64_t>{-3, 1LL << 40}, {2});
    EXPECT_EQ(i.to_vector<std::int64_t>(), (std::vector<std::int64_t>{-3, 1LL << 40}));
}

TEST(Tensor, FactoriesFillEveryDtype) {
    for (DType t : {DType::f32, DType::f64, DType::i64}) {
        EXPECT_EQ(Tensor::zeros({2, 2}, t).to_vector<double>(), std::vector<double>(4, 0.0));
        EXPECT_EQ(Tensor::ones({3}, t).to_vector<double>(), std::vector<double>(3, 1.0));
        EXPECT_EQ(Tensor::full({2}, 7, t).to_vector<double>(), std::vector<double>(2, 7.0));
    }
    EXPECT_EQ(Tensor::scalar(2.5, DType::f64).item(), 2.5);
    EXPECT_EQ(Tensor::scalar(2.5, DType::f64).dim(), 0);
    EXPECT_EQ(Tensor::empty({0, 3}).numel(), 0);
}

TEST(Tensor, FactoriesRejectBadShapes) {
    EXPECT_TRUE(test::throws_error([] { Tensor::empty({2, -1}); }, {"empty", "[2, -1]"}));
    EXPECT_TRUE(test::throws_error([] { Tensor::empty(Shape(11, 1)); }, {"empty", "rank 11"}));
    // No elements, but strides of 2^96: refused rather than overflowing (found by fuzzing the
    // IDX reader; see fuzz/README.md).
    EXPECT_TRUE(test::throws_error(
        [] {
            Tensor::empty({0, 4294967295, 4294967295, 4294967295});
        },
        {"empty", "too large", "overflows"}));
    EXPECT_EQ(Tensor::empty({0, 1 << 20, 1 << 20}).numel(), 0);  // large but representable
    EXPECT_TRUE(test::throws_error(
        [] {
            Tensor::from_vector(std::vector<double>{1, 2, 3}, {2, 2});
        },
        {"from_vector", "3 elements", "[2, 2]"}));
}

TEST(Tensor, ItemNeedsOneElement) {
    EXPECT_EQ(Tensor::full({1, 1}, 3.0).item<float>(), 3.0f);
    EXPECT_TRUE(test::throws_error([] { Tensor::zeros({2}).item(); }, {"item", "[2]"}));
}

TEST(Tensor, CastRoundsTowardZeroAndWidens) {
    Tensor f = Tensor::from_vector(std::vector<double>{-2.7, 0.5, 3.9}, {3});
    EXPECT_EQ(f.to(DType::i64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-2, 0, 3}));
    Tensor s = f.to(DType::f32);
    EXPECT_EQ(s.dtype(), DType::f32);
    EXPECT_FLOAT_EQ(s.to_vector<float>()[0], -2.7f);
    EXPECT_TRUE(f.to(DType::f64).shares_storage_with(f));  // same dtype: no copy
}

TEST(TensorView, ReshapeSharesStorageWhenContiguous) {
    Tensor t = Tensor::from_vector(iota(24), {2, 3, 4});
    Tensor r = t.reshape({4, -1});
    EXPECT_EQ(r.shape(), (Shape{4, 6}));
    EXPECT_TRUE(r.shares_storage_with(t));
    EXPECT_EQ(r.to_vector<double>(), iota(24));
    EXPECT_EQ(t.view({24}).to_vector<double>(), iota(24));
}

TEST(TensorView, ViewOfTransposeThrowsAndReshapeCopies) {
    Tensor t = Tensor::from_vector(iota(6), {2, 3}).t();  // [3, 2], strides (1, 3)
    EXPECT_TRUE(test::throws_error([&] { t.view({6}); }, {"view", "[3, 2]", "reshape"}));
    Tensor r = t.reshape({6});
    EXPECT_FALSE(r.shares_storage_with(t));
    EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(TensorView, ViewSplitsAndMergesCompatibleDims) {
    // A slice along dim 0 keeps rows contiguous, so dims 1 and 2 can still merge and split.
    Tensor t = Tensor::from_vector(iota(60), {5, 3, 4}).slice(0, 1, 5, 2);  // rows 1 and 3
    Tensor v = t.view({2, 12});
    EXPECT_TRUE(v.shares_storage_with(t));
    EXPECT_EQ(v.to_vector<double>(), t.contiguous().to_vector<double>());
    EXPECT_EQ(t.view({2, 3, 2, 2}).to_vector<double>(), t.contiguous().to_vector<double>());
    EXPECT_TRUE(test::throws_error([&] { t.view({24}); }, {"view"}));
    EXPECT_TRUE(test::throws_error([&] { t.view({5, -1}); }, {"view", "-1"}));
    EXPECT_TRUE(test::throws_error([&] { t.view({-1, -1}); }, {"view", "only one"}));
}

TEST(TensorView, PermuteTransposeAndContiguous) {
    Tensor t = Tensor::from_vector(iota(24), {2, 3, 4});
    Tensor p = t.permute({2, 0, 1});
    EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
    EXPECT_FALSE(p.is_contiguous());
    std::vector<double> v = p.to_vector<double>();
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 3; ++j)
                EXPECT_EQ(v[static_cast<std::size_t>(k * 6 + i * 3 + j)], i * 12 + j * 4 + k);
    EXPECT_TRUE(p.contiguous().is_contiguous());
    EXPECT_EQ(p.contiguous().to_vector<double>(), v);
    EXPECT_EQ(t.transpose(0, 2).shape(), (Shape{4, 3, 2}));
    EXPECT_TRUE(test::throws_error([&] { t.permute({0, 0, 1}); }, {"permute", "twice"}));
    EXPECT_TRUE(test::throws_error([&] { t.permute({0, 1}); }, {"permute", "[2, 3, 4]"}));
}

TEST(TensorView, SliceNarrowSelect) {
    Tensor t = Tensor::from_vector(iota(10), {10});
    EXPECT_EQ(t.slice(0, 2, 9, 3).to_vector<double>(), (std::vector<double>{2, 5, 8}));
    EXPECT_EQ(t.slice(0, -3, 10).to_vector<double>(), (std::vector<double>{7, 8, 9}));
    EXPECT_EQ(t.slice(0, 8, 100).numel(), 2);  // clamped like Python slicing
    EXPECT_EQ(t.narrow(0, 4, 2).to_vector<double>(), (std::vector<double>{4, 5}));
    EXPECT_TRUE(test::throws_error([&] { t.narrow(0, 9, 2); }, {"narrow", "[9, 11)", "10"}));
    Tensor m = Tensor::from_vector(iota(12), {3, 4});
    EXPECT_EQ(m.select(1, -1).to_vector<double>(), (std::vector<double>{3, 7, 11}));
    EXPECT_EQ(m[2].to_vector<double>(), (std::vector<double>{8, 9, 10, 11}));
    EXPECT_TRUE(test::throws_error([&] { m.select(0, 3); }, {"select", "index 3", "[3, 4]"}));
    EXPECT_TRUE(test::throws_error([&] { m.select(2, 0); }, {"select", "dim 2", "rank 2"}));
}

TEST(TensorView, ExpandBroadcastsWithZeroStride) {
    Tensor col = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3, 1});
    Tensor e = col.expand({2, 3, 4});
    EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
    std::vector<double> v = e.to_vector<double>();
    EXPECT_EQ(v[5], 2.0);   // [0, 1, 1]
    EXPECT_EQ(v[23], 3.0);  // [1, 2, 3]
    EXPECT_EQ(col.expand({-1, 5}).shape(), (Shape{3, 5}));
    EXPECT_TRUE(test::throws_error([&] { col.expand({2, 4}); }, {"expand", "[3, 1]", "[2, 4]"}));
}

TEST(TensorView, SqueezeUnsqueeze) {
    Tensor t = Tensor::zeros({1, 3, 1, 2});
    EXPECT_EQ(t.squeeze().shape(), (Shape{3, 2}));
    EXPECT_EQ(t.squeeze(2).shape(), (Shape{1, 3, 2}));
    EXPECT_EQ(t.squeeze(1).shape(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged
    EXPECT_EQ(t.unsqueeze(-1).shape(), (Shape{1, 3, 1, 2, 1}));
    EXPECT_EQ(Tensor::scalar(1).unsqueeze(0).shape(), (Shape{1}));
    Tensor v = Tensor::from_vector(iota(6), {2, 3}).unsqueeze(1);
    EXPECT_EQ(v.shape(), (Shape{2, 1, 3}));
    EXPECT_TRUE(v.is_contiguous());
}

TEST(TensorCopy, CopyBroadcastsAndCasts) {
    Tensor dst = Tensor::zeros({2, 3}, DType::f32);
    dst.copy_(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}));
    EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
    EXPECT_TRUE(test::throws_error([&] { dst.copy_(Tensor::zeros({4})); }, {"[4]", "[2, 3]"}));
}

TEST(TensorCopy, CopyIntoStridedDestination) {
    Tensor base = Tensor::zeros({4, 4}, DType::f64);
    Tensor block = base.slice(0, 1, 3).slice(1, 1, 4, 2);  // rows 1..2, cols 1 and 3
    block.copy_(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}));
    std::vector<double> v = base.to_vector<double>();
    std::vector<double> want(16, 0.0);
    want[5] = 1;
    want[7] = 2;
    want[9] = 3;
    want[11] = 4;
    EXPECT_EQ(v, want);
}

TEST(TensorCopy, CloneOfLargeStridedTensorMatches) {
    // Large enough to be split over the thread pool.
    Tensor t = test::random_tensor({300, 500}, DType::f64, 7);
    Tensor s = test::transposed_copy(t);
    EXPECT_FALSE(s.is_contiguous());
    EXPECT_EQ(s.clone().to_vector<double>(), t.to_vector<double>());
    EXPECT_EQ(test::strided_copy(t).to_vector<double>(), t.to_vector<double>());
}

TEST(TensorPrint, ShowsValuesShapeDtypeDevice) {
    std::string s = Tensor::from_vector(std::vector<std::int64_t>{1, 2, 3, 4}, {2, 2}).to_string();
    EXPECT_NE(s.find("[[1, 2],"), std::string::npos) << s;
    EXPECT_NE(s.find("shape=[2, 2], dtype=i64, device=cpu"), std::string::npos) << s;
    std::string big = Tensor::zeros({2000}).to_string();
    EXPECT_NE(big.find("..."), std::string::npos);
    EXPECT_LT(big.size(), 400u);
    EXPECT_EQ(Tensor().to_string(), "tensor(undefined)");
}

TEST(TensorErrors, UndefinedTensorIsAClearError) {
    Tensor t;
    EXPECT_FALSE(t.defined());
    EXPECT_TRUE(test::throws_error([&] { t.clone(); }, {"clone", "undefined"}));
}

TEST(TensorErrors, DataChecksTheDtype) {
    Tensor t = Tensor::zeros({2}, DType::f64);
    EXPECT_NE(t.data<double>(), nullptr);
    EXPECT_TRUE(test::throws_error([&] { t.data<float>(); }, {"data", "f64", "expected f32"}));
}

TEST(TensorDevice, CudaTensorsWithoutADeviceFailClearly) {
    if (cuda_is_available()) GTEST_SKIP() << "a CUDA device is present";
    EXPECT_THROW(Tensor::zeros({2}, DType::f32, Device::cuda()), Error);
}

}  // namespace
}  // namespace postr
