#include "examples/common/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "postr/core/error.h"

namespace postr::examples::svg {
namespace {

// Margins of a panel's plot area inside its cell, in pixels: room for the title above, tick
// labels and the axis label below and to the left.
constexpr double kLeft = 54, kRight = 12, kTop = 24, kBottom = 38;
constexpr double kFigureTitle = 28;

void check_lengths(const char* what, std::size_t a, std::size_t b) {
    POSTR_CHECK(a == b, "svg: a ", what, " has vectors of different lengths: ", a, " and ", b,
                ". Give every point all its coordinates");
}

struct Range {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    void add(double v) {
        if (!std::isfinite(v)) return;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    void add(const std::vector<double>& vs) {
        for (double v : vs) add(v);
    }
    // The data range padded by 5% (or ±1 around a single value; [0, 1] without data).
    std::pair<double, double> padded() const {
        if (!(lo <= hi)) return {0.0, 1.0};
        if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) return {lo - 1, hi + 1};
        const double pad = 0.05 * (hi - lo);
        return {lo - pad, hi + pad};
    }
};

// Shortest fixed-point text of a tick value at this step (no "-0").
std::string tick_text(double v, double step) {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    if (std::abs(v) < 0.5 * step) v = 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

// Maps data coordinates to pixels of one panel's plot area.
struct Frame {
    double x0, y0, w, h;  // plot area in pixels
    double xmin, xmax, ymin, ymax;
    double px(double x) const { return x0 + (x - xmin) / (xmax - xmin) * w; }
    double py(double y) const { return y0 + h - (y - ymin) / (ymax - ymin) * h; }
};

// Consecutive runs of indices where every given coordinate is finite.
template <class Finite>
std::vector<std::pair<std::size_t, std::size_t>> finite_runs(std::size_t n, Finite finite) {
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    std::size_t i = 0;
    while (i < n) {
        while (i < n && !finite(i)) ++i;
        const std::size_t start = i;
        while (i < n && finite(i)) ++i;
        if (i > start) runs.emplace_back(start, i);
    }
    return runs;
}

void draw_band(std::ostringstream& out, const Frame& f, const BandSeries& b) {
    auto finite = [&](std::size_t i) {
        return std::isfinite(b.x[i]) && std::isfinite(b.lower[i]) && std::isfinite(b.upper[i]);
    };
    for (auto [start, end] : finite_runs(b.x.size(), finite)) {
        out << "<polygon fill=\"" << escape_xml(b.color) << "\" fill-opacity=\"" << b.opacity
            << "\" stroke=\"none\" points=\"";
        for (std::size_t i = start; i < end; ++i)
            out << num(f.px(b.x[i])) << ',' << num(f.py(b.upper[i])) << ' ';
        for (std::size_t i = end; i-- > start;)
            out << num(f.px(b.x[i])) << ',' << num(f.py(b.lower[i])) << ' ';
        out << "\"/>\n";
    }
}

void draw_line(std::ostringstream& out, const Frame& f, const LineSeries& l) {
    auto finite = [&](std::size_t i) { return std::isfinite(l.x[i]) && std::isfinite(l.y[i]); };
    for (auto [start, end] : finite_runs(l.x.size(), finite)) {
        out << "<polyline fill=\"none\" stroke=\"" << escape_xml(l.color) << "\" stroke-width=\""
            << l.width << "\"" << (l.dashed ? " stroke-dasharray=\"5,3\"" : "") << " points=\"";
        for (std::size_t i = start; i < end; ++i)
            out << num(f.px(l.x[i])) << ',' << num(f.py(l.y[i])) << ' ';
        out << "\"/>\n";
        if (l.markers)
            for (std::size_t i = start; i < end; ++i)
                out << "<circle cx=\"" << num(f.px(l.x[i])) << "\" cy=\"" << num(f.py(l.y[i]))
                    << "\" r=\"" << 1.5 * l.width + 1 << "\" fill=\"" << escape_xml(l.color)
                    << "\"/>\n";
    }
}

void draw_points(std::ostringstream& out, const Frame& f, const ScatterSeries& s) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        out << "<circle cx=\"" << num(f.px(s.x[i])) << "\" cy=\"" << num(f.py(s.y[i])) << "\" r=\""
            << s.radius << "\" fill=\"" << escape_xml(s.color) << "\" fill-opacity=\"" << s.opacity
            << "\"/>\n";
    }
}

void draw_legend(std::ostringstream& out, const Frame& f, const Panel& p) {
    struct Entry {
        std::string label, color;
        int kind;  // 0 band, 1 line, 2 point
    };
    std::vector<Entry> entries;
    for (const auto& b : p.bands)
        if (!b.label.empty()) entries.push_back({b.label, b.color, 0});
    for (const auto& l : p.lines)
        if (!l.label.empty()) entries.push_back({l.label, l.color, 1});
    for (const auto& s : p.points)
        if (!s.label.empty()) entries.push_back({s.label, s.color, 2});
    if (entries.empty()) return;
    std::size_t longest = 0;
    for (const auto& e : entries) longest = std::max(longest, e.label.size());
    const double row = 13, w = 28 + 6.0 * static_cast<double>(longest);
    const double x = f.x0 + 6, y = f.y0 + 6;
    out << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w)
        << "\" height=\"" << num(row * static_cast<double>(entries.size()) + 6)
        << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>\n";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        const double cy = y + 10 + row * static_cast<double>(i);
        const std::string color = escape_xml(e.color);
        if (e.kind == 0)
            out << "<rect x=\"" << num(x + 4) << "\" y=\"" << num(cy - 4)
                << "\" width=\"16\" height=\"8\" fill=\"" << color
                << "\" fill-opacity=\"0.35\"/>\n";
        else if (e.kind == 1)
            out << "<line x1=\"" << num(x + 4) << "\" y1=\"" << num(cy) << "\" x2=\"" << num(x + 20)
                << "\" y2=\"" << num(cy) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
        else
            out << "<circle cx=\"" << num(x + 12) << "\" cy=\"" << num(cy) << "\" r=\"2.5\" fill=\""
                << color << "\"/>\n";
        out << "<text x=\"" << num(x + 24) << "\" y=\"" << num(cy + 3.5) << "\" font-size=\"10\">"
            << escape_xml(e.label) << "</text>\n";
    }
}

