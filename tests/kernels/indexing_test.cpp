// index_select, gather, scatter_add(_), masked_fill and cat on the CPU against naive host
// references written here (row-major index arithmetic on plain vectors).
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

using test::all_close;
using test::random_ints;
using test::random_tensor;
using test::throws_error;

// Row-major multi-index of flat position `p` in `shape`, and back.
Shape unravel(std::int64_t p, const Shape& shape) {
    Shape idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        idx[d] = p % shape[d];
        p /= shape[d];
    }
    return idx;
}
std::int64_t ravel(const Shape& idx, const Shape& shape) {
    std::int64_t p = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) p = p * shape[d] + idx[d];
    return p;
}

// out[p] = x[p with coordinate dim replaced by index[p]], index of out's shape.
std::vector<double> gather_reference(const Tensor& x, int dim, const Tensor& index) {
    std::vector<double> xv = x.to_vector<double>(), out(static_cast<std::size_t>(index.numel()));
    std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
    for (std::int64_t p = 0; p < index.numel(); ++p) {
        Shape c = unravel(p, index.shape());
        c[static_cast<std::size_t>(dim)] = iv[static_cast<std::size_t>(p)];
        out[static_cast<std::size_t>(p)] = xv[static_cast<std::size_t>(ravel(c, x.shape()))];
    }
    return out;
}

// Accumulates in T, in row-major order of index: the order the CPU kernel adds duplicates in.
template <class T>
std::vector<T> scatter_add_reference(const Tensor& x, int dim, const Tensor& index,
                                     const Tensor& src) {
    std::vector<T> out = x.to_vector<T>(), sv = src.to_vector<T>();
    std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
    for (std::int64_t p = 0; p < index.numel(); ++p) {
        Shape c = unravel(p, index.shape());
        T v = sv[static_cast<std::size_t>(ravel(c, src.shape()))];
        c[static_cast<std::size_t>(dim)] = iv[static_cast<std::size_t>(p)];
        out[static_cast<std::size_t>(ravel(c, x.shape()))] += v;
    }
    return out;
}

Tensor values_like(const std::vector<double>& v, const Shape& shape) {
    return Tensor::from_vector(v, shape);
}

TEST(IndexSelect, MatchesReferenceAlongEveryDim) {
    std::uint64_t seed = 1;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (const Shape& shape : {Shape{7}, Shape{4, 5}, Shape{3, 4, 6}}) {
            for (int dim = -static_cast<int>(shape.size()); dim < static_cast<int>(shape.size());
                 ++dim) {
                SCOPED_TRACE(::testing::Message() << "shape " << to_string(shape) << " dim " << dim
                                                  << " dtype " << dtype_name(dtype));
                Tensor x = dtype == DType::i64 ? random_ints(shape, -50, 50, ++seed)
                                               : random_tensor(shape, dtype, ++seed);
                int d = dim < 0 ? dim + static_cast<int>(shape.size()) : dim;
                // Duplicates included: 9 draws from a dim of at most 7.
                Tensor index = random_ints({9}, 0, shape[static_cast<std::size_t>(d)], ++seed);
                Tensor out = index_select(x, dim, index);
                Shape out_shape = shape;
                out_shape[static_cast<std::size_t>(d)] = 9;
                ASSERT_EQ(out.shape(), out_shape);
                EXPECT_EQ(out.dtype(), dtype);
                Tensor expanded_index = index
                                            .reshape([&] {
                                                Shape s(shape.size(), 1);
                                                s[static_cast<std::size_t>(d)] = 9;
                                                return s;
                                            }())
                                            .expand(out_shape)
                                            .contiguous();
                Tensor expected = values_like(gather_reference(x, d, expanded_index), out_shape);
                EXPECT_TRUE(all_close(out.to(DType::f64), expected, 0, 0));
                // Non-contiguous x and index give the same values.
                Tensor xs = shape.size() >= 2 ? test::transposed_copy(x) : test::strided_copy(x);
                EXPECT_TRUE(
                    all_close(index_select(xs, dim, test::strided_copy(index)).to(DType::f64),
                              expected, 0, 0));
            }
        }
    }
}

TEST(IndexSelect, EmptyIndexAndEmptyX) {
    Tensor x = random_tensor({3, 4}, DType::f32, 3);
    Tensor none = Tensor::empty({0}, DType::i64);
    EXPECT_EQ(index_select(x, 1, none).shape(), (Shape{3, 0}));
    Tensor empty_rows = Tensor::empty({0, 4});
    EXPECT_EQ(index_select(empty_rows, 1, random_ints({2}, 0, 4, 4)).shape(), (Shape{0, 2}));
}

