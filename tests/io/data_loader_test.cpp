// DataLoader: shuffling, batching, normalisation, augmentation; image rotation.
#include "postr/io/data_loader.h"

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace postr::io {
namespace {

using test::throws_error;

// N images [1, 2, 2] whose pixels hold their row index, and labels = row index.
ImageDataset indexed_dataset(std::int64_t n, std::int64_t channels = 1, std::int64_t h = 2,
                             std::int64_t w = 2) {
    std::vector<float> px;
    std::vector<std::int64_t> labels;
    for (std::int64_t i = 0; i < n; ++i) {
        labels.push_back(i);
        for (std::int64_t k = 0; k < channels * h * w; ++k) px.push_back(float(i));
    }
    return {Tensor::from_vector(px, {n, channels, h, w}), Tensor::from_vector(labels, {n})};
}

std::vector<std::int64_t> epoch_rows(const DataLoader& loader, std::int64_t epoch) {
    std::vector<std::int64_t> rows;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
        Batch batch = loader.batch(epoch, b);
        const auto idx = batch.indices.to_vector<std::int64_t>();
        EXPECT_EQ(batch.labels.to_vector<std::int64_t>(), idx);
        const auto px = batch.images.to_vector<float>();
        for (std::size_t k = 0; k < idx.size(); ++k) EXPECT_EQ(px[k * 4], float(idx[k]));
        rows.insert(rows.end(), idx.begin(), idx.end());
    }
    return rows;
}

TEST(DataLoader, CoversEveryRowOncePerEpoch) {
    DataLoader loader(indexed_dataset(103), {.batch_size = 10, .shuffle = true, .seed = 5});
    EXPECT_EQ(loader.num_batches(), 11);
    EXPECT_EQ(loader.batch(0, 10).images.shape(), (Shape{3, 1, 2, 2}));
    for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
        auto rows = epoch_rows(loader, epoch);
        std::sort(rows.begin(), rows.end());
        ASSERT_EQ(rows.size(), 103u);
        for (std::int64_t i = 0; i < 103; ++i) EXPECT_EQ(rows[static_cast<std::size_t>(i)], i);
    }
}

TEST(DataLoader, ShuffleIsDeterministicPerSeedAndDiffersAcrossEpochs) {
    const ImageDataset d = indexed_dataset(50);
    DataLoader a(d, {.batch_size = 7, .seed = 42});
    DataLoader b(d, {.batch_size = 7, .seed = 42});
    DataLoader c(d, {.batch_size = 7, .seed = 43});
    EXPECT_EQ(epoch_rows(a, 0), epoch_rows(b, 0));
    EXPECT_EQ(a.permutation(3), b.permutation(3));
    EXPECT_NE(a.permutation(0), a.permutation(1));
    EXPECT_NE(a.permutation(0), c.permutation(0));
    std::vector<std::int64_t> identity(50);
    for (std::size_t i = 0; i < 50; ++i) identity[i] = static_cast<std::int64_t>(i);
    EXPECT_NE(a.permutation(0), identity);
    DataLoader ordered(d, {.batch_size = 7, .shuffle = false});
    EXPECT_EQ(epoch_rows(ordered, 4), identity);
}

TEST(DataLoader, InterleavedEpochsMatchPermutationSlices) {
    // The loader caches the latest epoch's permutation: switching epochs back and forth, from
    // several threads and through a copy, must still give permutation(epoch)[b·B, (b+1)·B).
    const DataLoader loader(indexed_dataset(37), {.batch_size = 5, .seed = 9});
    const DataLoader copy = loader;
    auto check = [&](const DataLoader& l, std::int64_t epoch, std::int64_t b) {
        const auto perm = l.permutation(epoch);
        const auto begin = static_cast<std::ptrdiff_t>(b * 5);
        const auto end = std::min<std::ptrdiff_t>(begin + 5, 37);
        const std::vector<std::int64_t> want(perm.begin() + begin, perm.begin() + end);
        EXPECT_EQ(l.batch(epoch, b).indices.to_vector<std::int64_t>(), want)
            << "epoch " << epoch << ", batch " << b;
    };
    for (std::int64_t b = 0; b < loader.num_batches(); ++b)
        for (std::int64_t epoch : {0, 3, 0, 1, 3}) check(b % 2 ? copy : loader, epoch, b);
    std::vector<std::thread> threads;
    for (std::int64_t t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (std::int64_t i = 0; i < 40; ++i) check(loader, (t + i) % 3, i % 8);
        });
    for (auto& th : threads) th.join();
}

