#include "examples/common/image_subsets.h"

#include "postr/kernels/ops.h"
#include "postr/nn/curvature/subnetwork.h"

namespace postr::examples {

io::ImageDataset first_rows(io::ImageDataset data, std::int64_t n) {
    if (n > 0 && n < data.size()) {
        data.images = data.images.narrow(0, 0, n);
        data.labels = data.labels.narrow(0, 0, n);
    }
    return data;
}

io::ImageDataset random_rows(const io::ImageDataset& data, std::int64_t n, std::uint64_t seed) {
    if (n <= 0 || n >= data.size()) return data;
    const Tensor rows = nn::select_random(data.size(), n, seed);
    return {index_select(data.images, 0, rows), index_select(data.labels, 0, rows)};
}

}  // namespace postr::examples
