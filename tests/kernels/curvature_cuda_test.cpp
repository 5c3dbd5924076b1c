// CPU/CUDA parity of the per-layer curvature kernels (curvature_ops.h): every function, f32 and
// f64, outputs written into column slices of a wider tensor, subsets with repeated indices,
// accumulation into a nonzero diag, empty sizes, and the index range check. The CPU is the
// reference (STYLE 3.0).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "postr/kernels/curvature_ops.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::all_close;
using test::random_tensor;
using test::throws_error;
using i64 = std::int64_t;

double eps_of(DType dt) { return dt == DType::f32 ? test::kEpsF32 : test::kEpsF64; }

// The inputs of one layer on one device.
struct Inputs {
    Tensor cot, x;
    Inputs to(Device d) const { return {cot.to(d), x.to(d)}; }
};

// The three forms of one layer, given its inputs.
struct Layer {
    std::string name;
    i64 p;
    // Most products summed into one J entry (inputs lie in [−1, 1], so |J| ≤ terms): the two
    // devices sum in different orders, each within terms·ε of the exact value.
    double terms;
    std::function<void(const Inputs&, const Tensor&)> full;
    std::function<void(const Inputs&, const Tensor&, const Tensor&)> subset;
    std::function<void(const Inputs&, const Tensor&)> sq_sum;
};

Layer linear_layer(i64 o, i64 in, bool bias) {
    return {
        "linear",
        o * in + (bias ? o : 0),
        1.0,
        [=](const Inputs& a, const Tensor& out) { linear_jacobian_into(a.cot, a.x, bias, out); },
        [=](const Inputs& a, const Tensor& idx, const Tensor& out) {
            linear_jacobian_subset_into(a.cot, a.x, bias, idx, out);
        },
        [=](const Inputs& a, const Tensor& d) { linear_jacobian_sq_sum_(a.cot, a.x, bias, d); }};
}

Layer conv_layer(i64 o, i64 in, i64 kh, i64 kw, i64 hw, Conv2dOptions opt, bool bias) {
    return {"conv2d",
            o * in * kh * kw + (bias ? o : 0),
            static_cast<double>(hw),
            [=](const Inputs& a, const Tensor& out) {
                conv2d_jacobian_into(a.cot, a.x, kh, kw, opt, bias, out);
            },
            [=](const Inputs& a, const Tensor& idx, const Tensor& out) {
                conv2d_jacobian_subset_into(a.cot, a.x, kh, kw, opt, bias, idx, out);
            },
            [=](const Inputs& a, const Tensor& d) {
                conv2d_jacobian_sq_sum_(a.cot, a.x, kh, kw, opt, bias, d);
            }};
}

Layer affine_layer(i64 c, i64 hw) {
    return {
        "channel_affine",
        2 * c,
        static_cast<double>(hw),
        [](const Inputs& a, const Tensor& out) { channel_affine_jacobian_into(a.cot, a.x, out); },
        [](const Inputs& a, const Tensor& idx, const Tensor& out) {
            channel_affine_jacobian_subset_into(a.cot, a.x, idx, out);
        },
        [](const Inputs& a, const Tensor& d) { channel_affine_jacobian_sq_sum_(a.cot, a.x, d); }};
}

