// safetensors checkpoints: bitwise round trips, a PyTorch-style fixture written byte by byte,
// and corrupt or truncated files that must throw postr::Error, never crash.
#include "postr/io/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "postr/core/error.h"

#include "tests/support/test_support.h"

namespace postr::io {
namespace {

namespace fs = std::filesystem;
using test::throws_error;

class SafetensorsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::path(::testing::TempDir()) /
               ("postr_st_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string file(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

std::vector<char> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           (a.nbytes() == 0 ||
            std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0);
}

NamedTensors sample_tensors() {
    Tensor weird = test::random_tensor({3}, DType::f64, 2);
    weird.select(0, 0).fill_(std::numeric_limits<double>::quiet_NaN());
    weird.select(0, 1).fill_(-0.0);
    return {{"layer1.weight", test::random_tensor({4, 3}, DType::f32, 1)},
            {"layer1.bias", weird},
            {"subnet.indices", test::random_ints({5}, -3, 1000, 3)},
            {"step", Tensor::scalar(12, DType::i64)},
            {"temperature", Tensor::scalar(0.5, DType::f64)},
            {"empty", Tensor::empty({0, 3}, DType::f32)},
            {"transposed", test::transposed_copy(test::random_tensor({2, 3}, DType::f32, 4))}};
}

TEST_F(SafetensorsTest, RoundTripsBitwise) {
    const NamedTensors in = sample_tensors();
    const std::map<std::string, std::string> meta = {{"format", "pt"}, {"epoch", "7"}};
    save_safetensors(file("ckpt.safetensors"), in, meta);
    EXPECT_FALSE(fs::exists(file("ckpt.safetensors.tmp")));
    SafetensorsFile out = load_safetensors(file("ckpt.safetensors"));
    EXPECT_EQ(out.metadata, meta);
    ASSERT_EQ(out.tensors.size(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        SCOPED_TRACE(in[i].first);
        EXPECT_EQ(out.tensors[i].first, in[i].first);  // data order is the saved order
        EXPECT_TRUE(bitwise_equal(out.tensors[i].second, in[i].second));
    }
    // The header length is a multiple of 8, so the data section is aligned.
    const auto bytes = read_all(file("ckpt.safetensors"));
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);
    // Saving again replaces the file.
    save_safetensors(file("ckpt.safetensors"), {{"only", Tensor::ones({2})}});
    EXPECT_EQ(load_safetensors(file("ckpt.safetensors")).tensors.size(), 1u);
}

// A file as PyTorch's safetensors.torch.save_file writes it, spelled out byte by byte.
std::vector<char> pytorch_fixture() {
    const std::string header =
        R"({"__metadata__":{"format":"pt"},)"
        R"("bn1.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[8,16]},)"
        R"("conv1.weight":{"dtype":"F32","shape":[2,1,1,1],"data_offsets":[0,8]}})";
    // Built in a string: GCC 12 at -O3 misreads vector::insert here as out of bounds.
    std::string out(8, '\0');
    for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>(header.size() >> (8 * i));
    out += header;
    const float w[2] = {1.5f, -2.0f};
    const std::int64_t count = 7;
    out.append(reinterpret_cast<const char*>(w), 8);
    out.append(reinterpret_cast<const char*>(&count), 8);
    return std::vector<char>(out.begin(), out.end());
}

