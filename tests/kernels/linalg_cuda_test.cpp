// CPU/CUDA parity of matmul, gemm_ and the Cholesky family, on the layouts each device handles
// differently (transposed, strided, broadcast batches, the strided-batched GEMM path), plus the
// NotPositiveDefinite error raised from cuSOLVER's info. Every test skips without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

#include "tests/support/test_support.h"
#include "tests/support/tolerances.h"

namespace postr {
namespace {

using test::random_tensor;

const Device kGpu = Device::cuda(0);
const Device kCpu = Device::cpu();

double eps_of(DType t) { return t == DType::f64 ? test::kEpsF64 : test::kEpsF32; }

double max_abs(const Tensor& t) {
    double m = 0;
    for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
    return m;
}

// Both devices are within terms/2·ε·scale of the exact result, so within terms·ε·scale of each
// other; `scale` bounds the sum of absolute terms of any one element.
::testing::AssertionResult parity(const Tensor& gpu, const Tensor& cpu, double terms,
                                  double scale) {
    if (!gpu.is_cuda()) return ::testing::AssertionFailure() << "result is not on cuda";
    return test::all_close(gpu.to(kCpu), cpu, 0.0,
                           test::sum_tolerance(terms, eps_of(cpu.dtype()), scale));
}

// GEMM: each device's error is at most (K+1)·ε·Σ|a_ik·b_kj| ≤ (K+1)·ε·K·max|a|·max|b|.
::testing::AssertionResult matmul_parity(const Tensor& a, const Tensor& b) {
    const Tensor cpu = matmul(a, b);
    const Tensor gpu = matmul(a.to(kGpu), b.to(kGpu));
    const double k = static_cast<double>(a.dim() == 1 ? a.size(0) : a.size(-1));
    return parity(gpu, cpu, 2.0 * (k + 1.0), k * max_abs(a) * max_abs(b));
}

std::size_t ix(std::int64_t i) { return static_cast<std::size_t>(i); }

// A = B·Bᵀ + n·I for B uniform in [-1, 1]: condition number below about 3 (see
// linalg_test.cpp). shape: [..., n, n].
Tensor spd(const Shape& shape, DType dtype, std::uint64_t seed) {
    const std::int64_t n = shape.back();
    const std::vector<double> b = random_tensor(shape, DType::f64, seed).to_vector<double>();
    std::vector<double> a(b.size(), 0.0);
    const std::int64_t batches =
        static_cast<std::int64_t>(b.size()) / std::max<std::int64_t>(n * n, 1);
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double sum = i == j ? static_cast<double>(n) : 0.0;
                for (std::int64_t k = 0; k < n; ++k)
                    sum += b[ix(p * n * n + i * n + k)] * b[ix(p * n * n + j * n + k)];
                a[ix(p * n * n + i * n + j)] = sum;
            }
    return Tensor::from_vector(a, shape).to(dtype);
}

// Triangular with diagonal in [1, 2] and off-diagonal entries of size at most 1/n: ‖A‖∞ ≤ 3
// and, even with a unit diagonal, ‖A⁻¹‖∞ ≤ (1 + 1/n)^n < e.
Tensor triangular(std::int64_t n, bool lower, DType dtype, std::uint64_t seed) {
    std::vector<double> v = random_tensor({n, n}, DType::f64, seed).to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            double& x = v[ix(i * n + j)];
            if (i == j)
                x = 1.5 + 0.5 * x;
            else if ((j < i) != lower)
                x = 0.0;
            else
                x /= static_cast<double>(n);
        }
    return Tensor::from_vector(v, {n, n}).to(dtype);
}

void expect_zero_upper(const Tensor& l) {
    const std::int64_t n = l.size(-1);
    const std::vector<double> v = l.to(kCpu).to_vector<double>();
    for (std::size_t p = 0; p < v.size(); ++p) {
        const std::int64_t i = (static_cast<std::int64_t>(p) / n) % n,
                           j = static_cast<std::int64_t>(p) % n;
        if (j > i) {
            EXPECT_EQ(v[p], 0.0) << "element " << p;
        }
    }
}

