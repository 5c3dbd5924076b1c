// A small, dependency-free SVG writer for the examples' plots: a figure is a grid of panels
// (small multiples), each panel a pair of linear axes with "nice" ticks (1, 2, 5 × 10^k),
// axis labels and a title, holding filled bands, line series and scatter points, drawn in that
// order and clipped to the plot area, with an optional legend. Text is XML-escaped.
//
//   svg::Figure fig;
//   fig.title = "1-D regression";
//   fig.columns = 3;
//   svg::Panel& p = fig.panels.emplace_back();
//   p.title = "full Laplace";
//   p.x_label = "x";
//   p.bands.push_back({.x = xs, .lower = lo, .upper = hi, .color = "#1f77b4"});
//   p.lines.push_back({.x = xs, .y = mean, .color = "#1f77b4", .label = "mean"});
//   p.points.push_back({.x = train_x, .y = train_y, .color = "#222222"});
//   svg::write_svg(fig, "out/plot.svg");
//
// Axis ranges default to the data's range (bands included) with 5% padding; set x_range /
// y_range to fix them (e.g. to share one range across panels). Non-finite values are skipped
// (a line is broken there).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace postr::examples::svg {

// A polyline through (x[i], y[i]); x and y have the same length.
struct LineSeries {
    std::vector<double> x, y;
    std::string color = "#1f77b4";  // any SVG colour
    double width = 1.5;             // stroke width in pixels
    bool dashed = false;
    bool markers = false;  // a dot at every vertex (for sparse series, e.g. a metric per angle)
    std::string label;     // legend entry (empty: not in the legend)
};

// The region between lower(x) and upper(x), filled; x, lower and upper have the same length.
struct BandSeries {
    std::vector<double> x, lower, upper;
    std::string color = "#1f77b4";
    double opacity = 0.25;
    std::string label;
};

// Unconnected points (x[i], y[i]).
struct ScatterSeries {
    std::vector<double> x, y;
    std::string color = "#222222";
    double radius = 2.0;  // pixels
    double opacity = 0.8;
    std::string label;
};

struct Panel {
    std::string title, x_label, y_label;
    std::optional<std::pair<double, double>> x_range, y_range;  // (min, max); default: the data
    std::vector<BandSeries> bands;
    std::vector<LineSeries> lines;
    std::vector<ScatterSeries> points;
    bool legend = false;  // a legend of the labelled series, top left inside the plot area
};

struct Figure {
    std::string title;  // above the grid (empty: none)
    int columns = 3;    // panels per row; rows follow from the number of panels
    double panel_width = 320, panel_height = 240;  // pixels per panel, margins included
    std::vector<Panel> panels;
};

// The figure as an SVG document. Throws postr::Error when a series' vectors differ in length
// or the figure has no panels or a non-positive size.
std::string render_svg(const Figure& figure);
// render_svg written to `path` (parent folder must exist). Throws postr::Error naming the path
// when it cannot be written.
void write_svg(const Figure& figure, const std::string& path);

// "Nice" tick positions covering [low, high]: about `target` ticks at a step of 1, 2 or 5 ×
// 10^k, all inside [low, high]. Exposed for tests and for callers that align panels.
std::vector<double> nice_ticks(double low, double high, int target = 5);
// Text with &, <, >, " and ' replaced by XML entities.
std::string escape_xml(const std::string& text);

}  // namespace postr::examples::svg
