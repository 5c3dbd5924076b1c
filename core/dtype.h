// Element types postr stores: f32, f64 and i64 (indices, labels, counts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace postr {

enum class DType : std::uint8_t { f32, f64, i64 };

constexpr std::size_t itemsize(DType t) { return t == DType::f32 ? 4 : 8; }
constexpr bool is_floating(DType t) { return t != DType::i64; }
const char* dtype_name(DType t);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
    return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
    return DType::f64;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
    return DType::i64;
}

// Calls fn.template operator()<T>() with T the C++ type of `t`. The one dtype dispatch helper:
// use it inside .cpp/.cu files, never to put kernels in headers.
template <class F>
decltype(auto) visit_dtype(DType t, F&& fn) {
    switch (t) {
        case DType::f32:
            return fn.template operator()<float>();
        case DType::f64:
            return fn.template operator()<double>();
        default:
            return fn.template operator()<std::int64_t>();
    }
}

// As visit_dtype, for callers that have already checked the dtype is floating.
template <class F>
decltype(auto) visit_floating(DType t, F&& fn) {
    if (t == DType::f64) return fn.template operator()<double>();
    return fn.template operator()<float>();
}

}  // namespace postr
