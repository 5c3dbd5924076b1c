// IDX (plain and gzip), Fashion-MNIST, CIFAR-10 binary and CSV readers.
#include "postr/io/datasets.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "postr/io/idx.h"

#include "tests/support/test_support.h"

namespace postr::io {
namespace {

namespace fs = std::filesystem;
using test::throws_error;

// A fresh directory per test, removed at the end.
class TempDir {
  public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::path(::testing::TempDir()) /
                ("postr_io_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string str() const { return path_.string(); }

  private:
    fs::path path_;
};

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
}

// An IDX file of unsigned bytes with the given dims and data.
std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> b = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
    }
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

std::vector<std::uint8_t> iota_bytes(std::size_t n, int mul = 1) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * mul);
    return v;
}

TEST(ReadIdx, RoundTripsPlainAndGzip) {
    TempDir dir;
    const auto data = iota_bytes(2 * 3 * 4, 7);
    const auto bytes = idx_bytes({2, 3, 4}, data);
    write_bytes(dir.file("plain"), bytes);
    write_gzip(dir.file("packed.gz"), bytes);
    for (const auto& name : {"plain", "packed.gz"}) {
        SCOPED_TRACE(name);
        Tensor t = read_idx(dir.file(name), DType::f32);
        EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
        EXPECT_EQ(t.dtype(), DType::f32);
        const auto v = t.to_vector<float>();
        for (std::size_t i = 0; i < data.size(); ++i) EXPECT_EQ(v[i], float(data[i]));
        Tensor l = read_idx(dir.file(name), DType::i64);
        EXPECT_EQ(l.dtype(), DType::i64);
        EXPECT_EQ(l.to_vector<std::int64_t>()[5], data[5]);
    }
}

TEST(ReadIdx, RejectsBadMagicTypeAndSize) {
    TempDir dir;
    auto bytes = idx_bytes({2, 3}, iota_bytes(6));
    auto bad_magic = bytes;
    bad_magic[0] = 0x42;
    write_bytes(dir.file("magic"), bad_magic);
    EXPECT_TRUE(throws_error([&] { read_idx(dir.file("magic")); },
                             {"read_idx", dir.file("magic"), "magic"}));
    auto bad_type = bytes;
    bad_type[2] = 0x0D;  // float data
    write_bytes(dir.file("type"), bad_type);
    EXPECT_TRUE(
        throws_error([&] { read_idx(dir.file("type")); }, {dir.file("type"), "0xd", "0x08"}));
    const std::vector<std::uint8_t> short_data(bytes.begin(), bytes.end() - 1);
    write_bytes(dir.file("short"), short_data);
    EXPECT_TRUE(throws_error([&] { read_idx(dir.file("short")); },
                             {dir.file("short"), "5 data bytes", "[2, 3]", "need 6"}));
    auto huge = idx_bytes({0xffffffffu, 0xffffffffu}, {});
    write_bytes(dir.file("huge"), huge);
    EXPECT_TRUE(throws_error([&] { read_idx(dir.file("huge")); }, {dir.file("huge"), "larger"}));
    write_bytes(dir.file("tiny"), {0, 0});
    EXPECT_TRUE(throws_error([&] { read_idx(dir.file("tiny")); }, {dir.file("tiny"), "short"}));
    EXPECT_TRUE(
        throws_error([&] { read_idx(dir.file("absent")); }, {dir.file("absent"), "cannot open"}));
}

TEST(ReadIdx, RejectsTruncatedGzip) {
    TempDir dir;
    write_gzip(dir.file("full.gz"), idx_bytes({100}, iota_bytes(100, 13)));
    std::ifstream in(dir.file("full.gz"), std::ios::binary);
    std::vector<std::uint8_t> gz((std::istreambuf_iterator<char>(in)), {});
    for (std::size_t cut : {std::size_t{3}, gz.size() / 2, gz.size() - 4}) {
        SCOPED_TRACE(cut);
        write_bytes(dir.file("cut.gz"), {gz.begin(), gz.begin() + static_cast<long>(cut)});
        EXPECT_TRUE(throws_error([&] { read_idx(dir.file("cut.gz")); }, {dir.file("cut.gz")}));
    }
}