TEST(IndexSelect, RejectsBadIndices) {
    Tensor x = random_tensor({3, 5}, DType::f32, 5);
    Tensor big = Tensor::from_vector(std::vector<std::int64_t>{0, 7, 2}, {3});
    EXPECT_TRUE(throws_error([&] { index_select(x, 1, big); },
                             {"index_select", "7", "size 5", "[3, 5]", "[3]"}));
    Tensor negative = Tensor::from_vector(std::vector<std::int64_t>{0, -1}, {2});
    EXPECT_TRUE(throws_error([&] { index_select(x, 0, negative); },
                             {"index_select", "-1", "size 3", "negative indices"}));
    EXPECT_TRUE(throws_error([&] { index_select(x, 0, Tensor::zeros({2}, DType::f32)); },
                             {"index_select", "index", "i64"}));
    EXPECT_TRUE(throws_error(
        [&] {
            index_select(x, 0, Tensor::zeros({2, 1}, DType::i64));
        },
        {"index_select", "index", "rank 1", "[2, 1]"}));
    EXPECT_TRUE(throws_error([&] { index_select(x, 2, Tensor::zeros({2}, DType::i64)); },
                             {"index_select", "dim 2"}));
}

TEST(Gather, MatchesReference) {
    std::uint64_t seed = 100;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (int dim : {0, 1, 2, -1}) {
            SCOPED_TRACE(::testing::Message() << "dim " << dim << " dtype " << dtype_name(dtype));
            const Shape shape{4, 5, 6};
            Tensor x = dtype == DType::i64 ? random_ints(shape, -50, 50, ++seed)
                                           : random_tensor(shape, dtype, ++seed);
            int d = dim < 0 ? dim + 3 : dim;
            // index may be smaller than x off `dim` and longer than x along it.
            Shape index_shape{3, 4, 5};
            index_shape[static_cast<std::size_t>(d)] = 8;
            Tensor index = random_ints(index_shape, 0, shape[static_cast<std::size_t>(d)], ++seed);
            Tensor expected = values_like(gather_reference(x, d, index), index_shape);
            Tensor out = gather(x, dim, index);
            EXPECT_EQ(out.dtype(), dtype);
            EXPECT_TRUE(all_close(out.to(DType::f64), expected, 0, 0));
            EXPECT_TRUE(all_close(
                gather(test::transposed_copy(x), dim, test::strided_copy(index)).to(DType::f64),
                expected, 0, 0));
        }
    }
}

TEST(Gather, RejectsBadArguments) {
    Tensor x = random_tensor({3, 4}, DType::f64, 7);
    Tensor index = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 4, 2}, {2, 2});
    EXPECT_TRUE(
        throws_error([&] { gather(x, 1, index); }, {"gather", "4", "size 4", "[3, 4]", "[2, 2]"}));
    EXPECT_TRUE(throws_error([&] { gather(x, 1, Tensor::zeros({3}, DType::i64)); },
                             {"gather", "rank", "[3, 4]", "[3]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            gather(x, 1, Tensor::zeros({5, 1}, DType::i64));
        },
        {"gather", "dim 0", "[3, 4]", "[5, 1]"}));
    EXPECT_EQ(gather(x, 0, Tensor::zeros({0, 4}, DType::i64)).shape(), (Shape{0, 4}));
}

template <class T>
void check_scatter_add(DType dtype, std::uint64_t seed) {
    for (int dim : {0, 1, -1}) {
        SCOPED_TRACE(::testing::Message() << "dim " << dim << " dtype " << dtype_name(dtype));
        const Shape shape{5, 6};
        int d = dim < 0 ? dim + 2 : dim;
        Tensor x = dtype == DType::i64 ? random_ints(shape, -9, 9, ++seed)
                                       : random_tensor(shape, dtype, ++seed);
        // 12 draws from at most 6 rows: many duplicates; index smaller than src off `dim`.
        Shape index_shape{4, 5};
        index_shape[static_cast<std::size_t>(d)] = 12;
        Shape src_shape{5, 6};
        src_shape[static_cast<std::size_t>(d)] = 13;
        Tensor index = random_ints(index_shape, 0, shape[static_cast<std::size_t>(d)], ++seed);
        Tensor src = dtype == DType::i64 ? random_ints(src_shape, -9, 9, ++seed)
                                         : random_tensor(src_shape, dtype, ++seed);
        std::vector<T> ref = scatter_add_reference<T>(x, d, index, src);
        Tensor expected = Tensor::from_vector(std::vector<double>(ref.begin(), ref.end()), shape);
        Tensor before = x.clone();
        Tensor out = scatter_add(x, dim, index, src);
        // Exact: the kernel adds in the reference's order, in the same precision.
        EXPECT_TRUE(all_close(out.to(DType::f64), expected, 0, 0));
        EXPECT_TRUE(all_close(x, before, 0, 0)) << "scatter_add modified its input";
        // In place into a transposed (non-contiguous) x, from strided src and index.
        Tensor xt = test::transposed_copy(x);
        scatter_add_(xt, dim, test::strided_copy(index), test::strided_copy(src));
        EXPECT_TRUE(all_close(xt.to(DType::f64), expected, 0, 0));
    }
}

