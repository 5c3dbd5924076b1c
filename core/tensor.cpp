#include "postr/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>

#include "postr/config.h"
#include "postr/core/copy.h"
#include "postr/core/error.h"

namespace postr {
namespace {

void check_shape(const char* op, const Shape& shape) {
    POSTR_CHECK(shape.size() <= static_cast<std::size_t>(kMaxDims), op, ": rank ", shape.size(),
                " exceeds the maximum of ", kMaxDims, ": shape ", postr::to_string(shape),
                ". Merge dims with reshape");
    // The strides multiply every size above 1 even when another size is 0 (no elements), so
    // that product must fit in int64 too, not only numel.
    std::int64_t extent = 1;
    for (auto s : shape) {
        POSTR_CHECK(s >= 0, op, ": negative size in shape ", postr::to_string(shape),
                    ". Sizes must be >= 0");
        const std::int64_t factor = s > 1 ? s : 1;
        POSTR_CHECK(extent <= std::numeric_limits<std::int64_t>::max() / factor, op, ": shape ",
                    postr::to_string(shape), " is too large: the product of its sizes overflows ",
                    "64-bit indexing");
        extent *= factor;
    }
}

// Resolves a single -1 in `shape` against `n` elements.
Shape infer_size(const char* op, Shape shape, std::int64_t n) {
    int infer = -1;
    std::int64_t known = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            POSTR_CHECK(infer < 0, op, ": only one size may be -1: got ", postr::to_string(shape),
                        ". Give every other size explicitly");
            infer = static_cast<int>(i);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        POSTR_CHECK(known != 0 && n % known == 0, op, ": cannot infer the -1 in ",
                    postr::to_string(shape), " for ", n, " elements. Check the sizes");
        shape[static_cast<std::size_t>(infer)] = n / known;
    }
    check_shape(op, shape);
    POSTR_CHECK(numel(shape) == n, op, ": shape ", postr::to_string(shape), " has ", numel(shape),
                " elements but the tensor has ", n, ". Sizes must multiply to the element count");
    return shape;
}

// Strides that present a tensor of (old_shape, old_strides) as new_shape without copying, or
// an empty result when the layout does not allow it (the rule PyTorch's view uses).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape,
                  Shape& new_strides) {
    new_strides.assign(new_shape.size(), 0);
    if (numel(old_shape) <= 1) {
        new_strides = contiguous_strides(new_shape);
        return true;
    }
    // Walk chunks of old dims that are contiguous among themselves.
    std::int64_t view_d = static_cast<std::int64_t>(new_shape.size()) - 1;
    std::int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
    std::int64_t tensor_numel = 1, view_numel = 1;
    for (std::int64_t d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= old_shape[d];
        bool chunk_end = d == 0 || (old_shape[d - 1] != 1 &&
                                    old_strides[d - 1] != tensor_numel * chunk_base_stride);
        if (chunk_end) {
            while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
                new_strides[view_d] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d];
                --view_d;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base_stride = old_strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

}  // namespace

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    check_shape("empty", shape);
    if (device.is_cuda() && !config::has_cuda) throw_cuda_unavailable("empty");
    auto storage = std::make_shared<Storage>(
        static_cast<std::size_t>(postr::numel(shape)) * itemsize(dtype), device);
    return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    t.fill_(value);
    return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
    return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
    return full(shape, 1.0, dtype, device);
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
    return full({}, value, dtype, device);
}

Tensor Tensor::from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
    Tensor host = empty(shape, dtype);
    if (host.nbytes() > 0) std::memcpy(host.data_ptr(), data, host.nbytes());
    return host.to(device);
}

