#include "postr/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "postr/core/error.h"

namespace postr::io {

namespace {

// The format stores little-endian data, and tensors are written and read as raw memory.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

// The spec caps the header at 100 MB; it also bounds what a corrupt length can make us allocate.
constexpr std::uint64_t kMaxHeader = 100'000'000;

const char* safetensors_dtype(DType t) {
    switch (t) {
        case DType::f32:
            return "F32";
        case DType::f64:
            return "F64";
        default:
            return "I64";
    }
}

std::string errno_text() { return std::strerror(errno); }

// Opens `tmp` for writing, truncated, and holds an exclusive lock on it: a second process saving
// to the same path waits here instead of truncating the file the first is writing. After the
// wait the name may point at a new file (the first writer renamed ours away): then start again.
int open_locked_temporary(const std::string& tmp, const char* op) {
    for (;;) {
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        POSTR_CHECK(fd >= 0, op, ": cannot create \"", tmp, "\": ", errno_text(),
                    ". Check that the directory exists and is writable");
        if (::flock(fd, LOCK_EX) != 0) {
            const std::string why = errno_text();
            ::close(fd);
            detail::fail(op, ": cannot lock \"", tmp, "\": ", why);
        }
        struct stat held {};
        struct stat named {};
        if (::fstat(fd, &held) == 0 && ::stat(tmp.c_str(), &named) == 0 &&
            held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
            if (::ftruncate(fd, 0) == 0) return fd;
            const std::string why = errno_text();
            ::close(fd);
            detail::fail(op, ": cannot truncate \"", tmp, "\": ", why);
        }
        ::close(fd);
    }
}

// Makes a rename durable: without this the directory entry may still name the old file after
// a power loss (the data itself was fsynced before the rename).
void sync_directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // the file is in place; only its durability across a crash is weaker
    static_cast<void>(::fsync(fd));
    ::close(fd);
}

// Writes all of `size` bytes, retrying short writes.
bool write_all(int fd, const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
    const char* op = "save_safetensors";
    // Host, contiguous copies; the header records offsets in this order.
    std::vector<Tensor> host;
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string> seen;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        POSTR_CHECK(!name.empty() && name != "__metadata__", op, ": tensor name \"", name,
                    "\" is not allowed (empty or reserved). Rename the tensor");
        POSTR_CHECK(seen.insert(name).second, op, ": tensor name \"", name,
                    "\" appears twice. Names must be unique");
        POSTR_CHECK(t.defined(), op, ": tensor \"", name, "\" is undefined");
        host.push_back(t.to(Device::cpu()).contiguous());
        const std::uint64_t end = offset + host.back().nbytes();
        header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                        {"shape", t.shape()},
                        {"data_offsets", {offset, end}}};
        offset = end;
    }
    std::string json = header.dump();
    // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
    json.append((8 - json.size() % 8) % 8, ' ');
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(json.size() >> (8 * i));

    const std::string tmp = path + ".tmp";
    const int fd = open_locked_temporary(tmp, op);
    bool ok = write_all(fd, length, 8) && write_all(fd, json.data(), json.size());
    for (std::size_t i = 0; ok && i < host.size(); ++i) {
        ok = write_all(fd, host[i].data_ptr(), host[i].nbytes());
    }
    ok = ok && ::fsync(fd) == 0;
    if (!ok) {
        const std::string why = errno_text();
        ::unlink(tmp.c_str());
        ::close(fd);
        detail::fail(op, ": writing \"", tmp, "\" failed: ", why, ". \"", path,
                     "\" was left unchanged; check free disk space");
    }
    // Renamed while the lock is held, so a waiting writer sees the name move and starts anew.
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = errno_text();
        ::unlink(tmp.c_str());
        ::close(fd);
        detail::fail(op, ": cannot rename \"", tmp, "\" to \"", path, "\": ", why, ". \"", path,
                     "\" was left unchanged");
    }
    ::close(fd);
    sync_directory_of(path);
}

