// Device dispatch for the public ops: runs the CPU or the CUDA twin of a kernel by the device of
// a tensor. The CUDA branch is discarded at compile time in builds without CUDA, so on_cuda's
// body (a call into a cuda:: entry point, defined only in CUDA builds) is never used there.
#pragma once

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/core/tensor.h"

namespace postr::detail {

template <class OnCpu, class OnCuda>
void dispatch(const char* op, const Tensor& t, OnCpu&& on_cpu, OnCuda&& on_cuda) {
    if (!t.is_cuda()) {
        on_cpu();
    } else if constexpr (config::has_cuda) {
        on_cuda();
    } else {
        static_cast<void>(on_cuda);
        throw_cuda_unavailable(op);
    }
}

}  // namespace postr::detail
