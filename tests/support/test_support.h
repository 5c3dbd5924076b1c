// Helpers every test uses: seeded random tensors, non-contiguous layouts with the same values,
// a closeness check that prints the worst element, and a matcher for postr::Error messages.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

#include "postr/core/cuda_context.h"
#include "postr/core/tensor.h"

namespace postr::test {

// Uniform on [low, high), seeded (std::mt19937_64 on the host, then moved to `device`).
Tensor random_tensor(const Shape& shape, DType dtype, std::uint64_t seed, double low = -1.0,
                     double high = 1.0, Device device = Device::cpu());
// Integers uniform on [low, high), i64.
Tensor random_ints(const Shape& shape, std::int64_t low, std::int64_t high, std::uint64_t seed,
                   Device device = Device::cpu());
// The same values in a strided layout: a view taking every other element of a larger buffer.
Tensor strided_copy(const Tensor& t);
// The same values in a transposed layout (last two dims swapped in memory); rank >= 2.
Tensor transposed_copy(const Tensor& t);

// |actual − expected| ≤ atol + rtol·|expected| everywhere, shapes equal; NaNs must match.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol);
// fn throws postr::Error (or a subclass) whose message contains every one of `parts`.
::testing::AssertionResult throws_error(const std::function<void()>& fn,
                                        std::initializer_list<std::string> parts);

}  // namespace postr::test

// Skips the current test, with the reason, when no CUDA device is present.
#define POSTR_REQUIRE_CUDA()                                                          \
    do {                                                                              \
        if (!::postr::cuda_is_available())                                            \
            GTEST_SKIP() << "no CUDA device (or postr built without CUDA): CPU/CUDA " \
                            "parity is checked on a machine with a GPU";              \
    } while (0)