// Runs all three forms on both devices and compares. out is a column slice [2, 2 + width) of
// a wider tensor whose other columns must keep their sentinel on both devices.
void check_parity(const Layer& layer, const Inputs& cpu_in, std::uint64_t seed) {
    const DType dt = cpu_in.cot.dtype();
    SCOPED_TRACE(layer.name + (dt == DType::f64 ? " f64" : " f32") + " cot " +
                 to_string(cpu_in.cot.shape()));
    const Inputs gpu_in = cpu_in.to(Device::cuda());
    const i64 n = cpu_in.cot.size(1), k = cpu_in.cot.size(0), p = layer.p;
    const double tol = 4 * layer.terms * eps_of(dt);
    auto wide_pair = [&](i64 width) {
        Tensor c = Tensor::full({n, k, width + 5}, 7.0, dt);
        return std::pair{c, c.to(Device::cuda())};
    };

    auto [wc, wg] = wide_pair(p);
    layer.full(cpu_in, wc.slice(2, 2, 2 + p));
    layer.full(gpu_in, wg.slice(2, 2, 2 + p));
    EXPECT_TRUE(all_close(wg.to(Device::cpu()), wc, tol, tol));

    std::vector<i64> idx;
    if (p > 0) {
        idx = test::random_ints({9}, 0, p, seed).to_vector<i64>();
        idx.push_back(p - 1);
        idx.push_back(idx.front());
    }
    const i64 s = static_cast<i64>(idx.size());
    Tensor index = Tensor::from_vector(idx, {s});
    auto [sc, sg] = wide_pair(s);
    layer.subset(cpu_in, index, sc.slice(2, 2, 2 + s));
    layer.subset(gpu_in, index.to(Device::cuda()), sg.slice(2, 2, 2 + s));
    EXPECT_TRUE(all_close(sg.to(Device::cpu()), sc, tol, tol));

    // Positive terms added to a positive diag: relative error ≤ (number of terms)·ε per side.
    Tensor d0 = random_tensor({p}, dt, seed + 1, 0.5, 1.0);
    Tensor dc = d0.clone(), dg = d0.to(Device::cuda());
    layer.sq_sum(cpu_in, dc);
    layer.sq_sum(gpu_in, dg);
    const double rtol = 8 * (static_cast<double>(n * k) + 2 * layer.terms + 1) * eps_of(dt);
    EXPECT_TRUE(all_close(dg.to(Device::cpu()), dc, rtol, 0.0));
}

const DType kDtypes[] = {DType::f32, DType::f64};

TEST(CurvatureCuda, LinearMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 1;
    for (DType dt : kDtypes)
        for (bool bias : {false, true}) {
            check_parity(
                linear_layer(17, 33, bias),
                {random_tensor({4, 9, 17}, dt, seed), random_tensor({9, 33}, dt, seed + 1)}, seed);
            check_parity(linear_layer(10, 128, bias),
                         {random_tensor({10, 128, 10}, dt, seed + 2),
                          random_tensor({128, 128}, dt, seed + 3)},
                         seed + 2);
            seed += 4;
        }
}

TEST(CurvatureCuda, Conv2dMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    struct C {
        i64 n, k, o, in, h, w, kh, kw;
        Conv2dOptions opt;
        bool bias;
    };
    const C cases[] = {
        {2, 3, 4, 3, 6, 5, 3, 3, {1, 1, 1, 1, 1, 1}, true},
        {3, 2, 5, 2, 7, 8, 3, 2, {2, 1, 0, 1, 1, 1}, false},
        {2, 2, 3, 2, 9, 9, 3, 3, {1, 2, 2, 1, 2, 1}, true},
        {8, 10, 16, 16, 8, 8, 3, 3, {1, 1, 1, 1, 1, 1}, true},
    };
    std::uint64_t seed = 20;
    for (DType dt : kDtypes)
        for (const C& c : cases) {
            const i64 ho =
                (c.h + 2 * c.opt.pad_h - c.opt.dilation_h * (c.kh - 1) - 1) / c.opt.stride_h + 1;
            const i64 wo =
                (c.w + 2 * c.opt.pad_w - c.opt.dilation_w * (c.kw - 1) - 1) / c.opt.stride_w + 1;
            check_parity(conv_layer(c.o, c.in, c.kh, c.kw, ho * wo, c.opt, c.bias),
                         {random_tensor({c.k, c.n, c.o, ho, wo}, dt, seed),
                          random_tensor({c.n, c.in, c.h, c.w}, dt, seed + 1)},
                         seed);
            seed += 2;
        }
}

