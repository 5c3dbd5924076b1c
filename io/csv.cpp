#include "postr/io/csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "postr/core/error.h"

namespace postr::io {

namespace {

// One field of a record: its unquoted text and the line it starts on.
struct Field {
    std::string text;
    bool quoted = false;
    std::int64_t line = 0;
};

// A cell's text for an error message: at most 40 characters, the rest elided.
std::string shown(std::string_view s) {
    constexpr std::size_t kMax = 40;
    return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

enum class Parsed : std::uint8_t { number, empty, not_number, out_of_range, non_finite };

// Parses a whole cell as a double (std::from_chars, general format, an optional leading '+').
Parsed parse_number(std::string_view s, double& value) {
    if (s.empty()) return Parsed::empty;
    if (s.front() == '+') {
        s.remove_prefix(1);
        if (s.empty() || s.front() == '+' || s.front() == '-') return Parsed::not_number;
    }
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (ec == std::errc::result_out_of_range && ptr == end) return Parsed::out_of_range;
    if (ec != std::errc() || ptr != end) return Parsed::not_number;
    return std::isfinite(value) ? Parsed::number : Parsed::non_finite;
}

class Parser {
  public:
    Parser(std::string_view text, const CsvOptions& options, std::string_view source)
        : s_(text), o_(options), source_(source) {
        if (s_.starts_with("\xEF\xBB\xBF")) s_.remove_prefix(3);  // UTF-8 byte order mark
    }

    // Reads the next record into `fields`, skipping blank and comment lines as configured.
    // Returns false at the end of the input.
    bool next(std::vector<Field>& fields, std::int64_t& record_line) {
        skip_ignored_lines();
        if (i_ >= s_.size()) return false;
        record_line = line_;
        std::size_t count = 0;
        while (true) {
            if (count == fields.size()) fields.emplace_back();
            Field& f = fields[count++];
            read_field(f);
            if (i_ >= s_.size()) break;
            const char c = s_[i_];
            if (c == o_.delimiter) {
                ++i_;
                continue;
            }
            end_line();  // read_field stops only at a delimiter, a line end or the end
            break;
        }
        fields.resize(count);
        return true;
    }

  private:
    bool is_space(char c) const { return (c == ' ' || c == '\t') && c != o_.delimiter; }
    bool is_line_end(char c) const { return c == '\n' || c == '\r'; }

    // Consumes \n, \r\n or \r.
    void end_line() {
        if (s_[i_] == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') ++i_;
        ++i_;
        ++line_;
    }

    void skip_ignored_lines() {
        while (i_ < s_.size()) {
            std::size_t j = i_;
            while (j < s_.size() && is_space(s_[j])) ++j;
            const bool blank = j == s_.size() || is_line_end(s_[j]);
            const bool comment = !blank && o_.comment != '\0' && s_[j] == o_.comment;
            if (!(blank && o_.skip_blank_lines) && !comment) return;
            while (j < s_.size() && !is_line_end(s_[j])) ++j;
            i_ = j;
            if (i_ < s_.size()) end_line();
        }
    }

    void read_field(Field& f) {
        f.text.clear();
        f.line = line_;
        while (i_ < s_.size() && is_space(s_[i_])) ++i_;
        f.quoted = i_ < s_.size() && s_[i_] == '"';
        if (!f.quoted) {
            const std::size_t begin = i_;
            while (i_ < s_.size() && s_[i_] != o_.delimiter && !is_line_end(s_[i_])) ++i_;
            std::size_t end = i_;
            while (end > begin && is_space(s_[end - 1])) --end;
            f.text.assign(s_.substr(begin, end - begin));
            return;
        }
        ++i_;  // the opening quote
        while (true) {
            POSTR_CHECK(i_ < s_.size(), "parse_csv: \"", source_, "\" line ", f.line,
                        ": a quoted field is never closed (the file ends inside it). Add the "
                        "closing '\"', or write a quote inside a quoted field as \"\"");
            const char c = s_[i_];
            if (c == '"') {
                if (i_ + 1 < s_.size() && s_[i_ + 1] == '"') {
                    f.text.push_back('"');
                    i_ += 2;
                    continue;
                }
                ++i_;
                break;
            }
            if (c == '\n' || (c == '\r' && !(i_ + 1 < s_.size() && s_[i_ + 1] == '\n'))) {
                ++line_;
            }
            f.text.push_back(c);
            ++i_;
        }
        while (i_ < s_.size() && is_space(s_[i_])) ++i_;
        if (i_ < s_.size() && s_[i_] != o_.delimiter && !is_line_end(s_[i_])) {
            std::size_t end = i_;
            while (end < s_.size() && s_[end] != o_.delimiter && !is_line_end(s_[end])) ++end;
            detail::fail("parse_csv: \"", source_, "\" line ", line_, ": text \"",
                         shown(s_.substr(i_, end - i_)),
                         "\" follows a closing quote. Quote the whole field, and write a quote "
                         "inside it as \"\"");
        }
    }

    std::string_view s_;
    const CsvOptions& o_;
    std::string_view source_;
    std::size_t i_ = 0;
    std::int64_t line_ = 1;
};

void check_options(const CsvOptions& o) {
    const char d = o.delimiter;
    POSTR_CHECK(d != '"' && d != '\n' && d != '\r' && d != '\0', "parse_csv: options.delimiter ",
                "is not allowed: character code ", int(static_cast<unsigned char>(d)),
                ". Use a character such as ',', ';' or '\\t'");
    POSTR_CHECK(o.comment != d, "parse_csv: options.comment equals options.delimiter ('", d,
                "'). Choose another comment character or '\\0' for none");
    POSTR_CHECK(o.comment != '"' && o.comment != '\n' && o.comment != '\r',
                "parse_csv: options.comment is not allowed: character code ",
                int(static_cast<unsigned char>(o.comment)), ". Use '#' or '\\0' for none");
    POSTR_CHECK(o.max_cells > 0, "parse_csv: options.max_cells must be positive: ", o.max_cells,
                ". Pass the largest table you expect");
}

}  // namespace

CsvTable parse_csv(std::string_view text, CsvOptions options, std::string_view source_name) {
    const char* op = "parse_csv";
    check_options(options);
    Parser parser(text, options, source_name);
    std::vector<Field> fields;
    std::int64_t line = 0;
    POSTR_CHECK(parser.next(fields, line), op, ": \"", source_name,
                "\" holds no records (it is empty, or only blank and comment lines). Check the "
                "file");

    CsvTable table;
    bool header = options.header == CsvHeader::present;
    if (options.header == CsvHeader::detect) {
        for (const Field& f : fields) {
            double v = 0;
            const Parsed p = parse_number(f.text, v);
            if (p == Parsed::not_number) header = true;
        }
    }
    const std::size_t cols = fields.size();
    // Where a cell is, for messages: `"file" line 3, column 2 ("age")`.
    auto where = [&](std::int64_t at_line, std::size_t col) {
        std::string s =
            detail::concat("\"", source_name, "\" line ", at_line, ", column ", col + 1);
        if (col < table.header.size()) s += " (\"" + shown(table.header[col]) + "\")";
        return s;
    };

    std::vector<double> values;
    std::int64_t rows = 0;
    const auto cols64 = static_cast<std::int64_t>(cols);
    auto add_row = [&](std::int64_t at_line) {
        POSTR_CHECK(fields.size() == cols, op, ": \"", source_name, "\" line ", at_line, " has ",
                    fields.size(), " fields but the ", header ? "header" : "first row", " has ",
                    cols,
                    ". Fix the row: a delimiter is missing or extra, or a field holding the "
                    "delimiter is not quoted");
        POSTR_CHECK(cols64 <= options.max_cells - rows * cols64, op, ": \"", source_name,
                    "\" holds more than options.max_cells = ", options.max_cells, " cells (", cols,
                    " columns, line ", at_line,
                    "). Raise options.max_cells if the table is meant to be this large");
        for (std::size_t c = 0; c < cols; ++c) {
            const Field& f = fields[c];
            double v = 0;
            switch (parse_number(f.text, v)) {
                case Parsed::number:
                    break;
                case Parsed::empty:
                    detail::fail(op, ": ", where(f.line, c),
                                 " is missing (an empty cell). postr does not impute: fill the "
                                 "value or drop the row before loading");
                case Parsed::not_number:
                    detail::fail(op, ": ", where(f.line, c), " is \"", shown(f.text),
                                 "\", not a number.",
                                 (rows == 0 && options.header == CsvHeader::absent)
                                     ? " If the first line names the columns, use "
                                       "options.header = CsvHeader::present."
                                     : "",
                                 " Fix the cell (a missing value must be filled or its row "
                                 "dropped) or check options.delimiter");
                case Parsed::out_of_range:
                    detail::fail(op, ": ", where(f.line, c), " is \"", shown(f.text),
                                 "\", outside the f64 range. Rescale the column");
                case Parsed::non_finite:
                    if (!options.allow_non_finite) {
                        detail::fail(op, ": ", where(f.line, c), " is \"", shown(f.text),
                                     "\", a non-finite value. Clean the data, or set "
                                     "options.allow_non_finite = true to keep NaN and infinities");
                    }
                    break;
            }
            values.push_back(v);
        }
        ++rows;
    };

    if (header) {
        table.header.reserve(cols);
        for (const Field& f : fields) table.header.push_back(f.text);
    } else {
        add_row(line);
    }
    while (parser.next(fields, line)) add_row(line);
    table.values = Tensor::empty({rows, cols64}, DType::f64);
    if (!values.empty()) {
        std::memcpy(table.values.data_ptr(), values.data(), values.size() * sizeof(double));
    }
    return table;
}

CsvTable read_csv(const std::filesystem::path& path, CsvOptions options) {
    const char* op = "read_csv";
    std::error_code ec;
    POSTR_CHECK(!std::filesystem::is_directory(path, ec), op, ": \"", path.string(),
                "\" is a directory. Pass the path of a CSV file");
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        detail::fail(op, ": cannot open \"", path.string(), "\": ", std::strerror(errno),
                     ". Check the path");
    }
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    POSTR_CHECK(!f.bad(), op, ": read error on \"", path.string(), "\"");
    return parse_csv(text, options, path.string());
}

FeaturesTarget split_features_target(const CsvTable& table, std::string_view target_column) {
    const char* op = "split_features_target";
    POSTR_CHECK(!table.header.empty(), op, ": the table has no header, so no column is named \"",
                target_column, "\". Read it with options.header = CsvHeader::present");
    POSTR_CHECK(table.values.defined() && table.values.dim() == 2 &&
                    table.values.dtype() == DType::f64 &&
                    table.values.size(1) == static_cast<std::int64_t>(table.header.size()),
                op, ": table.values is not an f64 [rows, ", table.header.size(),
                "] tensor matching the header. Pass a table from read_csv or parse_csv");
    std::size_t target = table.header.size();
    std::size_t matches = 0;
    std::string names;
    for (std::size_t c = 0; c < table.header.size(); ++c) {
        names += (c ? ", \"" : "\"") + table.header[c] + "\"";
        if (table.header[c] == target_column) {
            target = c;
            ++matches;
        }
    }
    POSTR_CHECK(matches > 0, op, ": target_column \"", target_column,
                "\" is not in the header. Available columns: ", names);
    POSTR_CHECK(matches == 1, op, ": target_column \"", target_column, "\" names ", matches,
                " columns. Rename the duplicates in the header");
    POSTR_CHECK(table.header.size() >= 2, op, ": the table has only the target column \"",
                target_column, "\", so there are no features. Add feature columns");

    const Tensor values = table.values.contiguous();
    const std::int64_t rows = values.size(0);
    const auto cols = static_cast<std::int64_t>(table.header.size());
    FeaturesTarget out{Tensor::empty({rows, cols - 1}, DType::f64),
                       Tensor::empty({rows}, DType::f64)};
    const double* src = values.data<double>();
    double* x = out.X.data<double>();
    double* y = out.y.data<double>();
    const auto t = static_cast<std::int64_t>(target);
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
            if (c == t) {
                y[r] = src[r * cols + c];
            } else {
                *x++ = src[r * cols + c];
            }
        }
    }
    return out;
}

}  // namespace postr::io
