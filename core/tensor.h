// Tensor: a strided view (shape, strides, offset, dtype) of ref-counted storage on one device.
// Copying a Tensor copies the handle, not the data; views share storage with their base.
// Arithmetic lives in postr/kernels/ops.h; this class only describes, views, copies and casts.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "postr/core/device.h"
#include "postr/core/dtype.h"
#include "postr/core/shape.h"
#include "postr/core/storage.h"

namespace postr {

class Tensor {
  public:
    // An undefined tensor (defined() is false); most operations on it throw.
    Tensor() = default;

    // --- Factories ------------------------------------------------------------------------
    // Uninitialized memory of `shape`. Throws for negative sizes or rank above kMaxDims.
    static Tensor empty(const Shape& shape, DType dtype = DType::f32,
                        Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype = DType::f32,
                        Device device = Device::cpu());
    static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                       Device device = Device::cpu());
    // A rank-0 tensor holding `value`.
    static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
    // Copies host data of numel(shape) elements; throws if the sizes differ.
    static Tensor from_vector(const std::vector<float>& data, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_vector(const std::vector<double>& data, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_vector(const std::vector<std::int64_t>& data, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_blob(const void* data, const Shape& shape, DType dtype,
                            Device device = Device::cpu());

    // --- Metadata ---------------------------------------------------------------------------
    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    const Shape& strides() const { return strides_; }
    std::int64_t offset() const { return offset_; }  // in elements
    int dim() const { return static_cast<int>(shape_.size()); }
    std::int64_t size(int dim) const;  // negative dims count from the end
    std::int64_t stride(int dim) const;
    std::int64_t numel() const;
    DType dtype() const { return dtype_; }
    Device device() const;
    bool is_cuda() const { return device().is_cuda(); }
    bool is_contiguous() const;
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * itemsize(dtype_); }
    const std::shared_ptr<Storage>& storage() const { return storage_; }
    bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

    // Address of the first element (storage base + offset).
    void* data_ptr() const;
    // As data_ptr, after checking T matches the dtype.
    template <class T>
    T* data() const;

    // --- Copies, moves between devices and dtypes ----------------------------------------
    Tensor contiguous() const;       // this tensor if already contiguous, else a compact copy
    Tensor clone() const;            // always a fresh contiguous copy
    Tensor to(Device device) const;  // this tensor when already there
    Tensor to(DType dtype) const;    // this tensor when already of that dtype
    // Copies `src` into this tensor, broadcasting src's shape and casting its dtype, across
    // devices if needed. In-place; returns *this.
    Tensor& copy_(const Tensor& src);
    Tensor& fill_(double value);
    Tensor& zero_() { return fill_(0.0); }

    // The value of a one-element tensor, as double (i64 values above 2^53 lose precision).
    double item() const;
    template <class T>
    T item() const;
    // All elements in row-major order, copied to the host (casting to T).
    template <class T>
    std::vector<T> to_vector() const;

    // --- Views (no copy; share storage) ---------------------------------------------------
    // reshape copies only when the strides do not allow a view; view throws instead.
    // One size may be -1 (inferred).
    Tensor view(const Shape& shape) const;
    Tensor reshape(const Shape& shape) const;
    Tensor flatten() const { return reshape({-1}); }
    Tensor permute(const std::vector<int>& dims) const;
    Tensor transpose(int dim0, int dim1) const;
    Tensor t() const;  // transpose of a rank-2 tensor (rank 0/1 returned unchanged)
    // Elements start, start+step, ... < end along dim; negative start/end count from the end.
    Tensor slice(int dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
    Tensor narrow(int dim, std::int64_t start, std::int64_t length) const;
    Tensor select(int dim, std::int64_t index) const;  // drops dim
    Tensor operator[](std::int64_t index) const { return select(0, index); }
    // Broadcasts size-1 dims (stride 0) and prepends dims; -1 keeps a size.
    Tensor expand(const Shape& shape) const;
    Tensor squeeze(int dim) const;
    Tensor squeeze() const;  // all size-1 dims
    Tensor unsqueeze(int dim) const;
    Tensor as_strided(const Shape& shape, const Shape& strides, std::int64_t offset) const;

    // Readable printing in PyTorch's style, eliding the middle of large dims.
    std::string to_string() const;

  private:
    Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
           DType dtype);

    std::shared_ptr<Storage> storage_;
    Shape shape_;
    Shape strides_;
    std::int64_t offset_ = 0;
    DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A tensor like `t` (shape, dtype, device), freshly allocated and contiguous.
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);

}  // namespace postr