void draw_panel(std::ostringstream& out, const Panel& p, int id, double cell_x, double cell_y,
                double cell_w, double cell_h) {
    Range xr, yr;
    for (const auto& b : p.bands) {
        check_lengths("band", b.x.size(), b.lower.size());
        check_lengths("band", b.x.size(), b.upper.size());
        xr.add(b.x);
        yr.add(b.lower);
        yr.add(b.upper);
    }
    for (const auto& l : p.lines) {
        check_lengths("line", l.x.size(), l.y.size());
        xr.add(l.x);
        yr.add(l.y);
    }
    for (const auto& s : p.points) {
        check_lengths("scatter series", s.x.size(), s.y.size());
        xr.add(s.x);
        yr.add(s.y);
    }
    const auto [xmin, xmax] = p.x_range ? *p.x_range : xr.padded();
    const auto [ymin, ymax] = p.y_range ? *p.y_range : yr.padded();
    POSTR_CHECK(xmax > xmin && ymax > ymin, "svg: panel \"", p.title,
                "\" has an empty axis range: x [", xmin, ", ", xmax, "], y [", ymin, ", ", ymax,
                "]. Give ranges with min < max");
    const Frame f{
        cell_x + kLeft, cell_y + kTop, cell_w - kLeft - kRight, cell_h - kTop - kBottom, xmin, xmax,
        ymin,           ymax};

    out << "<g>\n<clipPath id=\"clip" << id << "\"><rect x=\"" << num(f.x0) << "\" y=\""
        << num(f.y0) << "\" width=\"" << num(f.w) << "\" height=\"" << num(f.h)
        << "\"/></clipPath>\n";
    out << "<rect x=\"" << num(f.x0) << "\" y=\"" << num(f.y0) << "\" width=\"" << num(f.w)
        << "\" height=\"" << num(f.h) << "\" fill=\"white\" stroke=\"#444444\"/>\n";

    // Grid lines and tick labels.
    const auto xt = nice_ticks(xmin, xmax), yt = nice_ticks(ymin, ymax);
    const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1,
                 ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : xt) {
        const double x = f.px(t);
        out << "<line x1=\"" << num(x) << "\" y1=\"" << num(f.y0) << "\" x2=\"" << num(x)
            << "\" y2=\"" << num(f.y0 + f.h) << "\" stroke=\"#e4e4e4\"/>\n"
            << "<text x=\"" << num(x) << "\" y=\"" << num(f.y0 + f.h + 13)
            << "\" font-size=\"10\" text-anchor=\"middle\">" << tick_text(t, xstep) << "</text>\n";
    }
    for (double t : yt) {
        const double y = f.py(t);
        out << "<line x1=\"" << num(f.x0) << "\" y1=\"" << num(y) << "\" x2=\"" << num(f.x0 + f.w)
            << "\" y2=\"" << num(y) << "\" stroke=\"#e4e4e4\"/>\n"
            << "<text x=\"" << num(f.x0 - 4) << "\" y=\"" << num(y + 3.5)
            << "\" font-size=\"10\" text-anchor=\"end\">" << tick_text(t, ystep) << "</text>\n";
    }

    out << "<g clip-path=\"url(#clip" << id << ")\">\n";
    for (const auto& b : p.bands) draw_band(out, f, b);
    for (const auto& l : p.lines) draw_line(out, f, l);
    for (const auto& s : p.points) draw_points(out, f, s);
    out << "</g>\n";
    if (p.legend) draw_legend(out, f, p);

    if (!p.title.empty())
        out << "<text x=\"" << num(f.x0 + f.w / 2) << "\" y=\"" << num(cell_y + 16)
            << "\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\">"
            << escape_xml(p.title) << "</text>\n";
    if (!p.x_label.empty())
        out << "<text x=\"" << num(f.x0 + f.w / 2) << "\" y=\"" << num(f.y0 + f.h + 30)
            << "\" font-size=\"11\" text-anchor=\"middle\">" << escape_xml(p.x_label)
            << "</text>\n";
    if (!p.y_label.empty()) {
        const double x = cell_x + 12, y = f.y0 + f.h / 2;
        out << "<text x=\"" << num(x) << "\" y=\"" << num(y)
            << "\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 " << num(x) << ' '
            << num(y) << ")\">" << escape_xml(p.y_label) << "</text>\n";
    }
    out << "</g>\n";
}

}  // namespace