class LinalgCudaDtype : public ::testing::TestWithParam<DType> {};

TEST_P(LinalgCudaDtype, MatmulMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    EXPECT_TRUE(matmul_parity(random_tensor({1, 1}, dt, 1), random_tensor({1, 1}, dt, 2)));
    EXPECT_TRUE(matmul_parity(random_tensor({64, 65}, dt, 3), random_tensor({65, 31}, dt, 4)));
    EXPECT_TRUE(matmul_parity(random_tensor({9, 5}, dt, 5).t(), random_tensor({7, 9}, dt, 6).t()));
    EXPECT_TRUE(matmul_parity(test::strided_copy(random_tensor({2, 6, 10}, dt, 7)),
                              test::strided_copy(random_tensor({2, 10, 4}, dt, 8))));
    // Non-uniform batch strides (one cuBLAS call per batch) and uniform ones (strided batched,
    // with stride 0 for the broadcast operand).
    EXPECT_TRUE(
        matmul_parity(random_tensor({2, 1, 3, 4}, dt, 9), random_tensor({5, 4, 2}, dt, 10)));
    EXPECT_TRUE(matmul_parity(random_tensor({3, 5, 9}, dt, 11), random_tensor({9, 7}, dt, 12)));
    EXPECT_TRUE(matmul_parity(test::transposed_copy(random_tensor({4, 8, 6}, dt, 13)),
                              random_tensor({4, 6, 3}, dt, 14)));
    // Rank-1 operands.
    EXPECT_TRUE(matmul_parity(random_tensor({6}, dt, 15), random_tensor({6, 3}, dt, 16)));
    EXPECT_TRUE(matmul_parity(random_tensor({2, 3, 6}, dt, 17), random_tensor({6}, dt, 18)));
    EXPECT_TRUE(matmul_parity(random_tensor({6}, dt, 19), random_tensor({6}, dt, 20)));
    // K = 0 and an empty batch.
    const Tensor z = matmul(Tensor::empty({3, 0}, dt, kGpu), Tensor::empty({0, 4}, dt, kGpu));
    EXPECT_TRUE(test::all_close(z.to(kCpu), Tensor::zeros({3, 4}, dt), 0, 0));
    EXPECT_EQ(matmul(Tensor::empty({0, 3, 4}, dt, kGpu), Tensor::empty({4, 2}, dt, kGpu)).shape(),
              (Shape{0, 3, 2}));
}

TEST_P(LinalgCudaDtype, GemmMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    const Tensor a = random_tensor({5, 7}, dt, 21), b = random_tensor({7, 3}, dt, 22);
    const Tensor c0 = random_tensor({5, 3}, dt, 23);
    Tensor cpu = c0.clone();
    gemm_(cpu, a, b, 0.5, -2.0);
    Tensor gpu = c0.to(kGpu);
    gemm_(gpu, a.to(kGpu), b.to(kGpu), 0.5, -2.0);
    // Terms: the 7 products scaled by 0.5 plus 2·|c| ≤ 2.
    EXPECT_TRUE(parity(gpu, cpu, 2.0 * 9.0, 0.5 * 7.0 + 2.0));
    // A transposed c is written in place through its strides.
    Tensor cpu_t = Tensor::zeros({3, 5}, dt).t();
    Tensor gpu_buffer = Tensor::zeros({3, 5}, dt, kGpu);
    Tensor gpu_t = gpu_buffer.t();
    gemm_(cpu_t, a, b);
    gemm_(gpu_t, a.to(kGpu), b.to(kGpu));
    EXPECT_TRUE(parity(gpu_t, cpu_t, 2.0 * 8.0, 7.0));
    // β = 0 ignores NaN; K = 0 leaves β·c.
    Tensor nan = Tensor::full({5, 3}, std::numeric_limits<double>::quiet_NaN(), dt, kGpu);
    gemm_(nan, Tensor::empty({5, 0}, dt, kGpu), Tensor::empty({0, 3}, dt, kGpu), 1.0, 0.0);
    EXPECT_TRUE(test::all_close(nan.to(kCpu), Tensor::zeros({5, 3}, dt), 0, 0));
}

