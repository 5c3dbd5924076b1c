#include "examples/rotated_fmnist/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>

#include "postr/core/error.h"

#include "examples/common/svg_plot.h"
#include "examples/rotated_fmnist/options.h"

namespace postr::examples::rotated {
namespace {

using Summary = inference::ClassificationMetrics::Summary;

struct Metric {
    const char* name;
    const char* label;
    std::function<double(const Summary&)> value;
};

const std::vector<Metric>& metrics() {
    static const std::vector<Metric> all{
        {"NLL", "test NLL (nats)", [](const Summary& s) { return s.nll; }},
        {"accuracy (%)", "accuracy (%)", [](const Summary& s) { return 100 * s.accuracy; }},
        {"ECE", "ECE (10 bins)", [](const Summary& s) { return s.ece; }},
        {"Brier", "Brier score", [](const Summary& s) { return s.brier; }},
    };
    return all;
}

// Methods and angles in the order they first appear.
std::vector<std::string> methods_of(const std::vector<Result>& results) {
    std::vector<std::string> out;
    for (const auto& r : results)
        if (std::find(out.begin(), out.end(), r.method) == out.end()) out.push_back(r.method);
    return out;
}
std::vector<double> angles_of(const std::vector<Result>& results) {
    std::vector<double> out;
    for (const auto& r : results)
        if (std::find(out.begin(), out.end(), r.angle) == out.end()) out.push_back(r.angle);
    std::sort(out.begin(), out.end());
    return out;
}

const Result* find(const std::vector<Result>& results, const std::string& method, double angle) {
    for (const auto& r : results)
        if (r.method == method && r.angle == angle) return &r;
    return nullptr;
}

std::string color_of(const std::string& method) {
    static const std::map<std::string, std::string> colors{
        {"map", "#000000"},         {"diag_laplace", "#1f77b4"}, {"last_layer", "#ff7f0e"},
        {"swag", "#2ca02c"},        {"mc_dropout", "#9467bd"},   {"ensemble", "#8c564b"},
        {"wasserstein", "#d62728"}, {"random", "#e377c2"}};
    auto it = colors.find(method);
    return it == colors.end() ? "#7f7f7f" : it->second;
}

}  // namespace

std::string display_name(const std::string& method) {
    static const std::map<std::string, std::string> names{{"map", "MAP"},
                                                          {"diag_laplace", "diagonal Laplace"},
                                                          {"last_layer", "last-layer Laplace"},
                                                          {"swag", "SWAG (diagonal)"},
                                                          {"mc_dropout", "MC dropout"},
                                                          {"ensemble", "deep ensemble"},
                                                          {"wasserstein", "Wasserstein subnet"},
                                                          {"random", "random subnet"}};
    auto it = names.find(method);
    return it == names.end() ? method : it->second;
}

void write_csv(const std::vector<Result>& results, const std::string& path) {
    std::ofstream out(path);
    POSTR_CHECK(out.good(), "rotated_fmnist: cannot write \"", path,
                "\". Check that --out-dir is writable");
    out << "method,angle,accuracy,nll,ece,brier\n";
    char line[256];
    for (const auto& r : results) {
        std::snprintf(line, sizeof line, "%s,%g,%.6f,%.6f,%.6f,%.6f\n", r.method.c_str(), r.angle,
                      r.metrics.accuracy, r.metrics.nll, r.metrics.ece, r.metrics.brier);
        out << line;
    }
    POSTR_CHECK(out.good(), "rotated_fmnist: writing \"", path, "\" failed. Check the disk");
}

void print_tables(const std::vector<Result>& results) {
    const auto methods = methods_of(results);
    const auto angles = angles_of(results);
    for (const auto& metric : metrics()) {
        std::printf("\n%-20s", metric.name);
        for (double a : angles) std::printf(" %6.0f", a);
        std::printf("\n");
        for (const auto& m : methods) {
            std::printf("%-20s", display_name(m).c_str());
            for (double a : angles) {
                const Result* r = find(results, m, a);
                if (r)
                    std::printf(" %6.3f", metric.value(r->metrics));
                else
                    std::printf(" %6s", "-");
            }
            std::printf("\n");
        }
    }
    std::fflush(stdout);
}

void write_plot(const std::vector<Result>& results, const std::string& path,
                const std::string& subtitle) {
    svg::Figure figure;
    figure.title = "Rotated Fashion-MNIST, ResNet-18: " + subtitle;
    figure.columns = 2;
    figure.panel_width = 480;
    figure.panel_height = 340;
    const auto methods = methods_of(results);
    bool first = true;
    for (const auto& metric : metrics()) {
        svg::Panel& panel = figure.panels.emplace_back();
        panel.title = std::string(metric.label) + " vs rotation";
        panel.x_label = "rotation (degrees)";
        panel.y_label = metric.label;
        panel.x_range = std::make_pair(0.0, 180.0);
        panel.legend = first;
        first = false;
        for (const auto& m : methods) {
            svg::LineSeries line;
            for (const auto& r : results) {
                if (r.method != m) continue;
                line.x.push_back(r.angle);
                line.y.push_back(metric.value(r.metrics));
            }
            line.color = color_of(m);
            line.markers = true;
            line.dashed = m == "map";
            line.label = display_name(m);
            panel.lines.push_back(std::move(line));
        }
    }
    svg::write_svg(figure, path);
}

}  // namespace postr::examples::rotated
