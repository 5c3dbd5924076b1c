// Elementwise kernels on CUDA: the device twin of cpu/elementwise.cpp. Each entry point picks
// the formula from the shared op table (kernels/elementwise.h) and the element type once, then
// launches cuda::map_elements with that functor on the tensor's stream.
#include "postr/core/dtype.h"
#include "postr/core/error.h"
#include "postr/kernels/cuda/launch.cuh"
#include "postr/kernels/elementwise.h"

namespace postr::cuda {
namespace {

using namespace postr::detail::ew;

// Named function templates rather than nested lambdas: nvcc does not allow an extended
// (__device__) lambda inside a generic lambda, and functors need no annotation.
template <class T, class F>
void run_unary(F f, const Tensor& x, const Tensor& out) {
    if constexpr (supports<F, T>) {
        map_elements<T, T>(out, f, x);
    } else {
        POSTR_ASSERT(!"integer input reached a floating-only elementwise formula");
    }
}

template <class T, class F>
void run_binary(F f, const Tensor& a, const Tensor& b, const Tensor& out) {
    if constexpr (supports<F, T>) {
        map_elements<T, T, T>(out, f, a, b);
    } else {
        POSTR_ASSERT(!"integer input reached a floating-only elementwise formula");
    }
}

template <class T, class F>
void run_binary_scalar(F f, const Tensor& x, double s, const Tensor& out) {
    if constexpr (supports<F, T>) {
        map_elements<T, T>(out, BindRight<F, T>{f, static_cast<T>(s)}, x);
    } else {
        POSTR_ASSERT(!"integer input reached a floating-only elementwise formula");
    }
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out) {
    visit_unary(op, [&]<class F>(F f) {
        visit_dtype(x.dtype(), [&]<class T>() { run_unary<T>(f, x, out); });
    });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
    visit_binary(op, [&]<class F>(F f) {
        visit_dtype(a.dtype(), [&]<class T>() { run_binary<T>(f, a, b, out); });
    });
}

void binary_scalar(BinaryOp op, const Tensor& x, double s, const Tensor& out) {
    visit_binary(op, [&]<class F>(F f) {
        visit_dtype(x.dtype(), [&]<class T>() { run_binary_scalar<T>(f, x, s, out); });
    });
}

void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
    visit_compare(op, [&]<class F>(F f) {
        visit_dtype(a.dtype(), [&]<class T>() { run_binary<T>(f, a, b, out); });
    });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
    visit_dtype(cond.dtype(), [&]<class C>() {
        visit_dtype(a.dtype(),
                    [&]<class T>() { map_elements<T, C, T, T>(out, Select{}, cond, a, b); });
    });
}

void clamp(const Tensor& x, double low, double high, const Tensor& out) {
    visit_floating(x.dtype(), [&]<class T>() {
        map_elements<T, T>(out, Clamp<T>{static_cast<T>(low), static_cast<T>(high)}, x);
    });
}

void relu_backward(const Tensor& grad_out, const Tensor& output, const Tensor& out) {
    visit_floating(grad_out.dtype(), [&]<class T>() {
        map_elements<T, T, T>(out, ReluBackward{}, grad_out, output);
    });
}

void axpby(const Tensor& y, double alpha, const Tensor& x, double beta) {
    visit_floating(y.dtype(), [&]<class T>() {
        map_elements<T, T, T>(y, Axpby<T>{static_cast<T>(alpha), static_cast<T>(beta)}, y, x);
    });
}

void addcmul(const Tensor& y, double value, const Tensor& a, const Tensor& b) {
    visit_floating(y.dtype(), [&]<class T>() {
        map_elements<T, T, T, T>(y, Addcmul<T>{static_cast<T>(value)}, y, a, b);
    });
}

void addcdiv(const Tensor& y, double value, const Tensor& a, const Tensor& b) {
    visit_floating(y.dtype(), [&]<class T>() {
        map_elements<T, T, T, T>(y, Addcdiv<T>{static_cast<T>(value)}, y, a, b);
    });
}

void scale(const Tensor& y, double alpha) {
    visit_floating(y.dtype(),
                   [&]<class T>() { map_elements<T, T>(y, Scale<T>{static_cast<T>(alpha)}, y); });
}

}  // namespace postr::cuda
