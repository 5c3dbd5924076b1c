// libFuzzer target: the safetensors reader (io/safetensors.h): header length, header JSON,
// dtypes, shapes, offsets, truncated data. load_safetensors reads only from a path, so each
// input is written to a scratch file first. postr::Error is the expected answer to a bad file;
// anything else (nlohmann::json exceptions included) is a bug.
#include <cstddef>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/io/safetensors.h"

#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = postr::fuzz::write_scratch("input.safetensors", data, size);
    try {
        postr::io::SafetensorsFile f = postr::io::load_safetensors(path);
        (void)f;
    } catch (const postr::Error&) {
    }
    return 0;
}
