#include "postr/io/progress.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "postr/core/error.h"

namespace postr::io {

namespace {

constexpr int kBarWidth = 30;

// "m:ss" or "h:mm:ss".
std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<std::int64_t>(seconds + 0.5);
    std::ostringstream o;
    o << std::setfill('0');
    if (s >= 3600)
        o << s / 3600 << ':' << std::setw(2) << (s / 60) % 60;
    else
        o << s / 60;
    o << ':' << std::setw(2) << s % 60;
    return o.str();
}

// Six significant digits: enough to read a loss or a rate at a glance.
std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// The shortest text that reads back as the same double, for files.
std::string format_exact(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "nan";
}

}  // namespace

Progress::Progress(std::int64_t total, std::string label, std::ostream& out, ProgressStyle style,
                   double interval_s)
    : total_(std::max<std::int64_t>(total, 0)),
      label_(std::move(label)),
      out_(out),
      interval_s_(interval_s),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {
    // Only std::cerr is known to be stderr; any other stream (a file, a string) gets lines.
    bar_ = style == ProgressStyle::bar ||
           (style == ProgressStyle::automatic && &out == &std::cerr && ::isatty(fileno(stderr)));
}

Progress::Progress(std::int64_t total, std::string label)
    : Progress(total, std::move(label), std::cerr) {}

Progress::~Progress() {
    try {
        finish();
    } catch (...) {  // a destructor must not throw; a failed final line is not worth a crash
    }
}

void Progress::update(std::int64_t n, const Metrics& metrics) {
    if (finished_) return;
    done_ += n;
    if (!metrics.empty()) metrics_ = metrics;
    if (total_ > 0 && done_ >= total_) {
        finish();
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_print_).count();
    // The bar redraws at most ten times a second; plain lines come every interval_s.
    if (since >= (bar_ ? 0.1 : interval_s_) || (bar_ && !printed_)) print(false);
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    print(true);
}

void Progress::print(bool final_line) {
    const auto now = std::chrono::steady_clock::now();
    last_print_ = now;
    printed_ = true;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
    const double pct = total_ > 0 ? 100.0 * std::min(done_, total_) / total_ : 100.0;
    std::ostringstream line;
    line << label_ << ' ';
    if (bar_) {
        const int filled =
            total_ > 0 ? static_cast<int>(kBarWidth * std::min(done_, total_) / total_) : kBarWidth;
        line << '[' << std::string(filled, '=') << (filled < kBarWidth ? ">" : "")
             << std::string(std::max(kBarWidth - filled - 1, 0), ' ') << "] ";
    }
    line << done_ << '/' << total_ << ' ';
    line << (bar_ ? "" : "(") << static_cast<int>(pct) << '%' << (bar_ ? "" : ")");
    line << ' ' << format_number(rate) << " it/s";
    if (final_line) {
        line << " in " << format_duration(elapsed);
    } else {
        line << " ETA " << format_duration(rate > 0 ? (total_ - done_) / rate : -1);
    }
    for (const auto& [name, value] : metrics_) line << ' ' << name << '=' << format_number(value);
    if (bar_) {
        // "\x1b[K" clears what a longer previous line left behind.
        out_ << '\r' << line.str() << "\x1b[K";
        if (final_line) out_ << '\n';
    } else {
        out_ << line.str() << '\n';
    }
    out_.flush();
}

MetricsLog::MetricsLog(std::string path, MetricsFormat format)
    : path_(std::move(path)), format_(format) {
    if (format_ == MetricsFormat::csv) {
        std::ifstream existing(path_);
        if (existing) std::getline(existing, existing_header_);
    }
    file_.open(path_, std::ios::app);
    POSTR_CHECK(file_.is_open(), "MetricsLog: cannot open \"", path_,
                "\" for appending. Check that the directory exists and is writable");
}

void MetricsLog::log(const Metrics& row) {
    const char* op = "MetricsLog::log";
    if (format_ == MetricsFormat::jsonl) {
        nlohmann::ordered_json j = nlohmann::ordered_json::object();
        for (const auto& [name, value] : row) {
            if (std::isfinite(value))
                j[name] = value;
            else
                j[name] = nullptr;
        }
        file_ << j.dump() << '\n';
    } else {
        std::vector<std::string> names;
        for (const auto& [name, value] : row) names.push_back(name);
        std::string header;
        for (std::size_t i = 0; i < names.size(); ++i) header += (i ? "," : "") + names[i];
        if (columns_.empty()) {
            POSTR_CHECK(existing_header_.empty() || existing_header_ == header, op, ": \"", path_,
                        "\" already has the header \"", existing_header_,
                        "\" but this row has columns \"", header,
                        "\". Log to a new file or keep the same columns");
            if (existing_header_.empty()) file_ << header << '\n';
            columns_ = names;
        }
        POSTR_CHECK(names == columns_, op, ": row columns \"", header,
                    "\" differ from the header "
                    "of \"",
                    path_, "\". Log the same names in the same order");
        for (std::size_t i = 0; i < row.size(); ++i) {
            file_ << (i ? "," : "") << format_exact(row[i].second);
        }
        file_ << '\n';
    }
    file_.flush();
    POSTR_CHECK(file_.good(), op, ": writing \"", path_, "\" failed. Check free disk space");
}

}  // namespace postr::io
