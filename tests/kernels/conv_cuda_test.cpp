// CPU/CUDA parity of the convolution, pooling and batch-norm families (forward and backward ops,
// running statistics). The CPU is the reference (STYLE 3.0).
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
using i64 = std::int64_t;

Tensor on_gpu(const Tensor& t) { return t.defined() ? t.to(Device::cuda()) : t; }
Tensor on_cpu(const Tensor& t) { return t.to(Device::cpu()); }

Tensor abs_tensor(const Tensor& t) {
    auto v = t.to_vector<double>();
    for (auto& x : v) x = std::abs(x);
    return Tensor::from_vector(v, t.shape()).to(t.dtype());
}

double eps_of(DType dt) { return dt == DType::f32 ? test::kEpsF32 : test::kEpsF64; }

// GEMM parity: cuBLAS and OpenBLAS sum k terms in different orders, so each element may differ
// by up to 2·k·ε·Σ|terms| (each side's worst case); abs_sum holds Σ|terms| per element, computed
// by running the same op on |inputs| (in f64, on the CPU).
::testing::AssertionResult gemm_close(const Tensor& gpu, const Tensor& cpu, const Tensor& abs_sum,
                                      double k, double eps) {
    Tensor g = on_cpu(gpu);
    if (g.shape() != cpu.shape())
        return ::testing::AssertionFailure()
               << "shapes differ: " << to_string(g.shape()) << " vs " << to_string(cpu.shape());
    auto a = g.to_vector<double>(), e = cpu.to_vector<double>(), s = abs_sum.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        double tol = 2 * test::sum_tolerance(k, eps, s[i]) + 1e-300;
        if (!(std::abs(a[i] - e[i]) <= tol))
            return ::testing::AssertionFailure() << "element " << i << ": cuda " << a[i]
                                                 << " vs cpu " << e[i] << " (tol " << tol << ")";
    }
    return ::testing::AssertionSuccess();
}

struct ConvCase {
    Shape x;
    i64 c_out, kh, kw;
    Conv2dOptions o;
    bool bias;
};

std::vector<ConvCase> conv_cases() {
    return {
        {{2, 3, 9, 8}, 4, 3, 3, {}, true},
        {{3, 3, 9, 8}, 5, 3, 3, {2, 2, 1, 1, 1, 1}, true},
        {{2, 2, 9, 9}, 3, 3, 3, {1, 1, 2, 2, 2, 2}, false},
        {{3, 4, 5, 6}, 6, 1, 1, {}, true},
        {{2, 4, 7, 6}, 3, 1, 1, {2, 2, 0, 0, 1, 1}, true},
        {{2, 3, 8, 7}, 4, 2, 3, {2, 1, 1, 0, 1, 2}, true},
        {{2, 1, 6, 6}, 2, 3, 3, {1, 1, 1, 1, 1, 1}, false},
        {{0, 3, 6, 6}, 2, 3, 3, {1, 1, 1, 1, 1, 1}, true},
    };
}

class ConvCudaTyped : public ::testing::TestWithParam<DType> {};

TEST_P(ConvCudaTyped, Conv2dAndBackwardMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    std::uint64_t seed = 1;
    for (const auto& c : conv_cases()) {
        SCOPED_TRACE(to_string(c.x) + " seed " + std::to_string(seed));
        Shape ws = {c.c_out, c.x[1], c.kh, c.kw};
        Tensor x = random_tensor(c.x, dt, seed++);
        Tensor w = random_tensor(ws, dt, seed++);
        Tensor b = c.bias ? random_tensor({c.c_out}, dt, seed++) : Tensor();
        Tensor out = conv2d(x, w, b, c.o);
        Tensor x64 = abs_tensor(x).to(DType::f64), w64 = abs_tensor(w).to(DType::f64);
        Tensor b64 = b.defined() ? abs_tensor(b).to(DType::f64) : b;
        const double k = static_cast<double>(c.x[1] * c.kh * c.kw + 1);
        EXPECT_TRUE(gemm_close(conv2d(on_gpu(x), on_gpu(w), on_gpu(b), c.o), out,
                               conv2d(x64, w64, b64, c.o), k, eps_of(dt)));
        // A non-contiguous input on the GPU.
        EXPECT_TRUE(gemm_close(conv2d(on_gpu(test::transposed_copy(x)), on_gpu(w), on_gpu(b), c.o),
                               out, conv2d(x64, w64, b64, c.o), k, eps_of(dt)));

        Tensor g = random_tensor(out.shape(), dt, seed++);
        Tensor g64 = abs_tensor(g).to(DType::f64);
        EXPECT_TRUE(gemm_close(conv2d_backward_input(on_gpu(g), on_gpu(w), c.x, c.o),
                               conv2d_backward_input(g, w, c.x, c.o),
                               conv2d_backward_input(g64, w64, c.x, c.o),
                               static_cast<double>(c.c_out * c.kh * c.kw), eps_of(dt)));
        EXPECT_TRUE(gemm_close(
            conv2d_backward_weight(on_gpu(g), on_gpu(x), ws, c.o),
            conv2d_backward_weight(g, x, ws, c.o), conv2d_backward_weight(g64, x64, ws, c.o),
            static_cast<double>(std::max<i64>(out.numel() / std::max<i64>(c.c_out, 1), 1)),
            eps_of(dt)));
    }
}