TEST_F(SafetensorsTest, LoadsHandWrittenPyTorchStyleFile) {
    write_all(file("torch.safetensors"), pytorch_fixture());
    SafetensorsFile f = load_safetensors(file("torch.safetensors"));
    EXPECT_EQ(f.metadata.at("format"), "pt");
    ASSERT_EQ(f.tensors.size(), 2u);
    EXPECT_EQ(f.tensors[0].first, "conv1.weight");
    EXPECT_EQ(f.tensors[0].second.shape(), (Shape{2, 1, 1, 1}));
    EXPECT_EQ(f.tensors[0].second.to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
    EXPECT_EQ(f.tensors[1].first, "bn1.num_batches_tracked");
    EXPECT_EQ(f.tensors[1].second.dim(), 0);
    EXPECT_EQ(f.tensors[1].second.item<std::int64_t>(), 7);
}

TEST_F(SafetensorsTest, RejectsUnsupportedDtypeAndBadOffsets) {
    auto edit = [&](const std::string& from, const std::string& to) {
        auto bytes = pytorch_fixture();
        std::string s(bytes.begin(), bytes.end());
        s.replace(s.find(from), from.size(), to);
        write_all(file("edited"), {s.begin(), s.end()});
    };
    edit(R"("dtype":"F32")", R"("dtype":"F16")");
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("edited")); },
                             {"load_safetensors", "conv1.weight", "F16", file("edited")}));
    edit("[0,8]", "[0,9]");  // same header length, wrong size
    EXPECT_TRUE(
        throws_error([&] { load_safetensors(file("edited")); }, {"conv1.weight", "9 bytes"}));
    edit("[8,16]", "[0,8]");  // both tensors claim bytes 0..8
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("edited")); }, {"overlap"}));
    edit("[8,16]", "[9,17]");  // past the end
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("edited")); }, {"outside"}));
    edit(R"("shape":[])", R"("shape":{})");
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("edited")); }, {"shape"}));
    edit("{\"__metadata__\"", "[\"__metadata__\"");
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("edited")); }, {"not valid JSON"}));
    EXPECT_TRUE(
        throws_error([&] { load_safetensors(file("absent")); }, {file("absent"), "cannot open"}));
}

// Loads `path`; any outcome but success or postr::Error fails the test.
void expect_loads_or_error(const std::string& path, const std::string& what) {
    try {
        load_safetensors(path);
    } catch (const Error&) {
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": threw a non-postr exception: " << e.what();
    }
}

TEST_F(SafetensorsTest, TruncatedFilesThrowAtEveryCut) {
    save_safetensors(file("full"), sample_tensors(), {{"k", "v"}});
    const auto bytes = read_all(file("full"));
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        write_all(file("cut"), {bytes.begin(), bytes.begin() + static_cast<long>(cut)});
        EXPECT_THROW(load_safetensors(file("cut")), Error) << "cut at " << cut;
    }
}

TEST_F(SafetensorsTest, RandomCorruptionNeverCrashes) {
    save_safetensors(file("full"), sample_tensors(), {{"k", "v"}});
    const auto bytes = read_all(file("full"));
    std::mt19937_64 rng(2024);
    for (int trial = 0; trial < 600; ++trial) {
        auto bad = bytes;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            // Mostly the length and header, where corruption is interesting.
            const std::size_t span =
                (rng() % 4 == 0) ? bad.size() : std::min<std::size_t>(bad.size(), 400);
            bad[rng() % span] = static_cast<char>(rng());
        }
        write_all(file("bad"), bad);
        expect_loads_or_error(file("bad"), "trial " + std::to_string(trial));
    }
    // A garbage length: huge, then longer than the file.
    auto bad = bytes;
    std::memset(bad.data(), 0xff, 8);
    write_all(file("bad"), bad);
    EXPECT_TRUE(throws_error([&] { load_safetensors(file("bad")); }, {"header", "truncated"}));
}

TEST_F(SafetensorsTest, FailedSaveThrowsAndKeepsTheOldFile) {
    EXPECT_TRUE(throws_error([&] { save_safetensors(file("no/such/dir/ckpt"), sample_tensors()); },
                             {"save_safetensors", file("no/such/dir/ckpt.tmp"), "No such file"}));
    save_safetensors(file("ckpt"), sample_tensors());
    const auto before = read_all(file("ckpt"));
    fs::create_directory(file("ckpt.tmp"));  // the temporary path cannot be opened as a file
    EXPECT_TRUE(throws_error(
        [&] {
            save_safetensors(file("ckpt"), {{"x", Tensor::ones({3})}});
        },
        {file("ckpt.tmp")}));
    EXPECT_EQ(read_all(file("ckpt")), before);
    fs::remove(file("ckpt.tmp"));
    EXPECT_TRUE(throws_error(
        [&] {
            save_safetensors(file("ckpt"), {{"x", Tensor()}});
        },
        {"\"x\"", "undefined"}));
    EXPECT_TRUE(throws_error(
        [&] {
            save_safetensors(file("ckpt"), {{"x", Tensor::ones({1})}, {"x", Tensor::ones({1})}});
        },
        {"\"x\"", "twice"}));
    EXPECT_EQ(read_all(file("ckpt")), before);
}

}  // namespace
}  // namespace postr::io
