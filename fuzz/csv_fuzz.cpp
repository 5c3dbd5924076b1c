// libFuzzer target: the CSV reader (io/csv.h), in memory. The first byte picks the options
// (header mode, delimiter, blank lines, comments, non-finite values, a small cell cap) so the
// fuzzer explores them too; the rest is the text. For a table it also splits on the first
// column name. postr::Error is the expected answer to bad text; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "postr/core/error.h"
#include "postr/io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t flags = data[0];
    postr::io::CsvOptions options;
    constexpr postr::io::CsvHeader kHeaders[] = {
        postr::io::CsvHeader::present, postr::io::CsvHeader::absent, postr::io::CsvHeader::detect,
        postr::io::CsvHeader::present};
    options.header = kHeaders[flags & 3];
    constexpr char kDelimiters[] = {',', ';', '\t', ' '};
    options.delimiter = kDelimiters[(flags >> 2) & 3];
    options.skip_blank_lines = (flags & 16) == 0;
    options.comment = (flags & 32) ? '\0' : '#';
    options.allow_non_finite = (flags & 64) != 0;
    if (flags & 128) options.max_cells = 64;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        postr::io::CsvTable table = postr::io::parse_csv(text, options, "fuzz.csv");
        if (!table.header.empty()) {
            postr::io::FeaturesTarget split =
                postr::io::split_features_target(table, table.header.front());
            (void)split;
        }
    } catch (const postr::Error&) {
    }
    return 0;
}