TEST(DataLoader, DropLast) {
    DataLoader keep(indexed_dataset(10), {.batch_size = 4, .drop_last = false});
    DataLoader drop(indexed_dataset(10), {.batch_size = 4, .drop_last = true});
    EXPECT_EQ(keep.num_batches(), 3);
    EXPECT_EQ(drop.num_batches(), 2);
    EXPECT_EQ(epoch_rows(drop, 0).size(), 8u);
    EXPECT_TRUE(throws_error([&] { drop.batch(0, 2); }, {"DataLoader::batch", "2", "2 batches"}));
}

TEST(DataLoader, NormalisesPerChannel) {
    // One image, two channels of 2×2: channel 0 holds 0.5, channel 1 holds 0.25.
    ImageDataset d{
        Tensor::from_vector(std::vector<float>{.5f, .5f, .5f, .5f, .25f, .25f, .25f, .25f},
                            {1, 2, 2, 2}),
        Tensor::from_vector(std::vector<std::int64_t>{0}, {1})};
    DataLoader loader(d, {.batch_size = 1, .mean = {0.5, 0.125}, .std = {2.0, 0.5}});
    const auto v = loader.batch(0, 0).images.to_vector<float>();
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(v[i], 0.0f);
    for (int i = 4; i < 8; ++i) EXPECT_FLOAT_EQ(v[i], 0.25f);
    EXPECT_TRUE(throws_error([&] { DataLoader(d, {.mean = {0.5}, .std = {1.0}}); },
                             {"DataLoader", "mean", "2 channels"}));
    EXPECT_TRUE(throws_error(
        [&] {
            DataLoader(d, {.mean = {0, 0}, .std = {1.0, 0.0}});
        },
        {"std", "positive"}));
    EXPECT_TRUE(throws_error([&] { DataLoader(d, {.batch_size = 0}); }, {"batch_size"}));
}

// A 3×3 image with pixels 1..9 (row-major), many copies so that each augmentation occurs.
ImageDataset grid_dataset(std::int64_t n) {
    std::vector<float> px;
    for (std::int64_t i = 0; i < n; ++i) {
        for (int k = 1; k <= 9; ++k) px.push_back(float(k));
    }
    return {Tensor::from_vector(px, {n, 1, 3, 3}),
            Tensor::from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(n), 0), {n})};
}

TEST(DataLoader, HorizontalFlipMirrorsColumns) {
    DataLoader loader(grid_dataset(64), {.batch_size = 64, .seed = 1, .horizontal_flip = true});
    const auto v = loader.batch(0, 0).images.to_vector<float>();
    const std::vector<float> plain = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const std::vector<float> flipped = {3, 2, 1, 6, 5, 4, 9, 8, 7};
    int n_flipped = 0;
    for (std::size_t k = 0; k < 64; ++k) {
        std::vector<float> img(v.begin() + static_cast<long>(9 * k),
                               v.begin() + static_cast<long>(9 * k + 9));
        ASSERT_TRUE(img == plain || img == flipped) << k;
        n_flipped += img == flipped;
    }
    EXPECT_GT(n_flipped, 10);
    EXPECT_LT(n_flipped, 54);
    EXPECT_EQ(loader.batch(0, 0).images.to_vector<float>(), v);  // deterministic
    EXPECT_NE(loader.batch(1, 0).images.to_vector<float>(), v);  // new draws each epoch
}

