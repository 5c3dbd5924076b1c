// The trace collector (see trace.h). Streaming writes a safetensors file whose JSON header is
// reserved up front (kHeaderBytes, padded with spaces, which the format allows) so that samples
// can be appended as they come and the header rewritten in place once S is known.
#include "postr/inference/trace.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>

#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr::inference {
namespace {

// Room for the name, a shape of up to ~40 dims and the metadata; the data then start at byte
// 8 + kHeaderBytes, 8-byte aligned.
constexpr std::size_t kHeaderBytes = 1024;

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const void* data, std::size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
        const ssize_t n = ::write(fd, p, bytes);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        bytes -= static_cast<std::size_t>(n);
    }
    return true;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

}  // namespace

Trace::Trace(TraceConfig config) : config_(std::move(config)) {
    POSTR_CHECK(config_.burn_in >= 0, "Trace: burn_in must be >= 0, got ", config_.burn_in,
                ". It counts the draws discarded before the first one kept.");
    POSTR_CHECK(config_.thin >= 1, "Trace: thin must be >= 1, got ", config_.thin,
                ". Use 1 to keep every draw after the burn-in.");
    POSTR_CHECK(config_.chunk >= 1, "Trace: chunk must be >= 1, got ", config_.chunk,
                ". It is the number of samples stored per block.");
    POSTR_CHECK(!config_.name.empty() && config_.name != "__metadata__", "Trace: name \"",
                config_.name, "\" is not allowed (empty or reserved). ",
                "Give the samples a name.");
}

Trace::~Trace() {
    try {
        finish();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw (STYLE 3.5)
    }
    if (fd_ >= 0) ::close(fd_);
}

bool Trace::record(const Tensor& draw) {
    POSTR_CHECK(!finished_, "Trace::record: the trace was finished. Record before finish().");
    check_defined("Trace::record", "draw", draw);
    check_floating("Trace::record", "draw", draw);
    if (offered_ == 0) {
        draw_shape_ = draw.shape();
        dtype_ = draw.dtype();
        device_ = draw.device();
        if (!config_.path.empty()) {
            const std::string tmp = config_.path + ".tmp";
            fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            POSTR_CHECK(fd_ >= 0, "Trace: cannot create \"", tmp, "\": ", errno_text(),
                        ". Check that the directory exists and is writable.");
            // The header is written by finish(); reserve its bytes now.
            const std::string blank(8 + kHeaderBytes, ' ');
            POSTR_CHECK(write_all(fd_, blank.data(), blank.size()), "Trace: writing \"", tmp,
                        "\" failed: ", errno_text(), ". Check free disk space.");
        }
    } else {
        POSTR_CHECK(
            draw.shape() == draw_shape_ && draw.dtype() == dtype_ && draw.device() == device_,
            "Trace::record: draw is ", to_string(draw.shape()), " ", dtype_name(draw.dtype()),
            " but the first draw was ", to_string(draw_shape_), " ", dtype_name(dtype_),
            " (same device required too). ", "Record one state tensor per trace.");
    }
    const std::int64_t index = offered_++;
    if (index < config_.burn_in || (index - config_.burn_in) % config_.thin != 0) return false;

    if (chunks_.empty() || in_chunk_ == config_.chunk) {
        if (!chunks_.empty() && fd_ >= 0) {
            flush_chunk();
        } else {
            Shape chunk_shape = draw_shape_;
            chunk_shape.insert(chunk_shape.begin(), config_.chunk);
            chunks_.push_back(Tensor::empty(chunk_shape, dtype_, device_));
        }
        in_chunk_ = 0;
    }
    Tensor slot = chunks_.back()[in_chunk_];
    slot.copy_(draw);
    ++in_chunk_;
    ++kept_;
    return true;
}

void Trace::flush_chunk() {
    // Streaming keeps one chunk, reused: copy its filled part to the host and append it.
    Tensor host = chunks_.back().narrow(0, 0, in_chunk_).to(Device::cpu()).contiguous();
    POSTR_CHECK(write_all(fd_, host.data_ptr(), host.nbytes()), "Trace: writing \"", config_.path,
                ".tmp\" failed: ", errno_text(), ". Check free disk space.");
    written_ += in_chunk_;
    in_chunk_ = 0;
}

Tensor Trace::samples() const {
    POSTR_CHECK(config_.path.empty(), "Trace::samples: the samples stream to \"", config_.path,
                "\". Read the file after finish() (io::load_safetensors).");
    if (offered_ == 0) return Tensor::empty({0});
    if (kept_ == 0) {
        Shape empty_shape = draw_shape_;
        empty_shape.insert(empty_shape.begin(), 0);
        return Tensor::empty(empty_shape, dtype_, device_);
    }
    std::vector<Tensor> parts(chunks_.begin(), chunks_.end());
    parts.back() = parts.back().narrow(0, 0, in_chunk_);
    return parts.size() == 1 ? parts.front().clone() : cat(parts, 0);
}

void Trace::finish() {
    if (finished_ || config_.path.empty()) return;
    finished_ = true;
    const std::string tmp = config_.path + ".tmp";
    if (fd_ < 0) {  // nothing offered: an empty file is still a valid result
        fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        POSTR_CHECK(fd_ >= 0, "Trace: cannot create \"", tmp, "\": ", errno_text(),
                    ". Check that the directory exists and is writable.");
        const std::string blank(8 + kHeaderBytes, ' ');
        POSTR_CHECK(write_all(fd_, blank.data(), blank.size()), "Trace: writing \"", tmp,
                    "\" failed: ", errno_text(), ". Check free disk space.");
    }
    if (in_chunk_ > 0) flush_chunk();

    Shape shape = draw_shape_;
    shape.insert(shape.begin(), written_);
    const std::uint64_t bytes =
        static_cast<std::uint64_t>(numel(shape)) * static_cast<std::uint64_t>(itemsize(dtype_));
    std::ostringstream json;
    json << "{\"" << json_escape(config_.name) << "\":{\"dtype\":\""
         << (dtype_ == DType::f64 ? "F64" : "F32") << "\",\"shape\":[";
    for (std::size_t i = 0; i < shape.size(); ++i) json << (i ? "," : "") << shape[i];
    json << "],\"data_offsets\":[0," << bytes << "]},\"__metadata__\":{\"burn_in\":\""
         << config_.burn_in << "\",\"thin\":\"" << config_.thin << "\",\"num_offered\":\""
         << offered_ << "\"}}";
    std::string header = json.str();
    POSTR_CHECK(header.size() <= kHeaderBytes, "Trace: the safetensors header for \"", config_.path,
                "\" needs ", header.size(), " bytes, more than the ", kHeaderBytes,
                " reserved. Use a shorter name or fewer dims.");
    header.resize(kHeaderBytes, ' ');
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(kHeaderBytes >> (8 * i));

    bool ok = ::lseek(fd_, 0, SEEK_SET) == 0 && write_all(fd_, length, 8) &&
              write_all(fd_, header.data(), header.size()) && ::fsync(fd_) == 0;
    const std::string why = ok ? "" : errno_text();
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    POSTR_CHECK(ok && closed, "Trace: writing \"", tmp, "\" failed: ", ok ? errno_text() : why,
                ". \"", config_.path, "\" was left unchanged; check free disk space.");
    POSTR_CHECK(::rename(tmp.c_str(), config_.path.c_str()) == 0, "Trace: cannot rename \"", tmp,
                "\" to \"", config_.path, "\": ", errno_text(), ". \"", config_.path,
                "\" was left unchanged.");
}

}  // namespace postr::inference