TEST_P(LinalgCudaDtype, CholeskyMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    for (std::int64_t n : {1, 7, 40}) {
        SCOPED_TRACE(testing::Message() << "n=" << n);
        const Tensor a = spd({2, 3, n, n}, dt, 30 + static_cast<std::uint64_t>(n));
        const Tensor cpu = cholesky(a);
        const Tensor gpu = cholesky(a.to(kGpu));
        // Each factor's backward error is (n+1)·ε·|L||Lᵀ|; with κ₂(A) < 3 the forward error is
        // at most about 3(n+1)·ε·‖L‖₂ (Sun 1991), and ‖L‖₂ = √‖A‖₂ ≤ √(n·max|A|).
        const double norm_l = std::sqrt(static_cast<double>(n) * max_abs(a));
        EXPECT_TRUE(parity(gpu, cpu, 2.0 * 3.0 * static_cast<double>(n + 1), norm_l));
        expect_zero_upper(gpu);
    }
    EXPECT_EQ(cholesky(Tensor::empty({0, 0}, dt, kGpu)).shape(), (Shape{0, 0}));
    EXPECT_EQ(cholesky(Tensor::full({1, 1}, 4.0, dt, kGpu)).item(), 2.0);
}

TEST_P(LinalgCudaDtype, CholeskyReportsFailingMinorOnCuda) {
    POSTR_REQUIRE_CUDA();
    const Tensor a =
        Tensor::from_vector(std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1},
                            {4, 4})
            .to(GetParam())
            .to(kGpu);
    EXPECT_TRUE(test::throws_error(
        [&] { cholesky(a); },
        {"cholesky: matrix is not positive definite: leading minor of order 3 is not positive "
         "(matrix [4, 4], batch index 0). Add jitter to the diagonal or check the input"}));
    try {
        cholesky(a);
        ADD_FAILURE() << "no exception";
    } catch (const NotPositiveDefinite& e) {
        EXPECT_EQ(e.minor(), 3);
    }
    Tensor batched = spd({2, 3, 4, 4}, GetParam(), 41);
    batched[1][1].select(0, 1).select(0, 1).fill_(-5.0);
    EXPECT_TRUE(test::throws_error([&] { cholesky(batched.to(kGpu)); },
                                   {"leading minor of order 2", "batch index 4"}));
}

TEST_P(LinalgCudaDtype, SolvesMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    const std::int64_t n = 24;
    const Tensor b = random_tensor({3, n, 4}, dt, 52);
    // Forward error of a backward-stable solve: ‖A⁻¹‖∞·(n+1)·ε·‖|A|·|x|‖∞ ≤ e·(n+1)·ε·3·max|x|
    // (see triangular), per device; 18(n+1) covers both.
    for (bool lower : {true, false})
        for (bool transpose : {false, true})
            for (bool unit : {false, true}) {
                SCOPED_TRACE(testing::Message() << "lower " << lower << " transpose " << transpose
                                                << " unit " << unit);
                const Tensor a = triangular(n, lower, dt, 53);
                const Tensor cpu = triangular_solve(a, b, lower, transpose, unit);
                // A transposed layout of a (column-major buffer) on the GPU.
                const Tensor gpu = triangular_solve(test::transposed_copy(a.to(kGpu)), b.to(kGpu),
                                                    lower, transpose, unit);
                EXPECT_TRUE(parity(gpu, cpu, 18.0 * static_cast<double>(n + 1), max_abs(cpu)));
            }
    // cholesky_solve: factorization and two solves, each with forward error below
    // κ₂(A)·(n+1)·ε·√n·max|x| (κ₂ < 3, √n from the norm-to-element step), per device.
    const Tensor l = cholesky(spd({2, 1, n, n}, dt, 51));
    const Tensor cpu = cholesky_solve(b, l);
    const Tensor gpu = cholesky_solve(test::strided_copy(b.to(kGpu)), l.to(kGpu));
    ASSERT_EQ(gpu.shape(), (Shape{2, 3, n, 4}));
    EXPECT_TRUE(parity(gpu, cpu, 2.0 * 3.0 * 3.0 * static_cast<double>(n + 1) * std::sqrt(n),
                       max_abs(cpu)));
}

