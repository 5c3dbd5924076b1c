// CSV tables of numbers: the reader behind tabular regression and classification data.
// Format (RFC 4180 plus what real files hold): one record per line, ending in \n, \r\n or \r;
// fields separated by `delimiter`; a field may be quoted with '"' (then it may hold delimiters,
// newlines and "" for a quote); unquoted fields are trimmed of spaces and tabs; a UTF-8 byte
// order mark at the start is ignored. Every data cell must be a finite decimal number
// (std::from_chars syntax, plus an optional leading '+'): postr never imputes, so an empty cell
// or "NA" is an error that names the place, and so are "nan" and "inf" unless
// `allow_non_finite` is set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "postr/core/tensor.h"

namespace postr::io {

// Whether the first record holds column names.
enum class CsvHeader : std::uint8_t {
    present,  // always a header
    absent,   // all records are data; names are empty
    detect,   // a header when any of its fields is non-empty and not a number
};

struct CsvOptions {
    char delimiter = ',';  // not '"', '\n', '\r', '\0' nor the comment character
    CsvHeader header = CsvHeader::present;
    bool skip_blank_lines = true;   // false: a blank line is a row with one missing value
    char comment = '#';             // lines whose first non-blank character is this are skipped;
                                    // '\0' turns comments off
    bool allow_non_finite = false;  // accept "nan", "inf", "-inf", "infinity" (any case)
    // The most data cells (rows × columns) accepted, so that a corrupt or unintended file fails
    // with an error instead of exhausting memory. Default: 2^27 cells, 1 GiB of f64.
    std::int64_t max_cells = std::int64_t{1} << 27;
};

struct CsvTable {
    std::vector<std::string> header;  // column names; empty when the file has no header
    Tensor values;                    // f64 [rows, cols], CPU, contiguous
    std::int64_t rows() const { return values.defined() ? values.size(0) : 0; }
    std::int64_t cols() const { return values.defined() ? values.size(1) : 0; }
};

// Parses CSV `text`; `source_name` stands for the file in error messages.
// → a table with rows ≥ 0 (a header-only file gives [0, cols]).
// Throws postr::Error naming the source, line, column (and column name) and cell for: an empty
// input (no records), a record whose field count differs from the first record's, an empty
// (missing) cell, a cell that is not a number, a number outside the f64 range, a non-finite
// value (unless allowed), an unterminated quote or text after a closing quote, more than
// `max_cells` cells, and invalid options.
CsvTable parse_csv(std::string_view text, CsvOptions options = {},
                   std::string_view source_name = "<memory>");

// Reads the file at `path` and parses it as parse_csv does, naming `path` in errors.
// Throws postr::Error also when the file cannot be opened or read.
CsvTable read_csv(const std::filesystem::path& path, CsvOptions options = {});

struct FeaturesTarget {
    Tensor X;  // f64 [rows, cols - 1]: every column except the target, in file order
    Tensor y;  // f64 [rows]: the target column
};

// Splits `table` into features and the column named `target_column`.
// Throws postr::Error when the table has no header, the name is missing (listing the available
// names) or appears more than once, or the table has no other column.
FeaturesTarget split_features_target(const CsvTable& table, std::string_view target_column);

}  // namespace postr::io
