// A trace collector for samplers: keeps every thin-th draw after a burn-in, either on the draws'
// device (in chunks, so recording costs one device copy per draw and no reallocation of what is
// already stored) or streamed to a safetensors file on disk (so a long run's samples need not
// fit in memory). Works with any sampler: record(state.theta) after each update.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::inference {

struct TraceConfig {
    std::int64_t burn_in = 0;  // draws offered before the first one kept (≥ 0)
    std::int64_t thin = 1;     // after the burn-in, keep draws burn_in, burn_in + thin, ... (≥ 1)
    std::int64_t chunk = 256;  // samples per device chunk, and per write when streaming (≥ 1)
    // Empty: keep the samples in memory on the draws' device. Otherwise stream them to this
    // safetensors file: data go to path + ".tmp", which finish() completes with the final header,
    // fsyncs and renames over path (an existing file at path survives until then).
    std::string path{};
    std::string name = "samples";  // the tensor's name in the file
};

class Trace {
  public:
    // Throws postr::Error for burn_in < 0, thin < 1, chunk < 1 or an empty name.
    explicit Trace(TraceConfig config = {});
    // Finishes a stream that finish() was not called on; never throws (a failure there leaves
    // the file at path unchanged and the partial data in path + ".tmp").
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;

    // Offers one draw: any shape (for example θ [K, D] of K chains, or [D]), f32 or f64, CPU or
    // CUDA; the first draw fixes the shape, dtype and device, and later ones must match. The
    // draw is copied, so the caller may keep updating it in place. Returns whether it was kept.
    // Throws postr::Error on a mismatch, after finish(), or when writing fails.
    bool record(const Tensor& draw);

    std::int64_t num_offered() const { return offered_; }
    std::int64_t num_samples() const { return kept_; }  // S

    // In memory: the kept draws as one [S, ...draw shape] tensor on the draws' device (a fresh
    // copy; [0] f32 on the CPU when nothing was offered). Throws postr::Error when streaming.
    Tensor samples() const;

    // Streaming: writes what is buffered and the header {name: [S, ...shape]} with metadata
    // burn_in, thin and num_offered, fsyncs and renames path + ".tmp" to path. Idempotent; in
    // memory it does nothing. Throws postr::Error naming the path when a write fails.
    void finish();

  private:
    void flush_chunk();

    TraceConfig config_;
    std::int64_t offered_ = 0;
    std::int64_t kept_ = 0;
    Shape draw_shape_;
    DType dtype_ = DType::f32;
    Device device_ = Device::cpu();
    std::vector<Tensor> chunks_;  // each [chunk, ...draw shape]; in memory all of them are kept
    std::int64_t in_chunk_ = 0;   // samples in the last chunk
    int fd_ = -1;                 // the stream's file, when streaming
    std::int64_t written_ = 0;    // samples written to the stream
    bool finished_ = false;
};

}  // namespace postr::inference
