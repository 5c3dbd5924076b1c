// Ref-counted storage: one allocation shared by every view of it.
#pragma once

#include <cstddef>
#include <memory>

#include "postr/core/device.h"

namespace postr {

class Storage {
  public:
    // Allocates `nbytes` on `device` from postr's caching allocators (64-byte aligned on the CPU).
    Storage(std::size_t nbytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    std::size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }

  private:
    void* data_ = nullptr;
    std::size_t nbytes_ = 0;
    Device device_;
};

}  // namespace postr
