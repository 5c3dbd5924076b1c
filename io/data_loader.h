// Mini-batches over an in-memory ImageDataset: seeded shuffling, normalisation and simple
// augmentation, every random choice a pure function of (seed, epoch, index), so a run can be
// resumed at any epoch and reproduces bit for bit. Also image rotation for shift benchmarks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "postr/core/tensor.h"
#include "postr/io/datasets.h"

namespace postr::io {

struct DataLoaderOptions {
    std::int64_t batch_size = 128;
    bool shuffle = true;     // a fresh permutation each epoch, from (seed, epoch)
    std::uint64_t seed = 0;  // for shuffling and augmentation
    bool drop_last = false;  // drop a final batch smaller than batch_size
    // Per-channel normalisation x → (x − mean[c]) / std[c], applied after augmentation. Empty
    // means none; otherwise both hold C values.
    std::vector<double> mean{};
    std::vector<double> std{};
    // Random crop: pad each side with `crop_padding` zeros, then cut an H×W window at a random
    // offset (0 turns it off). Random horizontal flip with probability 1/2.
    std::int64_t crop_padding = 0;
    bool horizontal_flip = false;
};

struct Batch {
    Tensor images;   // [B, C, H, W] f32, CPU
    Tensor labels;   // [B] i64, CPU
    Tensor indices;  // [B] i64: the dataset rows in this batch
};

// Usage: for (e...) for (b = 0; b < loader.num_batches(); ++b) { Batch x = loader.batch(e, b); }
// The loader keeps a handle to the dataset's tensors (no copy). Thread-safe; its only state is a
// cache of the latest epoch's permutation, which does not change any result.
class DataLoader {
  public:
    // Throws postr::Error for a non-positive batch size, images not [N, C, H, W] f32, labels not
    // [N] i64, mean/std sizes other than C, a non-positive std, or a negative crop padding.
    DataLoader(const ImageDataset& data, DataLoaderOptions options);

    std::int64_t size() const { return data_.size(); }  // N
    std::int64_t num_batches() const;
    const DataLoaderOptions& options() const { return options_; }

    // The order of dataset rows in `epoch`: a permutation of 0..N-1 (the identity without
    // shuffle), a pure function of (seed, epoch).
    std::vector<std::int64_t> permutation(std::int64_t epoch) const;

    // Batch `b` of `epoch`, 0 <= b < num_batches(): rows permutation(epoch)[b·B, (b+1)·B),
    // augmented and normalised. Throws postr::Error for b out of range.
    Batch batch(std::int64_t epoch, std::int64_t b) const;

  private:
    struct PermutationCache;
    // permutation(epoch), reused while consecutive calls ask for the same epoch.
    std::shared_ptr<const std::vector<std::int64_t>> cached_permutation(std::int64_t epoch) const;

    ImageDataset data_;
    DataLoaderOptions options_;
    std::shared_ptr<PermutationCache> cache_;
};

// Rotates each image counter-clockwise (as displayed, row 0 at the top) by `degrees` about its
// centre ((W−1)/2, (H−1)/2), with bilinear interpolation and zero fill outside the input.
// images: [N, C, H, W] or [C, H, W] f32 or f64 on the CPU → same shape and dtype.
// Rotating by 90° gives np.rot90 of a square image; 0° returns an equal copy.
// Throws postr::Error for another rank, dtype or device.
Tensor rotate_images(const Tensor& images, double degrees);

}  // namespace postr::io