namespace {
template <class T>
Tensor from_host_vector(const std::vector<T>& data, const Shape& shape, Device device) {
    POSTR_CHECK(static_cast<std::int64_t>(data.size()) == postr::numel(shape),
                "from_vector: data has ", data.size(), " elements but shape ", to_string(shape),
                " needs ", postr::numel(shape), ". Match the data to the shape");
    return Tensor::from_blob(data.data(), shape, dtype_of<T>(), device);
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& data, const Shape& shape, Device device) {
    return from_host_vector(data, shape, device);
}
Tensor Tensor::from_vector(const std::vector<double>& data, const Shape& shape, Device device) {
    return from_host_vector(data, shape, device);
}
Tensor Tensor::from_vector(const std::vector<std::int64_t>& data, const Shape& shape,
                           Device device) {
    return from_host_vector(data, shape, device);
}

std::int64_t Tensor::size(int d) const { return shape_[wrap_dim("size", d, dim())]; }
std::int64_t Tensor::stride(int d) const { return strides_[wrap_dim("stride", d, dim())]; }
std::int64_t Tensor::numel() const { return postr::numel(shape_); }

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

bool Tensor::is_contiguous() const {
    std::int64_t expected = 1;
    for (std::size_t d = shape_.size(); d-- > 0;) {
        if (shape_[d] == 1) continue;
        if (strides_[d] != expected) return false;
        expected *= shape_[d];
    }
    return true;
}

void* Tensor::data_ptr() const {
    check_defined("data_ptr", "tensor", *this);
    return static_cast<char*>(storage_->data()) +
           offset_ * static_cast<std::int64_t>(itemsize(dtype_));
}

template <class T>
T* Tensor::data() const {
    check_dtype("data", "tensor", *this, dtype_of<T>());
    return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;

Tensor Tensor::contiguous() const {
    check_defined("contiguous", "tensor", *this);
    return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
    check_defined("clone", "tensor", *this);
    Tensor out = empty(shape_, dtype_, device());
    out.copy_(*this);
    return out;
}

Tensor Tensor::to(Device d) const {
    check_defined("to", "tensor", *this);
    if (d == device()) return *this;
    Tensor out = empty(shape_, dtype_, d);
    out.copy_(*this);
    return out;
}

Tensor Tensor::to(DType t) const {
    check_defined("to", "tensor", *this);
    if (t == dtype_) return *this;
    Tensor out = empty(shape_, t, device());
    out.copy_(*this);
    return out;
}

Tensor& Tensor::copy_(const Tensor& src) {
    check_defined("copy_", "destination", *this);
    check_defined("copy_", "source", src);
    Tensor s = src.expand(shape_);  // throws naming both shapes when they do not broadcast
    if (s.device() == device()) {
        if (is_cuda()) {
            if constexpr (config::has_cuda) detail::copy_same_device_cuda(s, *this);
        } else {
            detail::copy_same_device_cpu(s, *this);
        }
        return *this;
    }
    if constexpr (!config::has_cuda) {
        throw_cuda_unavailable("copy_");
    } else {
        // Across devices: make a compact buffer of the destination dtype on the source side,
        // transfer its bytes, then scatter into the destination's layout.
        Tensor staged = s.to(dtype_).contiguous();
        Tensor landing = is_contiguous() ? *this : empty(shape_, dtype_, device());
        if (nbytes() > 0) {
            if (is_cuda())
                detail::memcpy_host_to_device(landing.data_ptr(), staged.data_ptr(), nbytes(),
                                              device().index);
            else
                detail::memcpy_device_to_host(landing.data_ptr(), staged.data_ptr(), nbytes(),
                                              staged.device().index);
        }
        if (!landing.shares_storage_with(*this)) copy_(landing);
    }
    return *this;
}

Tensor& Tensor::fill_(double value) {
    check_defined("fill_", "tensor", *this);
    if (is_cuda()) {
        if constexpr (config::has_cuda) detail::fill_cuda(*this, value);
    } else {
        detail::fill_cpu(*this, value);
    }
    return *this;
}

double Tensor::item() const {
    check_defined("item", "tensor", *this);
    POSTR_CHECK(numel() == 1, "item: tensor must have exactly one element: got shape ",
                postr::to_string(shape_), ". Reduce it first (sum, mean) or index one element");
    return to(Device::cpu()).to(DType::f64).contiguous().data<double>()[0];
}

template <class T>
T Tensor::item() const {
    check_defined("item", "tensor", *this);
    POSTR_CHECK(numel() == 1, "item: tensor must have exactly one element: got shape ",
                postr::to_string(shape_), ". Reduce it first (sum, mean) or index one element");
    return to(Device::cpu()).to(dtype_of<T>()).contiguous().template data<T>()[0];
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;

template <class T>
std::vector<T> Tensor::to_vector() const {
    check_defined("to_vector", "tensor", *this);
    Tensor host = to(Device::cpu()).to(dtype_of<T>()).contiguous();
    const T* p = host.numel() ? host.template data<T>() : nullptr;
    return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

// --- Views ---------------------------------------------------------------------------------

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, std::int64_t offset) const {
    check_defined("as_strided", "tensor", *this);
    check_shape("as_strided", shape);
    POSTR_CHECK(shape.size() == strides.size(), "as_strided: shape ", postr::to_string(shape),
                " and strides ", postr::to_string(strides),
                " differ in rank. Give one stride per dim");
    return Tensor(storage_, shape, strides, offset, dtype_);
}

Tensor Tensor::view(const Shape& shape) const {
    check_defined("view", "tensor", *this);
    Shape s = infer_size("view", shape, numel());
    Shape strides;
    POSTR_CHECK(view_strides(shape_, strides_, s, strides), "view: a tensor of shape ",
                postr::to_string(shape_), " and strides ", postr::to_string(strides_),
                " cannot be viewed as ", postr::to_string(s), " without a copy. Use reshape");
    return Tensor(storage_, s, strides, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& shape) const {
    check_defined("reshape", "tensor", *this);
    Shape s = infer_size("reshape", shape, numel());
    Shape strides;
    if (view_strides(shape_, strides_, s, strides))
        return Tensor(storage_, s, strides, offset_, dtype_);
    return clone().view(s);
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
    check_defined("permute", "tensor", *this);
    POSTR_CHECK(static_cast<int>(dims.size()) == dim(), "permute: got ", dims.size(),
                " dims for a tensor of rank ", dim(), " (shape ", postr::to_string(shape_),
                "). Give each dim once");
    Shape shape(dims.size()), strides(dims.size());
    std::vector<bool> seen(dims.size(), false);
    for (std::size_t i = 0; i < dims.size(); ++i) {
        int d = wrap_dim("permute", dims[i], dim());
        POSTR_CHECK(!seen[static_cast<std::size_t>(d)], "permute: dim ", dims[i],
                    " appears twice. Give each dim once");
        seen[static_cast<std::size_t>(d)] = true;
        shape[i] = shape_[static_cast<std::size_t>(d)];
        strides[i] = strides_[static_cast<std::size_t>(d)];
    }
    return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::transpose(int dim0, int dim1) const {
    check_defined("transpose", "tensor", *this);
    int a = wrap_dim("transpose", dim0, dim()), b = wrap_dim("transpose", dim1, dim());
    if (dim() == 0) return *this;
    Shape shape = shape_, strides = strides_;
    std::swap(shape[static_cast<std::size_t>(a)], shape[static_cast<std::size_t>(b)]);
    std::swap(strides[static_cast<std::size_t>(a)], strides[static_cast<std::size_t>(b)]);
    return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::t() const {
    check_defined("t", "tensor", *this);
    POSTR_CHECK(dim() <= 2, "t: expects rank <= 2: got ", postr::to_string(shape_),
                ". Use transpose(dim0, dim1)");
    return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int d, std::int64_t start, std::int64_t end, std::int64_t step) const {
    check_defined("slice", "tensor", *this);
    POSTR_CHECK(dim() > 0, "slice: cannot slice a rank-0 tensor. Reshape it first");
    POSTR_CHECK(step >= 1, "slice: step must be positive: got ", step, ". Use a step >= 1");
    std::size_t k = static_cast<std::size_t>(wrap_dim("slice", d, dim()));
    std::int64_t n = shape_[k];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = std::clamp<std::int64_t>(start, 0, n);
    end = std::clamp<std::int64_t>(end, start, n);
    Shape shape = shape_, strides = strides_;
    shape[k] = (end - start + step - 1) / step;
    strides[k] *= step;
    return Tensor(storage_, shape, strides, offset_ + start * strides_[k], dtype_);
}

Tensor Tensor::narrow(int d, std::int64_t start, std::int64_t length) const {
    check_defined("narrow", "tensor", *this);
    std::size_t k = static_cast<std::size_t>(wrap_dim("narrow", d, dim()));
    POSTR_CHECK(start >= 0 && length >= 0 && start + length <= shape_[k], "narrow: range [", start,
                ", ", start + length, ") is outside dim ", d, " of size ", shape_[k], " (shape ",
                postr::to_string(shape_), "). Keep start + length <= size");
    return slice(d, start, start + length);
}

Tensor Tensor::select(int d, std::int64_t index) const {
    check_defined("select", "tensor", *this);
    POSTR_CHECK(dim() > 0, "select: cannot index a rank-0 tensor. Use item()");
    std::size_t k = static_cast<std::size_t>(wrap_dim("select", d, dim()));
    std::int64_t n = shape_[k];
    POSTR_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d,
                " of size ", n, " (shape ", postr::to_string(shape_),
                "). Use -size <= index < size");
    if (index < 0) index += n;
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(k));
    strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(k));
    return Tensor(storage_, shape, strides, offset_ + index * strides_[k], dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
    check_defined("expand", "tensor", *this);
    POSTR_CHECK(shape.size() >= shape_.size(), "expand: cannot expand ", postr::to_string(shape_),
                " to fewer dims ", postr::to_string(shape), ". Give at least as many dims");
    std::size_t lead = shape.size() - shape_.size();
    Shape out(shape.size()), strides(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) {
        std::int64_t want = shape[i];
        if (i < lead) {
            POSTR_CHECK(want >= 0, "expand: new leading dim ", i, " cannot be -1 (expanding ",
                        postr::to_string(shape_), " to ", postr::to_string(shape),
                        "). Give its size");
            out[i] = want;
            strides[i] = 0;
            continue;
        }
        std::int64_t have = shape_[i - lead];
        if (want == -1) want = have;
        POSTR_CHECK(want == have || have == 1, "expand: cannot broadcast ",
                    postr::to_string(shape_), " to ", postr::to_string(shape), ": dim ", i, " is ",
                    have, ". Only size-1 dims can be expanded");
        out[i] = want;
        strides[i] = want == have ? strides_[i - lead] : 0;
    }
    check_shape("expand", out);
    return Tensor(storage_, out, strides, offset_, dtype_);
}

Tensor Tensor::squeeze(int d) const {
    check_defined("squeeze", "tensor", *this);
    if (dim() == 0) return *this;
    std::size_t k = static_cast<std::size_t>(wrap_dim("squeeze", d, dim()));
    if (shape_[k] != 1) return *this;
    Shape shape = shape_, strides = strides_;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(k));
    strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(k));
    return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::squeeze() const {
    check_defined("squeeze", "tensor", *this);
    Shape shape, strides;
    for (std::size_t i = 0; i < shape_.size(); ++i) {
        if (shape_[i] == 1) continue;
        shape.push_back(shape_[i]);
        strides.push_back(strides_[i]);
    }
    return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int d) const {
    check_defined("unsqueeze", "tensor", *this);
    std::size_t k = static_cast<std::size_t>(wrap_dim("unsqueeze", d, dim() + 1));
    Shape shape = shape_, strides = strides_;
    std::int64_t stride = k < shape_.size() ? shape_[k] * strides_[k] : 1;
    shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(k), 1);
    strides.insert(strides.begin() + static_cast<std::ptrdiff_t>(k), stride);
    check_shape("unsqueeze", shape);
    return Tensor(storage_, shape, strides, offset_, dtype_);
}

// --- Printing --------------------------------------------------------------------------------

namespace {

constexpr std::int64_t kEdgeItems = 3;  // shown at each end of a dim that is elided
constexpr std::int64_t kElideAbove = 1000;

void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape,
               const Shape& strides, std::size_t d, std::int64_t base, bool elide, bool integral,
               int indent) {
    if (d == shape.size()) {
        if (integral)
            os << static_cast<std::int64_t>(v[static_cast<std::size_t>(base)]);
        else
            os << std::setw(10) << v[static_cast<std::size_t>(base)];
        return;
    }
    os << '[';
    std::int64_t n = shape[d];
    for (std::int64_t i = 0; i < n; ++i) {
        if (elide && n > 2 * kEdgeItems && i == kEdgeItems) {
            os << (d + 1 == shape.size() ? " ..., " : "...,\n" + std::string(indent + 1, ' '));
            i = n - kEdgeItems;
        }
        print_rec(os, v, shape, strides, d + 1, base + i * strides[d], elide, integral, indent + 1);
        if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    os << ']';
}

}  // namespace

std::string Tensor::to_string() const {
    if (!defined()) return "tensor(undefined)";
    std::vector<double> values = to_vector<double>();
    std::ostringstream os;
    os << "tensor(";
    bool integral = dtype_ == DType::i64;
    if (!integral) os << std::fixed << std::setprecision(4);
    print_rec(os, values, shape_, contiguous_strides(shape_), 0, 0, numel() > kElideAbove, integral,
              7);
    os << ", shape=" << postr::to_string(shape_) << ", dtype=" << dtype_name(dtype_)
       << ", device=" << device().name() << ')';
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype(), t.device()); }

}  // namespace postr
