#include "postr/io/datasets.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "postr/core/error.h"
#include "postr/io/idx.h"

namespace postr::io {

namespace {

namespace fs = std::filesystem;

// The existing one of `dir/name.gz` and `dir/name`, or a thrown error with an install hint.
std::string find_mnist_file(const std::string& dir, const std::string& name) {
    for (const std::string& candidate : {dir + "/" + name + ".gz", dir + "/" + name}) {
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return candidate;
    }
    detail::fail("load_fashion_mnist: data file not found: \"", dir, "/", name,
                 ".gz\" (nor the uncompressed \"", dir, "/", name,
                 "\"). Install the data with `apt-get install dataset-fashion-mnist` (files in ",
                 kFashionMnistDir, ") or pass the directory that holds them");
}

void check_labels(const char* op, const Tensor& labels, const std::string& path) {
    const auto* p = labels.data<std::int64_t>();
    for (std::int64_t i = 0; i < labels.numel(); ++i) {
        POSTR_CHECK(p[i] >= 0 && p[i] <= 9, op, ": label ", p[i], " at record ", i, " of \"", path,
                    "\" is outside 0..9. The file is corrupt");
    }
}

}  // namespace

ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir) {
    const char* op = "load_fashion_mnist";
    POSTR_CHECK(split == "train" || split == "test", op, ": split \"", split,
                "\" is unknown. Use \"train\" or \"test\"");
    const std::string prefix = split == "train" ? "train" : "t10k";
    const std::string image_path = find_mnist_file(dir, prefix + "-images-idx3-ubyte");
    const std::string label_path = find_mnist_file(dir, prefix + "-labels-idx1-ubyte");

    Tensor images = read_idx(image_path, DType::f32);  // [N, 28, 28] in 0..255
    Tensor labels = read_idx(label_path, DType::i64);  // [N]
    POSTR_CHECK(images.dim() == 3, op, ": \"", image_path, "\" holds shape ",
                to_string(images.shape()), "; expected [N, H, W] images");
    POSTR_CHECK(labels.dim() == 1, op, ": \"", label_path, "\" holds shape ",
                to_string(labels.shape()), "; expected [N] labels");
    POSTR_CHECK(images.size(0) == labels.size(0), op, ": \"", image_path, "\" has ", images.size(0),
                " images but \"", label_path, "\" has ", labels.size(0),
                " labels. One of the files is from another data set or truncated");
    check_labels(op, labels, label_path);
    float* p = images.data<float>();
    for (std::int64_t i = 0; i < images.numel(); ++i) p[i] /= 255.0f;
    return {images.unsqueeze(1), labels};
}

ImageDataset load_cifar10(const std::string& dir, const std::string& split) {
    const char* op = "load_cifar10";
    POSTR_CHECK(split == "train" || split == "test", op, ": split \"", split,
                "\" is unknown. Use \"train\" or \"test\"");
    std::vector<std::string> paths;
    if (split == "train") {
        for (int i = 1; i <= 5; ++i)
            paths.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
    } else {
        paths.push_back(dir + "/test_batch.bin");
    }
    std::string missing;
    for (const auto& p : paths) {
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) missing += (missing.empty() ? "\"" : ", \"") + p + "\"";
    }
    POSTR_CHECK(missing.empty(), op, ": data file(s) not found: ", missing,
                ". Download the CIFAR-10 binary version (cifar-10-binary.tar.gz from "
                "https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into \"",
                dir, "\"");

    constexpr std::size_t kPixels = 3 * 32 * 32;
    constexpr std::size_t kRecord = 1 + kPixels;
    std::vector<std::vector<std::uint8_t>> files;
    std::int64_t n = 0;
    for (const auto& p : paths) {
        files.push_back(read_maybe_gzip(p, op));
        const std::size_t bytes = files.back().size();
        POSTR_CHECK(bytes % kRecord == 0, op, ": \"", p, "\" has ", bytes,
                    " bytes, not a whole number of ", kRecord,
                    "-byte records. The file is truncated or corrupt; extract it again");
        n += static_cast<std::int64_t>(bytes / kRecord);
    }
    Tensor images = Tensor::empty({n, 3, 32, 32}, DType::f32);
    Tensor labels = Tensor::empty({n}, DType::i64);
    float* img = images.data<float>();
    std::int64_t* lab = labels.data<std::int64_t>();
    std::int64_t row = 0;
    for (std::size_t f = 0; f < files.size(); ++f) {
        const auto& bytes = files[f];
        for (std::size_t r = 0; r < bytes.size() / kRecord; ++r, ++row) {
            const std::uint8_t* rec = bytes.data() + r * kRecord;
            POSTR_CHECK(rec[0] <= 9, op, ": label ", int(rec[0]), " at record ", r, " of \"",
                        paths[f], "\" is outside 0..9. The file is corrupt or not CIFAR-10");
            lab[row] = rec[0];
            float* dst = img + row * static_cast<std::int64_t>(kPixels);
            for (std::size_t i = 0; i < kPixels; ++i) dst[i] = rec[1 + i] / 255.0f;
        }
    }
    return {images, labels};
}

Tensor read_csv(const std::string& path, bool has_header, std::vector<std::string>* column_names) {
    const char* op = "read_csv";
    std::ifstream f(path);
    if (!f) {
        detail::fail(op, ": cannot open \"", path, "\": ", std::strerror(errno),
                     ". Check the path");
    }
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
            s.remove_suffix(1);
        return s;
    };
    auto split = [&](const std::string& line) {
        std::vector<std::string_view> fields;
        std::string_view rest(line);
        while (true) {
            auto comma = rest.find(',');
            fields.push_back(trim(rest.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        return fields;
    };

    std::vector<double> values;
    std::size_t cols = 0;
    std::int64_t rows = 0;
    bool header_pending = has_header;
    std::string line;
    for (std::int64_t line_no = 1; std::getline(f, line); ++line_no) {
        if (trim(line).empty()) continue;
        auto fields = split(line);
        if (header_pending) {
            header_pending = false;
            cols = fields.size();
            if (column_names) column_names->assign(fields.begin(), fields.end());
            continue;
        }
        if (cols == 0) cols = fields.size();
        POSTR_CHECK(fields.size() == cols, op, ": line ", line_no, " of \"", path, "\" has ",
                    fields.size(), " fields but the ", has_header ? "header" : "first row", " has ",
                    cols, ". Fix the row or the separators");
        for (std::size_t c = 0; c < cols; ++c) {
            std::string_view s = fields[c];
            if (!s.empty() && s.front() == '+') s.remove_prefix(1);
            double v = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            POSTR_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(), op,
                        ": line ", line_no, ", column ", c + 1, " of \"", path, "\" is \"",
                        fields[c], "\", not a number. Fix the field",
                        (line_no == 1 && !has_header) ? " or pass has_header = true" : "");
            values.push_back(v);
        }
        ++rows;
    }
    POSTR_CHECK(!f.bad(), op, ": read error on \"", path, "\"");
    POSTR_CHECK(rows > 0, op, ": \"", path, "\" holds no data rows. Check the file");
    return Tensor::from_vector(values, {rows, static_cast<std::int64_t>(cols)});
}

}  // namespace postr::io
