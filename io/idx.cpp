#include "postr/io/idx.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <zlib.h>

#include "postr/core/error.h"

namespace postr::io {

namespace {

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, const std::string& path,
                                 const char* op) {
    z_stream zs{};
    // 16 + MAX_WBITS: expect a gzip wrapper (not raw zlib).
    POSTR_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, op, ": zlib could not start for \"",
                path, "\"");
    std::vector<std::uint8_t> out;
    out.resize(in.size() * 4 + 1024);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (zs.total_out == out.size()) out.resize(out.size() * 2);
        zs.next_out = out.data() + zs.total_out;
        zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) {
            std::string why = zs.msg ? zs.msg
                              : (rc == Z_OK || rc == Z_BUF_ERROR)
                                  ? "stream ends early (truncated file?)"
                                  : "error code " + std::to_string(rc);
            inflateEnd(&zs);
            detail::fail(op, ": gzip data in \"", path, "\" is corrupt: ", why,
                         ". Download the file again or decompress it to check it");
        }
    }
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return out;
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

}  // namespace

std::vector<std::uint8_t> read_maybe_gzip(const std::string& path, const char* op) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        detail::fail(op, ": cannot open \"", path, "\": ", std::strerror(errno),
                     ". Check the path");
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                    std::istreambuf_iterator<char>());
    POSTR_CHECK(!f.bad(), op, ": read error on \"", path, "\"");
    return is_gzip(bytes) ? gunzip(bytes, path, op) : bytes;
}

Tensor read_idx(const std::string& path, DType dtype) {
    const char* op = "read_idx";
    std::vector<std::uint8_t> bytes = read_maybe_gzip(path, op);
    POSTR_CHECK(bytes.size() >= 4, op, ": file \"", path,
                "\" is too short for an IDX header: ", bytes.size(),
                " bytes. The file is truncated; download it again");
    // Magic: two zero bytes, a type code, the number of dims.
    POSTR_CHECK(bytes[0] == 0 && bytes[1] == 0, op, ": \"", path,
                "\" has a bad IDX magic number (first bytes ", int(bytes[0]), " ", int(bytes[1]),
                ", expected 0 0). It is not an IDX file");
    POSTR_CHECK(bytes[2] == 0x08, op, ": \"", path, "\" has IDX type code 0x", std::hex,
                int(bytes[2]), std::dec, "; only unsigned bytes (0x08, as in MNIST) are supported");
    const int rank = bytes[3];
    POSTR_CHECK(rank >= 1 && rank <= 4, op, ": \"", path, "\" declares ", rank,
                " dimensions; expected 1 to 4");
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
    POSTR_CHECK(bytes.size() >= header, op, ": file \"", path, "\" is too short for its ", rank,
                "-dim IDX header: ", bytes.size(), " bytes. The file is truncated");
    Shape shape;
    std::uint64_t count = 1;
    for (int d = 0; d < rank; ++d) {
        std::uint32_t n = big_endian_u32(bytes.data() + 4 + 4 * d);
        shape.push_back(n);
        count *= n;
        POSTR_CHECK(count <= bytes.size(), op, ": \"", path, "\" declares dims ", to_string(shape),
                    "... larger than the file (", bytes.size(), " bytes)");
    }
    POSTR_CHECK(bytes.size() - header == count, op, ": \"", path, "\" holds ",
                bytes.size() - header, " data bytes but its dims ", to_string(shape), " need ",
                count, ". The file is truncated or corrupt; download it again");
    Tensor out = Tensor::empty(shape, dtype);
    const std::uint8_t* src = bytes.data() + header;
    visit_dtype(dtype, [&]<class T>() {
        T* dst = out.data<T>();
        for (std::uint64_t i = 0; i < count; ++i) dst[i] = static_cast<T>(src[i]);
    });
    return out;
}

}  // namespace postr::io
