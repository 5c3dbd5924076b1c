// libFuzzer target: the CIFAR-10 binary batch reader (io/datasets.h, load_cifar10). It reads
// from a directory, so each input becomes <scratch>/test_batch.bin and the "test" split is
// loaded. postr::Error is the expected answer to a bad file; anything else is a bug.
#include <cstddef>
#include <cstdint>

#include "postr/core/error.h"
#include "postr/io/datasets.h"

#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    postr::fuzz::write_scratch("test_batch.bin", data, size);
    try {
        postr::io::ImageDataset d =
            postr::io::load_cifar10(postr::fuzz::scratch_dir().string(), "test");
        (void)d;
    } catch (const postr::Error&) {
    }
    return 0;
}
