// Datasets on disk: MNIST-format IDX (Fashion-MNIST), CIFAR-10 binary batches, CSV tables.
// Everything is read into CPU tensors; moving a batch to a device is the caller's choice.
#pragma once

#include <string>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::io {

// Images and their class labels.
struct ImageDataset {
    Tensor images;  // [N, C, H, W] f32 in [0, 1]
    Tensor labels;  // [N] i64
    std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST (or MNIST: same file names and format) from `dir`: split "train" reads
// train-{images-idx3,labels-idx1}-ubyte[.gz] (60000 images), "test" reads t10k-* (10000).
// → images [N, 1, 28, 28] f32 in [0, 1], labels [N] i64 in 0..9.
// Throws postr::Error for an unknown split; for a missing file, naming the path and how to get
// it (apt-get install dataset-fashion-mnist); for a corrupt file (see read_idx); when the image
// and label counts differ or a label is outside 0..9.
ImageDataset load_fashion_mnist(const std::string& split,
                                const std::string& dir = kFashionMnistDir);

// CIFAR-10 binary version from `dir`: split "train" reads data_batch_1.bin .. data_batch_5.bin,
// "test" reads test_batch.bin. Each record is 1 label byte and 3072 pixel bytes (the R, G, B
// planes of a 32×32 image). → images [N, 3, 32, 32] f32 in [0, 1], labels [N] i64 in 0..9.
// Throws postr::Error naming every missing file (with where to download the data), a file whose
// size is not a whole number of records, or a label outside 0..9.
ImageDataset load_cifar10(const std::string& dir, const std::string& split);

// Reads a comma-separated table of numbers. → f64 [rows, cols]. Blank lines are skipped, fields
// are trimmed of spaces; with `has_header` the first line holds column names, returned in
// `column_names` when it is not null.
// Throws postr::Error naming the path, line and column of a field that is not a number, or of a
// row whose field count differs from the first row's; for a missing file or an empty table.
Tensor read_csv(const std::string& path, bool has_header,
                std::vector<std::string>* column_names = nullptr);

}  // namespace postr::io
