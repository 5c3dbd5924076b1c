#include "examples/tabular_regression/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

#include "postr/core/error.h"

#include "examples/common/svg_plot.h"

namespace postr::examples::tabular {
namespace {

// Methods in the order of tables and legends.
int method_rank(const std::string& m) {
    static const std::vector<std::string> order = {"map",         "diagonal",  "last_layer", "full",
                                                   "wasserstein", "curvature", "random"};
    const auto it = std::find(order.begin(), order.end(), m);
    return static_cast<int>(it - order.begin());
}

bool is_subnetwork_rule(const std::string& m) {
    return m == "wasserstein" || m == "random" || m == "curvature";
}

std::string color_of(const std::string& m) {
    if (m == "wasserstein") return "#2ca02c";
    if (m == "random") return "#d62728";
    if (m == "curvature") return "#17becf";
    if (m == "diagonal") return "#ff7f0e";
    if (m == "last_layer") return "#9467bd";
    if (m == "full") return "#1f3b99";
    return "#7f7f7f";  // map
}

}  // namespace

void write_results_csv(const std::vector<Row>& rows, const std::string& path) {
    std::ofstream csv(path);
    csv << "split,seed,method,S,fraction,test_ll,rmse,prior_precision,sigma\n"
        << std::setprecision(8);
    for (const Row& r : rows)
        csv << r.split << ',' << r.seed << ',' << r.result.method << ',' << r.result.s << ','
            << r.result.fraction << ',' << r.result.test_ll << ',' << r.result.rmse << ','
            << r.result.prior_precision << ',' << r.result.sigma << '\n';
    csv.flush();
    POSTR_CHECK(csv.good(), "tabular_regression: writing \"", path, "\" failed. Check the folder");
}

std::vector<SummaryRow> summarise(const std::vector<Row>& rows) {
    using Key = std::tuple<std::string, int, std::string, std::int64_t>;
    std::map<Key, std::vector<const Row*>> groups;
    std::map<std::pair<std::string, std::int64_t>, double> map_ll;  // (split, seed) → MAP's LL
    for (const Row& r : rows) {
        groups[{r.split == "standard" ? "0standard" : "1" + r.split, method_rank(r.result.method),
                r.result.method, r.result.s}]
            .push_back(&r);
        if (r.result.method == "map") map_ll[{r.split, r.seed}] = r.result.test_ll;
    }
    auto mean_se = [](const std::vector<double>& v, double& mean, double& se) {
        const auto n = static_cast<double>(v.size());
        mean = 0;
        for (double x : v) mean += x / n;
        double var = 0;
        for (double x : v) var += (x - mean) * (x - mean);
        se = v.size() > 1 ? std::sqrt(var / (n - 1) / n) : 0.0;
    };
    std::vector<SummaryRow> out;
    for (const auto& [key, group] : groups) {
        SummaryRow s;
        s.split = std::get<0>(key).substr(1);
        s.method = std::get<2>(key);
        s.s = std::get<3>(key);
        s.fraction = group.front()->result.fraction;
        s.count = static_cast<std::int64_t>(group.size());
        std::vector<double> ll, rmse, gain;
        for (const Row* r : group) {
            ll.push_back(r->result.test_ll);
            rmse.push_back(r->result.rmse);
            const auto it = map_ll.find({r->split, r->seed});
            if (it != map_ll.end()) gain.push_back(r->result.test_ll - it->second);
        }
        mean_se(ll, s.ll_mean, s.ll_se);
        mean_se(rmse, s.rmse_mean, s.rmse_se);
        if (!gain.empty()) mean_se(gain, s.gain_mean, s.gain_se);
        out.push_back(s);
    }
    return out;
}

void print_summary(const std::vector<SummaryRow>& summary, std::int64_t num_parameters) {
    std::string split;
    for (const SummaryRow& s : summary) {
        if (s.split != split) {
            split = s.split;
            std::cout << "\n"
                      << split << " splits (mean ± standard error over " << s.count
                      << "; D = " << num_parameters << ")\n"
                      << std::left << std::setw(13) << "method" << std::right << std::setw(7) << "S"
                      << std::setw(9) << "of cand." << std::setw(22) << "test LL" << std::setw(22)
                      << "LL - LL(MAP)" << std::setw(22) << "RMSE"
                      << "\n";
        }
        std::ostringstream ll, gain, rmse, frac;
        ll << std::fixed << std::setprecision(3) << s.ll_mean << " ± " << s.ll_se;
        gain << std::fixed << std::setprecision(3) << std::showpos << s.gain_mean << std::noshowpos
             << " ± " << s.gain_se;
        rmse << std::fixed << std::setprecision(3) << s.rmse_mean << " ± " << s.rmse_se;
        if (s.fraction > 0) frac << std::setprecision(3) << 100 * s.fraction << "%";
        std::cout << std::left << std::setw(13) << s.method << std::right << std::setw(7) << s.s
                  << std::setw(9) << frac.str() << std::setw(23) << ll.str() << std::setw(23)
                  << gain.str() << std::setw(23) << rmse.str() << "\n";
    }
}

void write_plot(const std::vector<SummaryRow>& summary, const std::string& title,
                const std::string& path) {
    svg::Figure figure;
    figure.title = title;
    figure.columns = 2;
    figure.panel_width = 440;
    figure.panel_height = 320;
    std::vector<std::string> splits;
    for (const SummaryRow& s : summary)
        if (std::find(splits.begin(), splits.end(), s.split) == splits.end())
            splits.push_back(s.split);
    for (const std::string& split : splits) {
        svg::Panel& p = figure.panels.emplace_back();
        p.title = split + " splits";
        p.x_label = "log10 S (weights with a posterior)";
        p.y_label = "test log-likelihood per point";
        p.legend = true;
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        std::map<std::string, std::vector<const SummaryRow*>> by_method;
        for (const SummaryRow& s : summary) {
            if (s.split != split) continue;
            by_method[s.method].push_back(&s);
            if (s.s > 0) {
                lo = std::min(lo, std::log10(static_cast<double>(s.s)));
                hi = std::max(hi, std::log10(static_cast<double>(s.s)));
            }
        }
        if (!std::isfinite(lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-9) hi = lo + 1;
        std::vector<std::pair<int, std::string>> methods;
        for (const auto& [m, rows] : by_method) methods.emplace_back(method_rank(m), m);
        std::sort(methods.begin(), methods.end());
        for (const auto& [rank, m] : methods) {
            const auto& rows = by_method[m];
            if (is_subnetwork_rule(m)) {
                svg::LineSeries line;
                line.color = color_of(m);
                line.markers = true;
                line.label = m;
                for (const SummaryRow* r : rows) {
                    const double x = std::log10(static_cast<double>(r->s));
                    line.x.push_back(x);
                    line.y.push_back(r->ll_mean);
                }
                p.lines.push_back(std::move(line));
            } else {
                // A reference: a horizontal line over the S range, its own S in the label.
                const SummaryRow* r = rows.front();
                const std::string label =
                    m + (r->s > 0 ? " (S = " + std::to_string(r->s) + ")" : std::string());
                p.lines.push_back({.x = {lo, hi},
                                   .y = {r->ll_mean, r->ll_mean},
                                   .color = color_of(m),
                                   .width = 1.2,
                                   .dashed = true,
                                   .label = label});
            }
        }
    }
    svg::write_svg(figure, path);
}

}  // namespace postr::examples::tabular
