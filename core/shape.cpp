#include "postr/core/shape.h"

#include "postr/core/device.h"
#include "postr/core/dtype.h"
#include "postr/core/error.h"

namespace postr {

const char* dtype_name(DType t) {
    switch (t) {
        case DType::f32:
            return "f32";
        case DType::f64:
            return "f64";
        default:
            return "i64";
    }
}

std::string Device::name() const { return is_cuda() ? "cuda:" + std::to_string(index) : "cpu"; }

std::int64_t numel(const Shape& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    std::int64_t s = 1;
    for (std::size_t d = shape.size(); d-- > 0;) {
        strides[d] = s;
        s *= shape[d] > 1 ? shape[d] : 1;
    }
    return strides;
}

std::string to_string(const Shape& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

int wrap_dim(const char* op, int dim, int ndim) {
    int lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
    POSTR_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for rank ", ndim,
                ": valid dims are ", lo, "..", hi, ". Check the dim argument");
    return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
    std::size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
        std::int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
        POSTR_CHECK(x == y || x == 1 || y == 1, op,
                    ": shapes cannot be broadcast together: ", to_string(a), " and ", to_string(b),
                    ". Sizes must match or be 1 in every trailing dim");
        out[i] = x == 1 ? y : x;
    }
    return out;
}

}  // namespace postr