TEST(FashionMnist, LoadsTheInstalledFiles) {
    if (!fs::exists(kFashionMnistDir)) {
        GTEST_SKIP() << kFashionMnistDir << " is absent (apt-get install dataset-fashion-mnist)";
    }
    ImageDataset test_set = load_fashion_mnist("test");
    EXPECT_EQ(test_set.images.shape(), (Shape{10000, 1, 28, 28}));
    EXPECT_EQ(test_set.labels.shape(), (Shape{10000}));
    ImageDataset train = load_fashion_mnist("train");
    EXPECT_EQ(train.images.shape(), (Shape{60000, 1, 28, 28}));
    EXPECT_EQ(train.size(), 60000);
    std::vector<std::int64_t> counts(10, 0);
    for (std::int64_t l : train.labels.to_vector<std::int64_t>()) {
        ASSERT_TRUE(l >= 0 && l <= 9) << l;
        ++counts[static_cast<std::size_t>(l)];
    }
    for (std::int64_t c : counts) EXPECT_EQ(c, 6000);  // Fashion-MNIST is balanced
    const auto px = train.images.to_vector<float>();
    float lo = 1, hi = 0;
    for (float v : px) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_EQ(lo, 0.0f);
    EXPECT_EQ(hi, 1.0f);
}

TEST(FashionMnist, MissingFileNamesPathAndPackage) {
    TempDir dir;
    EXPECT_TRUE(throws_error([&] { load_fashion_mnist("train", dir.str()); },
                             {"load_fashion_mnist", dir.file("train-images-idx3-ubyte.gz"),
                              "apt-get install dataset-fashion-mnist"}));
    EXPECT_TRUE(throws_error([&] { load_fashion_mnist("valid", dir.str()); }, {"\"valid\""}));
}

TEST(FashionMnist, ReadsUncompressedFilesAndChecksCounts) {
    TempDir dir;
    write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_bytes({3, 2, 2}, iota_bytes(12, 20)));
    write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({3}, {9, 0, 4}));
    ImageDataset d = load_fashion_mnist("test", dir.str());
    EXPECT_EQ(d.images.shape(), (Shape{3, 1, 2, 2}));
    EXPECT_FLOAT_EQ(d.images.to_vector<float>()[11], 220.0f / 255.0f);
    EXPECT_EQ(d.labels.to_vector<std::int64_t>(), (std::vector<std::int64_t>{9, 0, 4}));
    write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({2}, {1, 2}));
    EXPECT_TRUE(
        throws_error([&] { load_fashion_mnist("test", dir.str()); }, {"3 images", "2 labels"}));
    write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({3}, {1, 2, 10}));
    EXPECT_TRUE(
        throws_error([&] { load_fashion_mnist("test", dir.str()); }, {"label 10", "outside 0..9"}));
}

// One CIFAR-10 record: label, then the R, G and B planes of 32×32.
void append_cifar_record(std::vector<std::uint8_t>& out, std::uint8_t label, std::uint8_t seed) {
    out.push_back(label);
    for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 1024; ++i) out.push_back(static_cast<std::uint8_t>(seed + 50 * c + i));
    }
}

