// The CSV reader (io/csv.h): happy paths, RFC 4180 quoting, line endings, every error message,
// the non-finite policy and the cell cap; split_features_target.
#include "postr/io/csv.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace postr::io {
namespace {

namespace fs = std::filesystem;
using test::throws_error;

std::vector<double> values_of(const Tensor& t) {
    const Tensor c = t.contiguous();
    return std::vector<double>(c.data<double>(), c.data<double>() + c.numel());
}

CsvOptions no_header() {
    CsvOptions o;
    o.header = CsvHeader::absent;
    return o;
}

TEST(Csv, ParsesHeaderAndValues) {
    const CsvTable t = parse_csv("a,b,c\n1,2,3\n4.5,-6,7e2\n");
    EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(t.values.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.values.dtype(), DType::f64);
    EXPECT_EQ(t.rows(), 2);
    EXPECT_EQ(t.cols(), 3);
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2, 3, 4.5, -6, 700}));
}

TEST(Csv, NoTrailingNewlineAndTrimmedFields) {
    const CsvTable t = parse_csv(" x ,\ty\n 1 , +2\t\n3,4");
    EXPECT_EQ(t.header, (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Csv, WithoutHeader) {
    const CsvTable t = parse_csv("1,2\n3,4\n", no_header());
    EXPECT_TRUE(t.header.empty());
    EXPECT_EQ(t.values.shape(), (Shape{2, 2}));
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Csv, DetectsHeader) {
    CsvOptions o;
    o.header = CsvHeader::detect;
    const CsvTable named = parse_csv("x,2\n1,2\n", o);  // one non-number makes a header
    EXPECT_EQ(named.header, (std::vector<std::string>{"x", "2"}));
    EXPECT_EQ(named.rows(), 1);
    const CsvTable numbers = parse_csv("1,2\n3,4\n", o);
    EXPECT_TRUE(numbers.header.empty());
    EXPECT_EQ(numbers.rows(), 2);
}

TEST(Csv, CrlfAndLoneCrLineEndings) {
    const CsvTable crlf = parse_csv("a,b\r\n1,2\r\n3,4\r\n");
    EXPECT_EQ(crlf.header, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(values_of(crlf.values), (std::vector<double>{1, 2, 3, 4}));
    const CsvTable cr = parse_csv("a,b\r1,2\r3,4");
    EXPECT_EQ(values_of(cr.values), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Csv, SkipsBlankAndCommentLinesAndBom) {
    const CsvTable t = parse_csv("\xEF\xBB\xBF# a comment\n\na,b\n  \n1,2\n  # another\n\n3,4\n\n");
    EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Csv, CommentsCanBeTurnedOff) {
    CsvOptions o = no_header();
    o.comment = '\0';
    EXPECT_TRUE(throws_error([&] { parse_csv("#1,2\n", o); }, {"\"#1\"", "not a number"}));
    o.comment = ';';
    EXPECT_EQ(parse_csv("; note\n1,2\n", o).rows(), 1);
}

TEST(Csv, BlankLinesAreMissingValuesWhenNotSkipped) {
    CsvOptions o = no_header();
    o.skip_blank_lines = false;
    EXPECT_TRUE(throws_error([&] { parse_csv("1\n\n2\n", o); },
                             {"line 2, column 1", "missing", "drop the row"}));
    EXPECT_EQ(parse_csv("1\n2\n", o).rows(), 2);  // the final newline ends a record
}

TEST(Csv, QuotedFields) {
    const CsvTable t =
        parse_csv("\"name, with comma\",\"say \"\"hi\"\"\",\"multi\nline\"\n\"1\", 2 ,\"3.5\"\n");
    EXPECT_EQ(t.header,
              (std::vector<std::string>{"name, with comma", "say \"hi\"", "multi\nline"}));
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2, 3.5}));
}

TEST(Csv, QuotedFieldsCountLinesInErrors) {
    // The header spans lines 1-2, so the bad cell is on line 3.
    EXPECT_TRUE(throws_error([] { parse_csv("\"a\nb\",c\n1,x\n", {}, "t.csv"); },
                             {"\"t.csv\" line 3, column 2 (\"c\")", "\"x\"", "not a number"}));
}

TEST(Csv, OtherDelimiters) {
    CsvOptions o;
    o.delimiter = ';';
    EXPECT_EQ(values_of(parse_csv("a;b\n1.5;2\n", o).values), (std::vector<double>{1.5, 2}));
    EXPECT_TRUE(throws_error([&] { parse_csv("a;b\n1,5;2\n", o); }, {"\"1,5\""}));
    o.delimiter = '\t';
    const CsvTable tab = parse_csv("a\tb\n1\t2\n", o);
    EXPECT_EQ(values_of(tab.values), (std::vector<double>{1, 2}));
}

TEST(Csv, HugeAndTinyNumbers) {
    const CsvTable t = parse_csv(
        "1.7976931348623157e308,-1.7976931348623157e308,2.2250738585072014e-308,"
        "123456789012345678901234567890\n",
        no_header());
    const auto v = values_of(t.values);
    EXPECT_EQ(v[0], std::numeric_limits<double>::max());
    EXPECT_EQ(v[1], -std::numeric_limits<double>::max());
    EXPECT_EQ(v[2], std::numeric_limits<double>::min());
    EXPECT_DOUBLE_EQ(v[3], 1.2345678901234568e29);
    EXPECT_TRUE(throws_error([] { parse_csv("1e400\n", no_header(), "big.csv"); },
                             {"\"big.csv\" line 1, column 1", "\"1e400\"", "f64 range"}));
    EXPECT_TRUE(throws_error([] { parse_csv("-1e999\n", no_header()); }, {"f64 range"}));
}

TEST(Csv, NonFiniteRejectedByDefault) {
    for (const char* text : {"nan", "NaN", "inf", "-inf", "Infinity", "+inf"}) {
        EXPECT_TRUE(
            throws_error([&] { parse_csv(std::string("v\n") + text + "\n", {}, "f.csv"); },
                         {"\"f.csv\" line 2, column 1 (\"v\")", "non-finite", "allow_non_finite"}))
            << text;
    }
}

TEST(Csv, NonFiniteAllowedOnRequest) {
    CsvOptions o = no_header();
    o.allow_non_finite = true;
    const auto v = values_of(parse_csv("nan,inf,-inf,Infinity\n", o).values);
    EXPECT_TRUE(std::isnan(v[0]));
    EXPECT_EQ(v[1], std::numeric_limits<double>::infinity());
    EXPECT_EQ(v[2], -std::numeric_limits<double>::infinity());
    EXPECT_EQ(v[3], std::numeric_limits<double>::infinity());
}

TEST(Csv, HeaderOnlyGivesZeroRows) {
    const CsvTable t = parse_csv("a,b,c\n");
    EXPECT_EQ(t.header.size(), 3u);
    EXPECT_EQ(t.values.shape(), (Shape{0, 3}));
    const FeaturesTarget s = split_features_target(t, "b");
    EXPECT_EQ(s.X.shape(), (Shape{0, 2}));
    EXPECT_EQ(s.y.shape(), (Shape{0}));
}

TEST(Csv, EmptyInputIsAnError) {
    for (const char* text : {"", "\n\n", "# only a comment\n", "\xEF\xBB\xBF"}) {
        EXPECT_TRUE(
            throws_error([&] { parse_csv(text, {}, "e.csv"); }, {"\"e.csv\" holds no records"}))
            << text;
    }
}

TEST(Csv, MissingValueNamesPlace) {
    EXPECT_TRUE(throws_error([] { parse_csv("a,b\n1,2\n3,\n", {}, "m.csv"); },
                             {"parse_csv: \"m.csv\" line 3, column 2 (\"b\") is missing",
                              "fill the value or drop the row"}));
    EXPECT_TRUE(throws_error([] { parse_csv("a,b\n\"\",2\n", {}, "m.csv"); },
                             {"line 2, column 1 (\"a\") is missing"}));
}

TEST(Csv, NonNumericCellNamed) {
    EXPECT_TRUE(throws_error([] { parse_csv("a,b\n1,NA\n", {}, "n.csv"); },
                             {"\"n.csv\" line 2, column 2 (\"b\") is \"NA\", not a number"}));
    EXPECT_TRUE(throws_error([] { parse_csv("x,y\n1,2\n", no_header()); },
                             {"line 1, column 1 is \"x\"", "CsvHeader::present"}));
    for (const char* bad : {"0x10", "1..2", "++1", "+-1", "1 2", "1e", "--1", "+"}) {
        EXPECT_TRUE(throws_error([&] { parse_csv(bad, no_header()); }, {"not a number"})) << bad;
    }
    const std::string long_cell(100, 'z');
    EXPECT_TRUE(throws_error([&] { parse_csv(long_cell, no_header()); },
                             {"\"" + std::string(40, 'z') + "...\""}));
}

TEST(Csv, RaggedRowsRejected) {
    EXPECT_TRUE(throws_error([] { parse_csv("a,b\n1,2\n1,2,3\n", {}, "r.csv"); },
                             {"\"r.csv\" line 3 has 3 fields but the header has 2", "not quoted"}));
    EXPECT_TRUE(throws_error([] { parse_csv("1,2\n1\n", no_header()); },
                             {"line 2 has 1 fields but the first row has 2"}));
}

TEST(Csv, QuoteErrors) {
    EXPECT_TRUE(throws_error([] { parse_csv("a\n\"1\n2\n", {}, "q.csv"); },
                             {"\"q.csv\" line 2", "never closed"}));
    EXPECT_TRUE(throws_error([] { parse_csv("a\n\"1\"x\n", {}, "q.csv"); },
                             {"\"q.csv\" line 2", "text \"x\" follows a closing quote"}));
}

TEST(Csv, CellCap) {
    CsvOptions o = no_header();
    o.max_cells = 4;
    EXPECT_EQ(parse_csv("1,2\n3,4\n", o).rows(), 2);
    EXPECT_TRUE(throws_error([&] { parse_csv("1,2\n3,4\n5,6\n", o, "c.csv"); },
                             {"\"c.csv\" holds more than options.max_cells = 4 cells", "line 3",
                              "Raise options.max_cells"}));
}

TEST(Csv, InvalidOptions) {
    CsvOptions o;
    o.delimiter = '"';
    EXPECT_TRUE(throws_error([&] { parse_csv("1", o); }, {"options.delimiter"}));
    o.delimiter = '#';
    EXPECT_TRUE(throws_error([&] { parse_csv("1", o); }, {"options.comment equals"}));
    o = CsvOptions{};
    o.max_cells = 0;
    EXPECT_TRUE(throws_error([&] { parse_csv("1", o); }, {"options.max_cells"}));
}

// A fresh file per test, removed at the end.
class TempFile {
  public:
    explicit TempFile(const std::string& text) {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::path(::testing::TempDir()) / ("postr_csv_" + std::string(info->name()) + "_" +
                                                  std::to_string(::getpid()) + ".csv");
        std::ofstream(path_, std::ios::binary) << text;
    }
    ~TempFile() { fs::remove(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

TEST(Csv, ReadsFileAndNamesPathInErrors) {
    TempFile good("a,b\r\n1,2\r\n");
    const CsvTable t = read_csv(good.path());
    EXPECT_EQ(values_of(t.values), (std::vector<double>{1, 2}));
    TempFile bad("a,b\n1,?\n");
    EXPECT_TRUE(throws_error([&] { read_csv(bad.path()); },
                             {bad.path().string(), "line 2, column 2 (\"b\")"}));
}

TEST(Csv, MissingFileAndDirectory) {
    EXPECT_TRUE(
        throws_error([] { read_csv("/nonexistent/postr/x.csv"); },
                     {"read_csv: cannot open \"/nonexistent/postr/x.csv\"", "Check the path"}));
    EXPECT_TRUE(throws_error([] { read_csv(fs::temp_directory_path()); }, {"is a directory"}));
}

TEST(Csv, SplitFeaturesTarget) {
    const CsvTable t = parse_csv("x1,y,x2\n1,10,2\n3,30,4\n");
    const FeaturesTarget s = split_features_target(t, "y");
    EXPECT_EQ(s.X.shape(), (Shape{2, 2}));
    EXPECT_EQ(s.y.shape(), (Shape{2}));
    EXPECT_EQ(s.X.dtype(), DType::f64);
    EXPECT_EQ(values_of(s.X), (std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(values_of(s.y), (std::vector<double>{10, 30}));
    const FeaturesTarget last = split_features_target(t, "x2");
    EXPECT_EQ(values_of(last.y), (std::vector<double>{2, 4}));
    EXPECT_EQ(values_of(last.X), (std::vector<double>{1, 10, 3, 30}));
}

TEST(Csv, SplitFeaturesTargetErrors) {
    const CsvTable t = parse_csv("x1,y,x2\n1,10,2\n");
    EXPECT_TRUE(throws_error([&] { split_features_target(t, "label"); },
                             {"target_column \"label\" is not in the header",
                              "Available columns: \"x1\", \"y\", \"x2\""}));
    EXPECT_TRUE(throws_error([] { split_features_target(parse_csv("y,y\n1,2\n"), "y"); },
                             {"names 2 columns"}));
    EXPECT_TRUE(
        throws_error([] { split_features_target(parse_csv("y\n1\n"), "y"); }, {"no features"}));
    EXPECT_TRUE(throws_error([] { split_features_target(parse_csv("1,2\n", no_header()), "y"); },
                             {"has no header", "CsvHeader::present"}));
}

}  // namespace
}  // namespace postr::io
