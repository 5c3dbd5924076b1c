// Training feedback: a progress bar (or plain periodic lines when not on a terminal), and metrics
// appended to CSV or JSON-lines files. The one place postr writes text (STYLE 3.5).
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace postr::io {

// Named values for one step or epoch, in display order, e.g. {{"loss", 0.31}, {"acc", 0.9}}.
using Metrics = std::vector<std::pair<std::string, double>>;

enum class ProgressStyle {
    automatic,  // bar when `out` is std::cerr and stderr is a terminal, plain otherwise
    bar,        // one line redrawn in place with '\r'
    plain,      // a full line at most every `interval_s` seconds, and at the end
};

// Progress over `total` steps (items, batches...), e.g.
//   bar:   "train [=========>          ] 450/1000 45% 212.3 it/s ETA 0:02 loss=0.312"
//   plain: "train 450/1000 (45%) 212.3 it/s ETA 0:02 loss=0.312"
class Progress {
  public:
    Progress(std::int64_t total, std::string label, std::ostream& out,
             ProgressStyle style = ProgressStyle::automatic, double interval_s = 10.0);
    // On std::cerr with automatic style.
    Progress(std::int64_t total, std::string label);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Advances by n steps and shows `metrics` (the latest values) with the throughput and ETA.
    void update(std::int64_t n = 1, const Metrics& metrics = {});
    // Prints the final line (once; also called by the destructor, and by update on reaching
    // total).
    void finish();
    bool is_bar() const { return bar_; }
    std::int64_t done() const { return done_; }

  private:
    void print(bool final_line);

    std::int64_t total_;
    std::string label_;
    std::ostream& out_;
    bool bar_;
    double interval_s_;
    std::int64_t done_ = 0;
    Metrics metrics_;
    std::chrono::steady_clock::time_point start_, last_print_;
    bool printed_ = false;
    bool finished_ = false;
};

enum class MetricsFormat { csv, jsonl };

// Appends one row per log() call to a file, flushing each row so a crashed run keeps its history.
// CSV: the first row's names become the header line (written when the file is new or empty; an
// existing header must match them); later rows must have the same names in the same order.
// JSONL: one JSON object per line; names may vary between rows; non-finite values become null.
class MetricsLog {
  public:
    // Throws postr::Error naming the path when the file cannot be opened for appending, or when
    // an existing CSV file's header differs from the first row's names.
    MetricsLog(std::string path, MetricsFormat format);
    // Throws postr::Error for CSV rows whose names differ from the header, or a write failure.
    void log(const Metrics& row);
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    MetricsFormat format_;
    std::ofstream file_;
    std::vector<std::string> columns_;  // CSV header, once known
    std::string existing_header_;       // CSV header line found in the file, if any
};

}  // namespace postr::io