TEST_P(ConvCudaTyped, PoolsMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    // Window sums of ≤ 9 terms in the same order on both sides; nvcc may contract a·b + c into
    // an FMA where g++ does not, so allow a few ulp of the (≤ 1 in magnitude) results.
    const double tol = 16 * eps_of(dt);
    struct Case {
        Shape x;
        Pool2dOptions o;
    };
    std::uint64_t seed = 100;
    for (const Case& c :
         {Case{{2, 3, 8, 8}, {2, 2, 2, 2, 0, 0}}, Case{{2, 2, 9, 7}, {3, 3, 2, 2, 1, 1}},
          Case{{1, 3, 6, 5}, {3, 3, 1, 1, 1, 1}}, Case{{2, 2, 7, 9}, {2, 3, 1, 2, 1, 1}},
          Case{{2, 1, 8, 8}, {2, 2, 3, 3, 0, 0}}, Case{{0, 2, 4, 4}, {}}}) {
        SCOPED_TRACE(to_string(c.x));
        Tensor x = random_tensor(c.x, dt, seed++);
        ValuesIndices cpu = max_pool2d(x, c.o), gpu = max_pool2d(on_gpu(x), c.o);
        EXPECT_TRUE(all_close(on_cpu(gpu.values), cpu.values, 0, 0));
        EXPECT_TRUE(all_close(on_cpu(gpu.indices), cpu.indices, 0, 0));
        Tensor g = random_tensor(cpu.values.shape(), dt, seed++);
        // Atomic accumulation: with overlapping windows the order of ≤ 4 additions may differ.
        EXPECT_TRUE(all_close(on_cpu(max_pool2d_backward(on_gpu(g), gpu.indices, c.x)),
                              max_pool2d_backward(g, cpu.indices, c.x), tol, tol));
        EXPECT_TRUE(all_close(on_cpu(avg_pool2d(on_gpu(x), c.o)), avg_pool2d(x, c.o), tol, tol));
        EXPECT_TRUE(all_close(on_cpu(avg_pool2d_backward(on_gpu(g), c.x, c.o)),
                              avg_pool2d_backward(g, c.x, c.o), tol, tol));
    }
    struct Adaptive {
        Shape x;
        i64 oh, ow;
    };
    for (const Adaptive& c : {Adaptive{{2, 3, 7, 7}, 3, 3}, Adaptive{{1, 2, 3, 2}, 5, 4},
                              Adaptive{{2, 2, 6, 9}, 4, 2}, Adaptive{{2, 4, 8, 8}, 1, 1}}) {
        SCOPED_TRACE(to_string(c.x));
        Tensor x = random_tensor(c.x, dt, seed++);
        EXPECT_TRUE(all_close(on_cpu(adaptive_avg_pool2d(on_gpu(x), c.oh, c.ow)),
                              adaptive_avg_pool2d(x, c.oh, c.ow), tol, tol));
        Tensor g = random_tensor({c.x[0], c.x[1], c.oh, c.ow}, dt, seed++);
        EXPECT_TRUE(all_close(on_cpu(adaptive_avg_pool2d_backward(on_gpu(g), c.x)),
                              adaptive_avg_pool2d_backward(g, c.x), tol, tol));
    }
}

