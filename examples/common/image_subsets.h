// Subsets of an image dataset, for the examples' --train-subset, --test-subset and fitting
// subsets.
#pragma once

#include <cstdint>

#include "postr/io/datasets.h"

namespace postr::examples {

// The first n images and labels (views, no copy); all of them when n ≤ 0 or n ≥ the size.
io::ImageDataset first_rows(io::ImageDataset data, std::int64_t n);

// n images drawn without replacement, the same for a seed (nn::select_random); all of them
// when n ≤ 0 or n ≥ the size.
io::ImageDataset random_rows(const io::ImageDataset& data, std::int64_t n, std::uint64_t seed);

}  // namespace postr::examples
