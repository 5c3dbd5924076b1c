// Progress lines (plain mode into a string stream) and metric logs in CSV and JSON lines.
#include "postr/io/progress.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace postr::io {
namespace {

namespace fs = std::filesystem;
using test::throws_error;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(Progress, PlainLinesOnANonTerminalStream) {
    std::ostringstream out;
    {
        Progress p(4, "train", out, ProgressStyle::automatic, 0.0);
        EXPECT_FALSE(p.is_bar());
        p.update(1, {{"loss", 0.5}});
        p.update(1);
        p.update(2, {{"loss", 0.25}, {"acc", 0.75}});
        EXPECT_EQ(p.done(), 4);
        p.update(1);  // after the end: ignored
    }
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 3u) << out.str();
    EXPECT_EQ(lines[0].rfind("train 1/4 (25%) ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("it/s ETA "), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("loss=0.5"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("loss=0.5"), std::string::npos);  // the latest metrics persist
    EXPECT_EQ(lines[2].rfind("train 4/4 (100%) ", 0), 0u) << lines[2];
    EXPECT_NE(lines[2].find(" in 0:00 loss=0.25 acc=0.75"), std::string::npos) << lines[2];
    EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Progress, LongIntervalPrintsOnlyTheEnd) {
    std::ostringstream out;
    {
        Progress p(100, "eval", out, ProgressStyle::plain, 3600.0);
        for (int i = 0; i < 99; ++i) p.update();
    }  // the destructor prints the last line even when total was not reached
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 1u) << out.str();
    EXPECT_EQ(lines[0].rfind("eval 99/100 (99%)", 0), 0u) << lines[0];
}

TEST(Progress, BarRedrawsInPlace) {
    std::ostringstream out;
    Progress p(10, "fit", out, ProgressStyle::bar);
    EXPECT_TRUE(p.is_bar());
    p.update(5);
    p.update(5);
    const std::string s = out.str();
    EXPECT_EQ(s.front(), '\r');
    EXPECT_NE(s.find("fit [===============>              ] 5/10 50%"), std::string::npos) << s;
    EXPECT_NE(s.find("[==============================] 10/10 100%"), std::string::npos) << s;
    EXPECT_EQ(s.back(), '\n');
}

class MetricsLogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = (fs::path(::testing::TempDir()) /
                 ("postr_metrics_" + std::string(info->name()) + "_" + std::to_string(::getpid())))
                    .string();
        fs::remove(path_);
    }
    void TearDown() override { fs::remove(path_); }
    std::string contents() const {
        std::ifstream f(path_);
        return {std::istreambuf_iterator<char>(f), {}};
    }
    std::string path_;
};

TEST_F(MetricsLogTest, CsvWritesHeaderOnceAndAppends) {
    {
        MetricsLog log(path_, MetricsFormat::csv);
        log.log({{"epoch", 1}, {"loss", 0.1}});
        log.log({{"epoch", 2}, {"loss", 1e-20}});
        EXPECT_TRUE(throws_error(
            [&] {
                log.log({{"epoch", 3}});
            },
            {"MetricsLog::log", "\"epoch\"", path_}));
    }
    EXPECT_EQ(contents(), "epoch,loss\n1,0.1\n2,1e-20\n");
    {
        MetricsLog again(path_, MetricsFormat::csv);  // resumed run: no second header
        again.log({{"epoch", 3}, {"loss", 0.5}});
    }
    EXPECT_EQ(contents(), "epoch,loss\n1,0.1\n2,1e-20\n3,0.5\n");
    MetricsLog other(path_, MetricsFormat::csv);
    EXPECT_TRUE(throws_error(
        [&] {
            other.log({{"step", 1}});
        },
        {"already has the header \"epoch,loss\"", "\"step\""}));
}

TEST_F(MetricsLogTest, JsonLinesOneObjectPerRow) {
    {
        MetricsLog log(path_, MetricsFormat::jsonl);
        log.log({{"epoch", 1}, {"loss", 0.25}});
        log.log({{"nll", std::numeric_limits<double>::infinity()}});
    }
    EXPECT_EQ(contents(), "{\"epoch\":1.0,\"loss\":0.25}\n{\"nll\":null}\n");
    EXPECT_TRUE(throws_error([] { MetricsLog("/nonexistent_dir_postr/m.csv", MetricsFormat::csv); },
                             {"MetricsLog", "/nonexistent_dir_postr/m.csv"}));
}

}  // namespace
}  // namespace postr::io
