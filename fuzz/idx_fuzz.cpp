// libFuzzer target: the IDX reader, plain and gzip (io/idx.h). io/idx.h reads only from a path,
// so each input is written to a scratch file first. postr::Error is the expected answer to a
// bad file; anything else (another exception, a sanitizer report, a leak) is a bug.
#include <cstddef>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/io/idx.h"

#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = postr::fuzz::write_scratch("input.idx", data, size);
    try {
        // i64 exercises the widest conversion; the dtype does not change the parsing.
        postr::Tensor t = postr::io::read_idx(path, postr::DType::i64);
        (void)t;
    } catch (const postr::Error&) {
    }
    return 0;
}
