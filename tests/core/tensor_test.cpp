#include "postr/core/tensor.h"

#include <gtest/gtest.h>

#include "postr/core/error.h"
#include "tests/support/test_support.h"

namespace postr {
namespace {

TEST(Tensor, FromVectorRoundTrips) {
    Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.strides(), (Shape{3, 1}));
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace postr