SafetensorsFile load_safetensors(const std::string& path) {
    const char* op = "load_safetensors";
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        detail::fail(op, ": cannot open \"", path, "\": ", errno_text(), ". Check the path");
    }
    f.seekg(0, std::ios::end);
    const auto file_size = static_cast<std::uint64_t>(f.tellg());
    f.seekg(0);
    POSTR_CHECK(file_size >= 8, op, ": \"", path, "\" is ", file_size,
                " bytes, too short for a safetensors header. The file is truncated");
    unsigned char length_bytes[8];
    f.read(reinterpret_cast<char*>(length_bytes), 8);
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= std::uint64_t{length_bytes[i]} << (8 * i);
    POSTR_CHECK(header_size <= file_size - 8 && header_size <= kMaxHeader, op, ": \"", path,
                "\" declares a ", header_size, "-byte header but the file is ", file_size,
                " bytes. The file is truncated or not a safetensors file");
    std::string json_text(header_size, '\0');
    f.read(json_text.data(), static_cast<std::streamsize>(header_size));
    POSTR_CHECK(f.good(), op, ": read error on \"", path, "\"");

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
        detail::fail(op, ": the header of \"", path, "\" is not valid JSON (", e.what(),
                     "). The file is corrupt or not a safetensors file");
    }
    POSTR_CHECK(header.is_object(), op, ": the header of \"", path,
                "\" is not a JSON object. The file is corrupt");

    const std::uint64_t data_begin = 8 + header_size;
    const std::uint64_t data_size = file_size - data_begin;
    SafetensorsFile out;
    struct Entry {
        std::string name;
        DType dtype;
        Shape shape;
        std::uint64_t begin, end;
    };
    std::vector<Entry> entries;
    for (const auto& item : header.items()) {
        // Named copies rather than a structured binding: lambdas capture them on every C++20
        // compiler (clang before 16 cannot capture structured bindings).
        const std::string& name = item.key();
        const auto& value = item.value();
        auto bad = [&](const std::string& what) {
            detail::fail(op, ": entry \"", name, "\" in \"", path, "\" ", what,
                         ". The file is corrupt");
        };
        if (name == "__metadata__") {
            if (!value.is_object()) bad("is not an object of strings");
            for (const auto& [k, v] : value.items()) {
                if (!v.is_string()) bad("has a non-string value for \"" + k + "\"");
                out.metadata[k] = v.get<std::string>();
            }
            continue;
        }
        if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
            !value.contains("data_offsets")) {
            bad("lacks dtype, shape or data_offsets");
        }
        const auto& dt = value["dtype"];
        if (!dt.is_string()) bad("has a non-string dtype");
        const std::string dtype = dt.get<std::string>();
        Entry e{name, DType::f32, {}, 0, 0};
        if (dtype == "F32") {
            e.dtype = DType::f32;
        } else if (dtype == "F64") {
            e.dtype = DType::f64;
        } else if (dtype == "I64") {
            e.dtype = DType::i64;
        } else {
            detail::fail(op, ": tensor \"", name, "\" in \"", path, "\" has dtype ", dtype,
                         ", which postr does not support (only F32, F64 and I64). Convert it "
                         "before saving, e.g. tensor.float() in PyTorch");
        }
        const auto& shape = value["shape"];
        if (!shape.is_array() || shape.size() > 8) bad("has a shape that is not a short array");
        // numel with an overflow guard: no valid tensor exceeds the file anyway.
        std::uint64_t numel = 1;
        for (const auto& d : shape) {
            if (!d.is_number_unsigned())
                bad("has a shape entry that is not a non-negative integer");
            const auto n = d.get<std::uint64_t>();
            if (n > data_size + 1 && n != 0) bad("has a dimension larger than the file");
            e.shape.push_back(static_cast<std::int64_t>(n));
            numel = (n == 0 || numel == 0) ? 0 : numel * n;
            if (numel > data_size) bad("has more elements than the file has bytes");
        }
        const auto& offs = value["data_offsets"];
        if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
            !offs[1].is_number_unsigned()) {
            bad("has data_offsets that are not two non-negative integers");
        }
        e.begin = offs[0].get<std::uint64_t>();
        e.end = offs[1].get<std::uint64_t>();
        if (e.begin > e.end || e.end > data_size) {
            bad("has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] outside the " + std::to_string(data_size) + "-byte data section");
        }
        if (e.end - e.begin != numel * itemsize(e.dtype)) {
            bad("spans " + std::to_string(e.end - e.begin) +
                " bytes but its shape and dtype need " + std::to_string(numel * itemsize(e.dtype)));
        }
        entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (std::size_t i = 1; i < entries.size(); ++i) {
        POSTR_CHECK(entries[i].begin >= entries[i - 1].end, op, ": tensors \"", entries[i - 1].name,
                    "\" and \"", entries[i].name, "\" in \"", path,
                    "\" overlap. The file is corrupt");
    }
    for (const auto& e : entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (e.end > e.begin) {
            f.seekg(static_cast<std::streamoff>(data_begin + e.begin));
            f.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
            POSTR_CHECK(f.good(), op, ": read error on \"", path, "\" at tensor \"", e.name, "\"");
        }
        out.tensors.emplace_back(e.name, std::move(t));
    }
    return out;
}

}  // namespace postr::io