TEST_P(LinalgCudaDtype, SyrkMatchesCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    const std::int64_t m = 33, n = 10;
    const Tensor a = random_tensor({m, n}, dt, 61);
    const Tensor c0 = random_tensor({n, n}, dt, 62);
    Tensor cpu = c0.clone();
    syrk_(cpu, a, 0.7, 0.3);
    for (const bool transposed_layout : {false, true}) {
        Tensor gpu = transposed_layout ? test::transposed_copy(c0.to(kGpu)) : c0.to(kGpu);
        syrk_(gpu, transposed_layout ? test::transposed_copy(a.to(kGpu)) : a.to(kGpu), 0.7, 0.3);
        // m products scaled by α plus β·c: (m+2) roundings per device, terms ≤ α·m + β.
        EXPECT_TRUE(parity(gpu, cpu, 2.0 * static_cast<double>(m + 2), 0.7 * m + 0.3));
        // The upper triangle is untouched: bitwise equal to c0 there on both devices.
        const std::vector<double> g = gpu.to(kCpu).to_vector<double>(), c = c0.to_vector<double>();
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = i + 1; j < n; ++j)
                EXPECT_EQ(g[static_cast<std::size_t>(i * n + j)],
                          c[static_cast<std::size_t>(i * n + j)]);
    }
    Tensor cpu0 = c0.clone(), gpu0 = c0.to(kGpu);
    syrk_(cpu0, Tensor::empty({0, n}, dt), 1.0, 0.5);
    syrk_(gpu0, Tensor::empty({0, n}, dt, kGpu), 1.0, 0.5);
    EXPECT_TRUE(test::all_close(gpu0.to(kCpu), cpu0, 0, 0));
}

TEST_P(LinalgCudaDtype, SymmetrizeLogdetAndInverseMatchCpu) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    // symmetrize_lower_ copies values: bitwise equal.
    const Tensor s0 = random_tensor({2, 9, 9}, dt, 71);
    Tensor s_cpu = s0.clone();
    Tensor s_gpu = test::transposed_copy(s0.to(kGpu));
    symmetrize_lower_(s_cpu);
    symmetrize_lower_(s_gpu);
    EXPECT_TRUE(test::all_close(s_gpu.to(kCpu), s_cpu, 0, 0));

    const std::int64_t n = 30;
    const Tensor l = cholesky(spd({3, n, n}, dt, 72));
    // logdet: both sum in f64 and round once to the dtype, so they agree to 2 ulp of it.
    const Tensor ld_cpu = cholesky_logdet(l);
    EXPECT_TRUE(
        parity(cholesky_logdet(test::strided_copy(l).to(kGpu)), ld_cpu, 2.0, max_abs(ld_cpu)));
    EXPECT_EQ(cholesky_logdet(Tensor::empty({0, 0}, dt, kGpu)).item(), 0.0);

    // inverse: potri's forward error is below κ₂(A)·3(n+1)·ε·√n·max|A⁻¹| per device (κ₂ < 3).
    const Tensor inv_cpu = cholesky_inverse(l);
    const Tensor inv_gpu = cholesky_inverse(l.to(kGpu));
    EXPECT_TRUE(parity(inv_gpu, inv_cpu, 2.0 * 9.0 * static_cast<double>(n + 1) * std::sqrt(n),
                       max_abs(inv_cpu)));
    const Tensor t = inv_gpu.to(kCpu);
    EXPECT_TRUE(test::all_close(t, t.transpose(-1, -2).contiguous(), 0, 0));  // exactly symmetric

    Tensor singular = Tensor::zeros({3, 3}, dt);
    singular[0][0].fill_(1.0);
    singular[2][2].fill_(1.0);
    EXPECT_TRUE(
        test::throws_error([&] { cholesky_inverse(singular.to(kGpu)); },
                           {"cholesky_inverse: l is singular: diagonal element 2 is zero"}));
}