TEST(ScatterAdd, MatchesReferenceWithDuplicates) {
    check_scatter_add<float>(DType::f32, 200);
    check_scatter_add<double>(DType::f64, 300);
    check_scatter_add<std::int64_t>(DType::i64, 400);
}

TEST(ScatterAdd, IsTheAdjointOfGather) {
    // <gather(x, i), y> = <x, scatter_add(0, i, y)> for every x and y: the identity autodiff
    // relies on. f64, sums of 60 products of O(1) terms: 1e-12 relative is ~100 ε.
    Tensor x = random_tensor({6, 7}, DType::f64, 11);
    Tensor index = random_ints({10, 6}, 0, 6, 12);
    Tensor y = random_tensor({10, 6}, DType::f64, 13);
    std::vector<double> g = gather(x, 0, index).to_vector<double>(), yv = y.to_vector<double>();
    std::vector<double> s = scatter_add(Tensor::zeros({6, 7}, DType::f64), 0, index, y)
                                .to_vector<double>(),
                        xv = x.to_vector<double>();
    double lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < g.size(); ++i) lhs += g[i] * yv[i];
    for (std::size_t i = 0; i < s.size(); ++i) rhs += xv[i] * s[i];
    EXPECT_NEAR(lhs, rhs, 1e-12 * std::abs(lhs) + 1e-14);
}

TEST(ScatterAdd, RejectsBadArguments) {
    Tensor x = Tensor::zeros({3, 4}, DType::f32);
    Tensor src = random_tensor({3, 4}, DType::f32, 21);
    Tensor index = Tensor::from_vector(std::vector<std::int64_t>{0, 3, 1, 2}, {1, 4});
    EXPECT_TRUE(throws_error([&] { scatter_add(x, 0, index, src); },
                             {"scatter_add:", "3", "size 3", "[3, 4]", "[1, 4]"}));
    EXPECT_TRUE(throws_error([&] { scatter_add_(x, 0, index, src); }, {"scatter_add_:", "3"}));
    EXPECT_TRUE(throws_error(
        [&] {
            scatter_add(x, 0, Tensor::zeros({1, 4}, DType::i64), src.to(DType::f64));
        },
        {"scatter_add", "dtypes differ"}));
    EXPECT_TRUE(throws_error(
        [&] {
            scatter_add(x, 0, Tensor::zeros({4, 4}, DType::i64), src);
        },
        {"scatter_add", "src", "dim 0", "[4, 4]", "[3, 4]"}));
    Tensor broadcast = Tensor::zeros({1, 4}).expand({3, 4});
    EXPECT_TRUE(throws_error(
        [&] {
            scatter_add_(broadcast, 0, Tensor::zeros({1, 4}, DType::i64), src);
        },
        {"scatter_add_", "broadcast", "[3, 4]"}));
}

TEST(MaskedFill, FillsWhereMaskIsSetForAnyMaskDtype) {
    Tensor x = random_tensor({4, 5}, DType::f64, 31);
    Tensor mask = random_ints({1, 5}, 0, 2, 32);  // broadcast over rows
    std::vector<double> xv = x.to_vector<double>();
    std::vector<std::int64_t> mv = mask.to_vector<std::int64_t>();
    std::vector<double> ref(xv);
    for (std::size_t i = 0; i < ref.size(); ++i)
        if (mv[i % 5] != 0) ref[i] = -7.5;
    Tensor expected = Tensor::from_vector(ref, {4, 5});
    for (DType mask_dtype : {DType::i64, DType::f32, DType::f64}) {
        SCOPED_TRACE(dtype_name(mask_dtype));
        EXPECT_TRUE(all_close(masked_fill(x, mask.to(mask_dtype), -7.5), expected, 0, 0));
        EXPECT_TRUE(all_close(
            masked_fill(test::transposed_copy(x), mask.to(mask_dtype).expand({4, 5}), -7.5),
            expected, 0, 0));
    }
    // i64 x, fill with infinity in f32, empty x.
    Tensor xi = random_ints({3}, 0, 5, 33);
    EXPECT_EQ(masked_fill(xi, Tensor::from_vector(std::vector<std::int64_t>{1, 0, 0}, {3}), 9)
                  .to_vector<std::int64_t>()[0],
              9);
    Tensor inf = masked_fill(Tensor::zeros({2}), Tensor::ones({2}), INFINITY);
    EXPECT_TRUE(std::isinf(inf.to_vector<float>()[1]));
    EXPECT_EQ(masked_fill(Tensor::empty({0, 3}), Tensor::ones({3}), 1).shape(), (Shape{0, 3}));
}