TEST_P(ConvCudaTyped, BatchNormMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    // Both sides accumulate in double (different orders: ~1e-16 relative) and round once to
    // the dtype; an f32 result may then land one ulp apart. Outputs are O(5).
    const double tol = dt == DType::f32 ? 4 * test::kEpsF32 : 1e-12;
    std::uint64_t seed = 200;
    for (const Shape& shape : {Shape{8, 3, 5, 6}, Shape{16, 5}, Shape{4, 2, 3, 2, 2}}) {
        for (bool affine : {true, false}) {
            SCOPED_TRACE(to_string(shape) + (affine ? " affine" : " plain"));
            i64 c = shape[1];
            Tensor x = random_tensor(shape, dt, seed++, -2, 3);
            Tensor w = affine ? random_tensor({c}, dt, seed++, 0.5, 1.5) : Tensor();
            Tensor b = affine ? random_tensor({c}, dt, seed++) : Tensor();
            Tensor rm = random_tensor({c}, dt, seed++), rv = random_tensor({c}, dt, seed++, 0.5, 2);
            Tensor rm_gpu = on_gpu(rm), rv_gpu = on_gpu(rv);
            BatchNormResult cpu = batch_norm_train(x, w, b, rm, rv, 0.1, 1e-5);
            BatchNormResult gpu =
                batch_norm_train(on_gpu(x), on_gpu(w), on_gpu(b), rm_gpu, rv_gpu, 0.1, 1e-5);
            EXPECT_TRUE(all_close(on_cpu(gpu.out), cpu.out, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(gpu.save_mean), cpu.save_mean, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(gpu.save_invstd), cpu.save_invstd, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(rm_gpu), rm, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(rv_gpu), rv, tol, tol));

            EXPECT_TRUE(all_close(
                on_cpu(batch_norm_eval(on_gpu(x), on_gpu(w), on_gpu(b), rm_gpu, rv_gpu, 1e-5)),
                batch_norm_eval(x, w, b, rm, rv, 1e-5), tol, tol));

            Tensor g = random_tensor(shape, dt, seed++);
            // Backward from the same saved statistics on both sides.
            BatchNormGrads gc = batch_norm_backward(g, x, w, cpu.save_mean, cpu.save_invstd);
            BatchNormGrads gg = batch_norm_backward(on_gpu(g), on_gpu(x), on_gpu(w),
                                                    on_gpu(cpu.save_mean), on_gpu(cpu.save_invstd));
            EXPECT_TRUE(all_close(on_cpu(gg.grad_x), gc.grad_x, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(gg.grad_weight), gc.grad_weight, tol, tol));
            EXPECT_TRUE(all_close(on_cpu(gg.grad_bias), gc.grad_bias, tol, tol));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(ConvCuda, ConvCudaTyped, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ConvCuda, LargeBatchIsChunkedLikeTheCpu) {
    POSTR_REQUIRE_CUDA();
    // 128 samples of K·P·8 = 576·1024·8 ≈ 4.7 MB exceed the 256 MiB im2col bound: three chunks
    // on the GPU (ten of 64 MiB on the CPU); results must agree within the GEMM bound.
    Conv2dOptions o{1, 1, 1, 1, 1, 1};
    Shape xs = {128, 64, 32, 32}, ws = {16, 64, 3, 3};
    Tensor x = random_tensor(xs, DType::f64, 1), w = random_tensor(ws, DType::f64, 2);
    Tensor out = conv2d(x, w, Tensor(), o);
    Tensor g = random_tensor(out.shape(), DType::f64, 3);
    Tensor xa = abs_tensor(x), wa = abs_tensor(w), ga = abs_tensor(g);
    EXPECT_TRUE(gemm_close(conv2d(on_gpu(x), on_gpu(w), Tensor(), o), out,
                           conv2d(xa, wa, Tensor(), o), 576, test::kEpsF64));
    EXPECT_TRUE(gemm_close(conv2d_backward_input(on_gpu(g), on_gpu(w), xs, o),
                           conv2d_backward_input(g, w, xs, o), conv2d_backward_input(ga, wa, xs, o),
                           144, test::kEpsF64));
    EXPECT_TRUE(gemm_close(conv2d_backward_weight(on_gpu(g), on_gpu(x), ws, o),
                           conv2d_backward_weight(g, x, ws, o),
                           conv2d_backward_weight(ga, xa, ws, o), 128 * 1024, test::kEpsF64));
}

TEST(ConvCuda, ResultsAreDeterministic) {
    POSTR_REQUIRE_CUDA();
    // col2im gathers and the GEMMs are deterministic: two runs agree bitwise.
    Conv2dOptions o{2, 2, 1, 1, 1, 1};
    Tensor x = random_tensor({8, 8, 16, 16}, DType::f32, 5, -1, 1, Device::cuda());
    Tensor w = random_tensor({8, 8, 3, 3}, DType::f32, 6, -1, 1, Device::cuda());
    Tensor g = random_tensor({8, 8, 8, 8}, DType::f32, 7, -1, 1, Device::cuda());
    EXPECT_TRUE(all_close(conv2d_backward_input(g, w, x.shape(), o),
                          conv2d_backward_input(g, w, x.shape(), o), 0, 0));
    EXPECT_TRUE(all_close(conv2d_backward_weight(g, x, w.shape(), o),
                          conv2d_backward_weight(g, x, w.shape(), o), 0, 0));
}

}  // namespace
}  // namespace postr