TEST(DataLoader, RandomCropShiftsWithZeroPadding) {
    DataLoader loader(grid_dataset(200), {.batch_size = 200, .seed = 9, .crop_padding = 1});
    const auto v = loader.batch(0, 0).images.to_vector<float>();
    // Every output must be the grid shifted by some (dy, dx) in {-1, 0, 1}², zeros outside.
    std::vector<int> seen(9, 0);
    for (std::size_t k = 0; k < 200; ++k) {
        bool matched = false;
        for (int dy = -1; dy <= 1 && !matched; ++dy) {
            for (int dx = -1; dx <= 1 && !matched; ++dx) {
                bool ok = true;
                for (int y = 0; y < 3; ++y) {
                    for (int x = 0; x < 3; ++x) {
                        const int sy = y + dy, sx = x + dx;
                        const float want = (sy >= 0 && sy < 3 && sx >= 0 && sx < 3)
                                               ? float(1 + 3 * sy + sx)
                                               : 0.0f;
                        ok = ok && v[9 * k + static_cast<std::size_t>(3 * y + x)] == want;
                    }
                }
                if (ok) {
                    matched = true;
                    ++seen[static_cast<std::size_t>(3 * (dy + 1) + dx + 1)];
                }
            }
        }
        ASSERT_TRUE(matched) << "image " << k << " is not a shifted crop";
    }
    for (int s : seen) EXPECT_GT(s, 5);  // all nine offsets occur
}

TEST(RotateImages, ZeroIsIdentityAndNinetyIsRot90) {
    Tensor img = test::random_tensor({2, 3, 5, 5}, DType::f32, 7, 0.0, 1.0);
    EXPECT_EQ(rotate_images(img, 0.0).to_vector<float>(), img.to_vector<float>());
    EXPECT_EQ(rotate_images(img, 360.0).to_vector<float>(), img.to_vector<float>());
    // Counter-clockwise by 90°: out[y][x] = in[x][W-1-y], i.e. a transpose then a vertical flip.
    const auto in = img.to_vector<float>();
    const auto out = rotate_images(img, 90.0).to_vector<float>();
    for (std::size_t p = 0; p < 6; ++p) {
        for (std::size_t y = 0; y < 5; ++y) {
            for (std::size_t x = 0; x < 5; ++x) {
                EXPECT_EQ(out[25 * p + 5 * y + x], in[25 * p + 5 * x + (4 - y)]);
            }
        }
    }
    // Four quarter turns come back; f64 and [C, H, W] are accepted.
    Tensor d = test::random_tensor({1, 4, 4}, DType::f64, 3);
    Tensor r = d;
    for (int i = 0; i < 4; ++i) r = rotate_images(r, 90.0);
    EXPECT_TRUE(test::all_close(r, d, 0, 1e-12));
}

TEST(RotateImages, BilinearWithZeroFill) {
    // A constant image rotated by 45°: the centre stays 1, the corners fall outside (zero fill).
    // On 7×7 the corners map 4.24 pixels from the centre, more than a pixel outside.
    Tensor ones = Tensor::ones({1, 1, 7, 7});
    const auto out = rotate_images(ones, 45.0).to_vector<float>();
    EXPECT_FLOAT_EQ(out[24], 1.0f);
    EXPECT_FLOAT_EQ(out[0], 0.0f);
    EXPECT_FLOAT_EQ(out[48], 0.0f);
    EXPECT_GT(out[6 * 7 + 1], 0.0f);  // (6, 1) maps to x ≈ −0.54: half blended with the zero fill
    EXPECT_LT(out[6 * 7 + 1], 1.0f);
    for (float v : out) EXPECT_TRUE(v >= 0.0f && v <= 1.0f + 1e-6f);
    // Half-pixel blend: a single bright pixel rotated by 180° about the centre moves to the mirror.
    Tensor dot = Tensor::zeros({1, 4, 4});
    dot.select(0, 0).select(0, 1).select(0, 0).fill_(1.0);
    const auto moved = rotate_images(dot, 180.0).to_vector<float>();
    EXPECT_NEAR(moved[4 * 2 + 3], 1.0f, 1e-6);
    EXPECT_TRUE(throws_error(
        [&] {
            rotate_images(Tensor::zeros({4, 4}), 10.0);
        },
        {"rotate_images", "[4, 4]"}));
}

}  // namespace
}  // namespace postr::io