TEST(MaskedFill, RejectsMaskThatDoesNotBroadcastToX) {
    Tensor x = Tensor::zeros({2, 3});
    EXPECT_TRUE(throws_error(
        [&] {
            masked_fill(x, Tensor::ones({2, 2, 3}), 1);
        },
        {"masked_fill", "[2, 3]", "[2, 2, 3]"}));
    EXPECT_TRUE(throws_error([&] { masked_fill(x, Tensor::ones({4}), 1); },
                             {"masked_fill", "[2, 3]", "[4]"}));
}

TEST(Cat, ConcatenatesAlongEveryDim) {
    std::uint64_t seed = 40;
    for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
        for (int dim : {0, 1, 2, -1}) {
            SCOPED_TRACE(::testing::Message() << "dim " << dim << " dtype " << dtype_name(dtype));
            int d = dim < 0 ? dim + 3 : dim;
            std::vector<Tensor> parts;
            std::vector<std::int64_t> lengths{2, 0, 3, 1};
            for (std::int64_t len : lengths) {
                Shape s{2, 3, 4};
                s[static_cast<std::size_t>(d)] = len;
                Tensor t = dtype == DType::i64 ? random_ints(s, -9, 9, ++seed)
                                               : random_tensor(s, dtype, ++seed);
                parts.push_back(len == 3 ? test::transposed_copy(t) : t);
            }
            parts.insert(parts.begin() + 1, Tensor::empty({0}, dtype));  // skipped, as in PyTorch
            Tensor out = cat(parts, dim);
            Shape s{2, 3, 4};
            s[static_cast<std::size_t>(d)] = 6;
            ASSERT_EQ(out.shape(), s);
            std::vector<double> ov = out.to_vector<double>();
            for (std::int64_t p = 0; p < out.numel(); ++p) {
                Shape c = unravel(p, s);
                std::int64_t along = c[static_cast<std::size_t>(d)];
                std::size_t part = 0;
                for (; parts[part].dim() == 1 || along >= parts[part].size(d); ++part)
                    if (parts[part].dim() != 1) along -= parts[part].size(d);
                c[static_cast<std::size_t>(d)] = along;
                std::vector<double> pv = parts[part].to_vector<double>();
                ASSERT_EQ(ov[static_cast<std::size_t>(p)],
                          pv[static_cast<std::size_t>(ravel(c, parts[part].shape()))]);
            }
        }
    }
}

TEST(Cat, RejectsMismatchedInputs) {
    Tensor a = Tensor::zeros({2, 3});
    EXPECT_TRUE(throws_error([&] { cat({}, 0); }, {"cat", "empty list"}));
    EXPECT_TRUE(throws_error(
        [&] {
            cat({a, Tensor::zeros({2, 4})}, 0);
        },
        {"cat", "dim 1", "[2, 3]", "[2, 4]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            cat({a, Tensor::zeros({2, 3}, DType::f64)}, 0);
        },
        {"cat", "dtypes differ", "tensors[1]"}));
    EXPECT_TRUE(throws_error(
        [&] {
            cat({a, Tensor::zeros({2, 3, 1})}, 0);
        },
        {"cat", "ranks differ", "[2, 3]", "[2, 3, 1]"}));
    EXPECT_TRUE(throws_error([&] { cat({Tensor::scalar(1)}, 0); }, {"cat", "rank 0"}));
    EXPECT_TRUE(throws_error([&] { cat({a}, 2); }, {"cat", "dim 2"}));
    EXPECT_EQ(cat({Tensor::empty({0}), Tensor::empty({0})}, 0).shape(), (Shape{0}));
}

}  // namespace
}  // namespace postr