TEST(Cifar10, ReadsSyntheticTestBatch) {
    TempDir dir;
    std::vector<std::uint8_t> bytes;
    append_cifar_record(bytes, 3, 0);
    append_cifar_record(bytes, 7, 11);
    write_bytes(dir.file("test_batch.bin"), bytes);
    ImageDataset d = load_cifar10(dir.str(), "test");
    EXPECT_EQ(d.images.shape(), (Shape{2, 3, 32, 32}));
    EXPECT_EQ(d.labels.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 7}));
    // Record 1, green plane (c = 1), row 2, column 5: byte 11 + 50 + 2·32 + 5.
    const float g = d.images.select(0, 1).select(0, 1).select(0, 2).select(0, 5).item<float>();
    EXPECT_FLOAT_EQ(g, static_cast<std::uint8_t>(11 + 50 + 64 + 5) / 255.0f);
    EXPECT_FLOAT_EQ(d.images.select(0, 0).select(0, 2).select(0, 0).select(0, 0).item<float>(),
                    100.0f / 255.0f);
}

TEST(Cifar10, NamesMissingFilesAndBadSizes) {
    TempDir dir;
    std::vector<std::uint8_t> one;
    append_cifar_record(one, 1, 0);
    write_bytes(dir.file("data_batch_1.bin"), one);
    write_bytes(dir.file("data_batch_2.bin"), one);
    EXPECT_TRUE(throws_error([&] { load_cifar10(dir.str(), "train"); },
                             {"load_cifar10", dir.file("data_batch_3.bin"),
                              dir.file("data_batch_5.bin"), "cifar-10-binary"}));
    for (int i = 3; i <= 5; ++i)
        write_bytes(dir.file("data_batch_" + std::to_string(i) + ".bin"), one);
    EXPECT_EQ(load_cifar10(dir.str(), "train").images.shape(), (Shape{5, 3, 32, 32}));
    one.pop_back();
    write_bytes(dir.file("test_batch.bin"), one);
    EXPECT_TRUE(throws_error([&] { load_cifar10(dir.str(), "test"); },
                             {dir.file("test_batch.bin"), "3072 bytes", "3073-byte records"}));
    std::vector<std::uint8_t> bad_label;
    append_cifar_record(bad_label, 12, 0);
    write_bytes(dir.file("test_batch.bin"), bad_label);
    EXPECT_TRUE(throws_error([&] { load_cifar10(dir.str(), "test"); }, {"label 12"}));
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ReadCsv, ParsesHeaderAndNumbers) {
    TempDir dir;
    write_text(dir.file("t.csv"), "x, y\n1.5, -2\n\n 3e2 ,+4\r\n-0.25,1e-3\n");
    std::vector<std::string> names;
    Tensor t = read_csv(dir.file("t.csv"), true, &names);
    EXPECT_EQ(names, (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.dtype(), DType::f64);
    EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1.5, -2, 300, 4, -0.25, 1e-3}));
    write_text(dir.file("n.csv"), "1,2,3\n");
    EXPECT_EQ(read_csv(dir.file("n.csv"), false).shape(), (Shape{1, 3}));
}

TEST(ReadCsv, ErrorsNameLineAndColumn) {
    TempDir dir;
    write_text(dir.file("bad.csv"), "a,b\n1,2\n3,oops\n");
    EXPECT_TRUE(throws_error([&] { read_csv(dir.file("bad.csv"), true); },
                             {"read_csv", "line 3, column 2", dir.file("bad.csv"), "\"oops\""}));
    write_text(dir.file("ragged.csv"), "1,2\n3\n");
    EXPECT_TRUE(throws_error([&] { read_csv(dir.file("ragged.csv"), false); },
                             {"line 2", "1 fields", "has 2"}));
    write_text(dir.file("empty_field.csv"), "1,,2\n");
    EXPECT_TRUE(
        throws_error([&] { read_csv(dir.file("empty_field.csv"), false); }, {"line 1, column 2"}));
    write_text(dir.file("header_only.csv"), "a,b\n");
    EXPECT_TRUE(throws_error([&] { read_csv(dir.file("header_only.csv"), true); }, {"no data"}));
    EXPECT_TRUE(throws_error([&] { read_csv(dir.file("absent.csv"), true); },
                             {dir.file("absent.csv"), "cannot open"}));
}

}  // namespace
}  // namespace postr::io
