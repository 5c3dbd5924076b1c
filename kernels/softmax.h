// Device entry points of the softmax family, declared once for the CPU and once for CUDA with
// identical signatures. They receive validated input from kernels/ops_reduction.cpp.
#pragma once

#include "postr/core/tensor.h"

namespace postr {

namespace cpu {
// x, out: [pre, L, post] (any strides, same shape and dtype); softmax along the middle dim, or
// log_softmax when `log`. Stable: the row maximum is subtracted first.
void softmax(const Tensor& x, const Tensor& out, bool log);
// labels: i64 [N], every value already checked to lie in [0, C) → out: [N, C] contiguous,
// 1 at (n, labels[n]) and 0 elsewhere.
void one_hot(const Tensor& labels, const Tensor& out);
}  // namespace cpu

namespace cuda {
void softmax(const Tensor& x, const Tensor& out, bool log);
void one_hot(const Tensor& labels, const Tensor& out);
}  // namespace cuda

}  // namespace postr
