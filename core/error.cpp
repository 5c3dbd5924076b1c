#include "postr/core/error.h"

#include "postr/core/tensor.h"

namespace postr {
namespace {

std::string describe(const Tensor& t) {
    return detail::concat(to_string(t.shape()), " ", dtype_name(t.dtype()), " on ",
                          t.device().name());
}

}  // namespace

void check_defined(const char* op, const char* name, const Tensor& t) {
    POSTR_CHECK(t.defined(), op, ": ", name,
                " is an undefined tensor. Pass a tensor made by a "
                "factory or an op");
}

void check_same_shape(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                      const Tensor& b) {
    POSTR_CHECK(a.shape() == b.shape(), op, ": shapes differ: ", name_a, " is ",
                to_string(a.shape()), ", ", name_b, " is ", to_string(b.shape()),
                ". Pass tensors of the same shape");
}

void check_same_dtype(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                      const Tensor& b) {
    POSTR_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", name_a, " is ", describe(a), ", ",
                name_b, " is ", describe(b), ". Convert one with .to(dtype)");
}

void check_same_device(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                       const Tensor& b) {
    POSTR_CHECK(a.device() == b.device(), op, ": devices differ: ", name_a, " is ", describe(a),
                ", ", name_b, " is ", describe(b), ". Move one with .to(device)");
}

void check_dtype(const char* op, const char* name, const Tensor& t, DType expected) {
    POSTR_CHECK(t.dtype() == expected, op, ": ", name, " has the wrong dtype: ", describe(t),
                ", expected ", dtype_name(expected), ". Convert it with .to(", dtype_name(expected),
                ")");
}

void check_floating(const char* op, const char* name, const Tensor& t) {
    POSTR_CHECK(is_floating(t.dtype()), op, ": ", name, " must be f32 or f64: got ", describe(t),
                ". Convert it with .to(DType::f32) or .to(DType::f64)");
}

void check_rank(const char* op, const char* name, const Tensor& t, int rank) {
    POSTR_CHECK(t.dim() == rank, op, ": ", name, " must have rank ", rank, ": got ",
                to_string(t.shape()), ". Reshape it");
}

void check_min_rank(const char* op, const char* name, const Tensor& t, int min_rank) {
    POSTR_CHECK(t.dim() >= min_rank, op, ": ", name, " must have rank at least ", min_rank,
                ": got ", to_string(t.shape()), ". Reshape it");
}

void check_square(const char* op, const char* name, const Tensor& t) {
    check_min_rank(op, name, t, 2);
    POSTR_CHECK(t.size(-1) == t.size(-2), op, ": ", name,
                " must be square in its last two dims: got ", to_string(t.shape()),
                ". Pass [..., n, n]");
}

void throw_cuda_unavailable(const char* op) {
    detail::fail(op,
                 ": a tensor is on cuda but postr was built without CUDA. Reconfigure with "
                 "-DPOSTR_CUDA=ON on a machine with nvcc");
}

}  // namespace postr