std::vector<double> nice_ticks(double low, double high, int target) {
    if (!(high > low) || !std::isfinite(low) || !std::isfinite(high) || target < 1) return {};
    const double raw = (high - low) / target;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        step = m * magnitude;
        if (step >= raw) break;
    }
    std::vector<double> ticks;
    const double slack = 1e-9 * step;
    for (double t = std::ceil((low - slack) / step) * step; t <= high + slack; t += step)
        ticks.push_back(std::abs(t) < slack ? 0.0 : t);
    return ticks;
}

std::string escape_xml(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string render_svg(const Figure& figure) {
    POSTR_CHECK(!figure.panels.empty() && figure.columns >= 1 && figure.panel_width > 0 &&
                    figure.panel_height > 0,
                "svg: the figure needs at least one panel, columns ≥ 1 and a positive panel "
                "size: got ",
                figure.panels.size(), " panels, ", figure.columns, " columns, ", figure.panel_width,
                "×", figure.panel_height, ". Fix the Figure");
    const auto n = static_cast<int>(figure.panels.size());
    const int columns = std::min(figure.columns, n);
    const int rows = (n + columns - 1) / columns;
    const double top = figure.title.empty() ? 0 : kFigureTitle;
    const double width = columns * figure.panel_width;
    const double height = top + rows * figure.panel_height;
    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\""
        << num(height) << "\" viewBox=\"0 0 " << num(width) << ' ' << num(height)
        << "\" font-family=\"sans-serif\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    if (!figure.title.empty())
        out << "<text x=\"" << num(width / 2) << "\" y=\"19\" font-size=\"15\" "
            << "font-weight=\"bold\" text-anchor=\"middle\">" << escape_xml(figure.title)
            << "</text>\n";
    for (int i = 0; i < n; ++i)
        draw_panel(out, figure.panels[static_cast<std::size_t>(i)], i,
                   (i % columns) * figure.panel_width, top + (i / columns) * figure.panel_height,
                   figure.panel_width, figure.panel_height);
    out << "</svg>\n";
    return out.str();
}

void write_svg(const Figure& figure, const std::string& path) {
    const std::string text = render_svg(figure);
    std::ofstream file(path, std::ios::binary);
    POSTR_CHECK(file.good(), "svg: cannot open \"", path,
                "\" for writing. Check that its folder exists and is writable");
    file << text;
    file.close();
    POSTR_CHECK(!file.fail(), "svg: writing \"", path, "\" failed. Check the disk");
}

}  // namespace postr::examples::svg
