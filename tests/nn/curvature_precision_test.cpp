// f32 accumulation error of the curvature sums, measured against the same computation in f64
// (same weights, same data): a GGN summed over thousands of samples and a diagonal GGN must
// stay within a stated bound in f32, the precision GPUs use.
#include <memory>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/ggn.h"
#include "postr/nn/curvature/subnetwork.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

std::unique_ptr<nn::Sequential> mlp(DType dtype) {
    auto net = std::make_unique<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(16, 32), std::make_shared<nn::Tanh>(),
        std::make_shared<nn::Linear>(32, 10)});
    net->finalize(5, dtype);
    net->eval();
    return net;
}

// ‖a − b‖_F / ‖b‖_F.
double relative_error(const Tensor& a, const Tensor& b) {
    return norm(sub(a.to(DType::f64), b)).item() / norm(b).item();
}

TEST(CurvaturePrecision, F32GgnSumsOverManySamplesStayWithinTheBound) {
    auto net64 = mlp(DType::f64);
    auto net32 = mlp(DType::f32);
    net32->load_flat(net64->parameters().theta().to(DType::f32));
    const std::int64_t n = 4096;
    const Tensor x64 = test::random_tensor({n, 16}, DType::f64, 7);
    const Tensor x32 = x64.to(DType::f32);
    const Tensor index = nn::select_random(net64->num_parameters(), 300, 8);

    nn::DenseCurvature dense64(*net64, {}, index), dense32(*net32, {}, index);
    nn::DiagonalCurvature diag64(*net64), diag32(*net32);
    // In batches of 512, as a training loader would feed them: 8 accumulations of 8 chunks.
    for (std::int64_t start = 0; start < n; start += 512) {
        dense64.accumulate(x64.narrow(0, start, 512));
        dense32.accumulate(x32.narrow(0, start, 512));
        diag64.accumulate(x64.narrow(0, start, 512));
        diag32.accumulate(x32.narrow(0, start, 512));
    }
    // The bound: every entry is a sum of n·C = 40,960 non-negative-on-the-diagonal products,
    // accumulated by SYRK within a chunk (k = 640 rows) and added across 64 chunks. With unit
    // roundoff u = 2⁻²⁴ ≈ 6e-8, the worst case is (640 + 64 + the inputs' own f32 rounding
    // through two layers, a few u) · u ≈ 4e-5 relative; random rounding makes it ≈ 1e-6 in
    // practice. 1e-4 fails for an accumulator that loses chunks, sums in lower precision or
    // accumulates sequentially over all 40,960 rows in a bad order.
    const double dense_error = relative_error(dense32.matrix(), dense64.matrix());
    const double diag_error = relative_error(diag32.diagonal(), diag64.diagonal());
    EXPECT_LT(dense_error, 1e-4);
    EXPECT_LT(diag_error, 1e-4);
    // And it is f32 error, not zero (the comparison is not vacuous).
    EXPECT_GT(dense_error, 1e-9);
    std::ostringstream measured;
    measured << std::scientific << dense_error << " dense, " << diag_error << " diagonal";
    RecordProperty("f32_relative_error", measured.str());
}

}  // namespace
}  // namespace postr
