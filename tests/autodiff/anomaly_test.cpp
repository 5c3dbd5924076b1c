// Anomaly mode: the first non-finite value is reported at the op, the module and the step that
// produced it, in the forward pass and in backward; nothing is checked when the mode is off.
#include "postr/autodiff/anomaly.h"

#include <limits>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "postr/autodiff/graph.h"
#include "postr/autodiff/ops.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"
#include "postr/nn/layers/activations.h"
#include "postr/nn/layers/linear.h"
#include "postr/nn/layers/sequential.h"

#include "tests/support/test_support.h"

namespace postr {
namespace {

TEST(AnomalyMode, ForwardNamesTheOpTheStepAndTheModule) {
    nn::Sequential model({std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::Tanh>()});
    model.finalize(0, DType::f64);
    const Var x(Tensor::from_vector(std::vector<double>{1.0, -2.0}, {1, 2}));
    {
        DetectAnomalyGuard detect;
        AnomalyScope step("step 7");
        // Finite everywhere: no error.
        EXPECT_NO_THROW(model(x));
        const Var bad(Tensor::from_vector(
            std::vector<double>{std::numeric_limits<double>::infinity(), 1.0}, {1, 2}));
        // The infinite input reaches Linear "0" first.
        EXPECT_TRUE(test::throws_error(
            [&] { model(bad); },
            {"anomaly: op matmul", "already non-finite", "in step 7 > model > 0"}));
        EXPECT_TRUE(test::throws_error(
            [&] {
                log(sub(x, Var(Tensor::full({1, 2}, 5.0, DType::f64))));
            },
            {"anomaly: op log", "from finite inputs", "step 7"}));
    }
    // Off again: NaN flows silently, as everywhere else.
    EXPECT_NO_THROW(log(sub(x, Var(Tensor::full({1, 2}, 5.0, DType::f64)))));
    EXPECT_EQ(anomaly_scope(), "");
}

TEST(AnomalyMode, BackwardNamesTheOpWhoseGradientIsNotFinite) {
    // sqrt(x) at 0 is finite (0) but its derivative 1/(2√x) is infinite.
    Var x(Tensor::from_vector(std::vector<double>{0.0, 4.0}, {2}), true);
    DetectAnomalyGuard detect;
    Var y;
    {
        AnomalyScope where("loss");
        y = sum(sqrt(x));
    }
    EXPECT_TRUE(test::throws_error([&] { y.backward(); },
                                   {"anomaly: backward of op sqrt", "input 0",
                                    "from a finite incoming gradient", "recorded in loss"}));
}

}  // namespace
}  // namespace postr