TEST(CurvatureCuda, ChannelAffineMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    std::uint64_t seed = 40;
    for (DType dt : kDtypes) {
        check_parity(
            affine_layer(5, 12),
            {random_tensor({4, 3, 5, 3, 4}, dt, seed), random_tensor({3, 5, 3, 4}, dt, seed + 1)},
            seed);
        check_parity(affine_layer(64, 64),
                     {random_tensor({10, 8, 64, 8, 8}, dt, seed + 2),
                      random_tensor({8, 64, 8, 8}, dt, seed + 3)},
                     seed + 2);
        seed += 4;
    }
}

TEST(CurvatureCuda, NonContiguousInputsMatchCpu) {
    POSTR_REQUIRE_CUDA();
    Tensor cot = random_tensor({3, 4, 6}, DType::f64, 50),
           x = random_tensor({4, 5}, DType::f64, 51);
    check_parity(linear_layer(6, 5, true), {test::strided_copy(cot), test::transposed_copy(x)}, 50);
    Tensor ccot = random_tensor({2, 3, 4, 5, 5}, DType::f64, 52);
    Tensor cx = random_tensor({3, 2, 5, 5}, DType::f64, 53);
    check_parity(conv_layer(4, 2, 3, 3, 25, {1, 1, 1, 1, 1, 1}, true),
                 {test::strided_copy(ccot), test::strided_copy(cx)}, 52);
}

TEST(CurvatureCuda, EmptySizes) {
    POSTR_REQUIRE_CUDA();
    for (DType dt : kDtypes) {
        check_parity(linear_layer(4, 5, true),
                     {random_tensor({3, 0, 4}, dt, 60), random_tensor({0, 5}, dt, 61)}, 60);
        check_parity(linear_layer(4, 5, true),
                     {random_tensor({0, 3, 4}, dt, 62), random_tensor({3, 5}, dt, 63)}, 62);
        check_parity(linear_layer(4, 0, true),
                     {random_tensor({2, 3, 4}, dt, 64), random_tensor({3, 0}, dt, 65)}, 64);
        check_parity(conv_layer(3, 0, 3, 3, 25, {1, 1, 1, 1, 1, 1}, true),
                     {random_tensor({2, 2, 3, 5, 5}, dt, 66), random_tensor({2, 0, 5, 5}, dt, 67)},
                     66);
        check_parity(conv_layer(3, 2, 3, 3, 25, {1, 1, 1, 1, 1, 1}, true),
                     {random_tensor({0, 2, 3, 5, 5}, dt, 68), random_tensor({2, 2, 5, 5}, dt, 69)},
                     68);
        check_parity(affine_layer(0, 4),
                     {random_tensor({2, 3, 0, 2, 2}, dt, 70), random_tensor({3, 0, 2, 2}, dt, 71)},
                     70);
    }
}

TEST(CurvatureCuda, RejectsOutOfRangeIndex) {
    POSTR_REQUIRE_CUDA();
    const Device gpu = Device::cuda();
    Tensor cot = random_tensor({2, 3, 4}, DType::f32, 80, -1, 1, gpu);
    Tensor x = random_tensor({3, 5}, DType::f32, 81, -1, 1, gpu);
    Tensor bad = Tensor::from_vector(std::vector<i64>{3, 24}, {2}).to(gpu);
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true, bad,
                                        Tensor::empty({3, 2, 2}, DType::f32, gpu));
        },
        {"linear_jacobian_subset_into", "index out of range", "index[1] = 24", "P = 24"}));
    EXPECT_TRUE(throws_error(
        [&] {
            linear_jacobian_subset_into(cot, x, true, Tensor::from_vector(std::vector<i64>{0}, {1}),
                                        Tensor::empty({3, 2, 1}, DType::f32, gpu));
        },
        {"linear_jacobian_subset_into", "devices differ", "index"}));
}

}  // namespace
}  // namespace postr