TEST_P(LinalgCudaDtype, EighMatchesCpuUpToEigenvectorSigns) {
    POSTR_REQUIRE_CUDA();
    const DType dt = GetParam();
    const double eps = eps_of(dt);
    const std::int64_t n = 16, batches = 3;
    // (B + Bᵀ)/2 for B uniform in [-1, 1]: symmetric, indefinite, ‖A‖₂ ≤ n.
    const Tensor b = random_tensor({batches, n, n}, DType::f64, 400);
    const Tensor a = mul(add(b, b.transpose(-1, -2)), 0.5).to(dt);
    const EighResult cpu = eigh(a);
    const EighResult gpu = eigh(a.to(kGpu));
    ASSERT_TRUE(gpu.eigenvalues.is_cuda() && gpu.eigenvectors.is_cuda());
    // Eigenvalues are perturbed by at most ~n·ε·‖A‖₂ on each device (Weyl), so they agree
    // within twice that, with a factor 4 for the solvers' constants.
    EXPECT_TRUE(parity(gpu.eigenvalues, cpu.eigenvalues, 8.0 * static_cast<double>(n),
                       static_cast<double>(n)));
    const Tensor vg = gpu.eigenvectors.to(kCpu), vc = cpu.eigenvectors;
    const Tensor wg = gpu.eigenvalues.to(kCpu);
    // Reconstruction and orthonormality of the GPU's result, as the CPU test checks them.
    const Tensor rebuilt = matmul(mul(vg, wg.unsqueeze(-2)), vg.transpose(-1, -2));
    EXPECT_TRUE(test::all_close(rebuilt, a, 0, 4.0 * static_cast<double>(n * n) * eps));
    const Tensor gram = matmul(vg.transpose(-1, -2), vg);
    EXPECT_TRUE(test::all_close(gram, eye(n, dt).expand({batches, n, n}), 0,
                                4.0 * static_cast<double>(n) * eps));
    // Eigenvectors of simple eigenvalues are unique up to sign: |v_cpu · v_gpu| = 1 per column,
    // with an error ~ n·ε·‖A‖/gap. The seed gives gaps above 1e-3 (checked), so 1 − |dot| is
    // far below the tolerance, which still catches a wrong or permuted column.
    const std::vector<double> w = cpu.eigenvalues.to_vector<double>();
    for (std::int64_t p = 0; p < batches; ++p)
        for (std::int64_t i = 0; i + 1 < n; ++i)
            ASSERT_GT(w[ix(p * n + i + 1)] - w[ix(p * n + i)], 1e-3) << "seed gives a tiny gap";
    const std::vector<double> dots = sum(mul(vg, vc), {-2}).to_vector<double>();  // [B, n]
    for (std::size_t j = 0; j < dots.size(); ++j)
        EXPECT_NEAR(std::abs(dots[j]), 1.0, 1e4 * static_cast<double>(n) * eps) << "column " << j;
    // The 0×0 and empty-batch cases launch nothing.
    EXPECT_EQ(eigh(Tensor::zeros({0, 0}, dt, kGpu)).eigenvalues.numel(), 0);
    EXPECT_EQ(eigh(Tensor::zeros({0, 3, 3}, dt, kGpu)).eigenvectors.numel(), 0);
}

INSTANTIATE_TEST_SUITE_P(F32AndF64, LinalgCudaDtype, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(LinalgCuda, RejectsMixedDevices) {
    POSTR_REQUIRE_CUDA();
    EXPECT_TRUE(test::throws_error(
        [] {
            matmul(Tensor::zeros({2, 2}), Tensor::zeros({2, 2}, DType::f32, kGpu));
        },
        {"matmul", "devices differ", "cuda:0"}));
    EXPECT_TRUE(test::throws_error(
        [] {
            cholesky_solve(Tensor::zeros({2, 1}), Tensor::zeros({2, 2}, DType::f32, kGpu));
        },
        {"cholesky_solve", "devices differ"}));
}

}  // namespace
}  // namespace postr
