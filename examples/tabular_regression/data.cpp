#include "examples/tabular_regression/data.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <fstream>
#include <iomanip>
#include <numeric>

#include "postr/core/error.h"
#include "postr/core/philox.h"
#include "postr/io/csv.h"
#include "postr/kernels/ops.h"

namespace postr::examples::tabular {

Dataset load_csv(const std::string& path, char delimiter, const std::string& target) {
    io::CsvOptions options;
    options.delimiter = delimiter;
    io::CsvTable table;
    try {
        table = io::read_csv(path, options);
    } catch (const std::exception& e) {
        POSTR_CHECK(false, e.what(), " (tabular_regression read it with --delimiter '", delimiter,
                    "'; UCI wine quality needs --delimiter ';')");
    }
    POSTR_CHECK(table.cols() >= 2, "tabular_regression: \"", path,
                "\" needs at least two columns (features and a target): got ", table.cols(),
                ". Check --delimiter");
    const std::string name = target.empty() ? table.header.back() : target;
    const io::FeaturesTarget ft = io::split_features_target(table, name);
    Dataset d;
    d.rows = table.rows();
    d.features = table.cols() - 1;
    POSTR_CHECK(d.rows >= 10, "tabular_regression: \"", path, "\" has ", d.rows,
                " data rows; at least 10 are needed");
    d.x = ft.X.contiguous().to_vector<double>();
    d.y = ft.y.contiguous().to_vector<double>();
    for (const std::string& h : table.header)
        if (h != name) d.feature_names.push_back(h);
    d.target_name = name;
    return d;
}

void write_synthetic_csv(const std::string& path, std::int64_t rows, std::uint64_t seed) {
    Generator gen(seed);
    const auto u = uniform({rows, 2}, gen, -2.0, 2.0, DType::f64).to_vector<double>();
    const auto g = normal({rows, 2}, gen, 0.0, 1.0, DType::f64).to_vector<double>();
    const auto e = normal({rows}, gen, 0.0, 0.3, DType::f64).to_vector<double>();
    std::ofstream out(path);
    POSTR_CHECK(out.good(), "tabular_regression: cannot write \"", path, "\". Check the folder");
    out << "x1,x2,x3,x4,y\n" << std::setprecision(10);
    for (std::int64_t i = 0; i < rows; ++i) {
        const auto k = static_cast<std::size_t>(i);
        const double x1 = u[2 * k], x2 = u[2 * k + 1], x3 = g[2 * k], x4 = g[2 * k + 1];
        const double y = std::sin(2 * x1) + 0.5 * x2 * x2 - 0.5 * x3 * x4 + x4 + e[k];
        out << x1 << ',' << x2 << ',' << x3 << ',' << x4 << ',' << y << '\n';
    }
    out.flush();
    POSTR_CHECK(out.good(), "tabular_regression: writing \"", path, "\" failed");
}

std::vector<Split> standard_splits(std::int64_t rows, std::int64_t count, double test_fraction,
                                   std::uint64_t seed) {
    const std::int64_t n_test = std::clamp<std::int64_t>(
        std::llround(test_fraction * static_cast<double>(rows)), 1, rows - 1);
    std::vector<Split> splits;
    for (std::int64_t s = 0; s < count; ++s) {
        Generator gen(seed + 7919 * static_cast<std::uint64_t>(s + 1));
        // A random permutation: argsort of uniform keys.
        const auto keys = uniform({rows}, gen, 0.0, 1.0, DType::f64).to_vector<double>();
        std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
            return keys[static_cast<std::size_t>(a)] < keys[static_cast<std::size_t>(b)];
        });
        Split sp{"standard", s, {}, {}};
        sp.test.assign(order.begin(), order.begin() + n_test);
        sp.train.assign(order.begin() + n_test, order.end());
        splits.push_back(std::move(sp));
    }
    return splits;
}

std::vector<Split> gap_splits(const Dataset& data, std::int64_t max_features) {
    const std::int64_t d = max_features > 0 ? std::min(max_features, data.features) : data.features;
    const std::int64_t n = data.rows;
    std::vector<Split> splits;
    for (std::int64_t j = 0; j < d; ++j) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        auto value = [&](std::int64_t r) {
            return data.x[static_cast<std::size_t>(r * data.features + j)];
        };
        std::stable_sort(order.begin(), order.end(),
                         [&](std::int64_t a, std::int64_t b) { return value(a) < value(b); });
        const std::int64_t lo = n / 3, hi = n - n / 3;  // middle third: [lo, hi)
        Split sp{"gap", j, {}, {}};
        for (std::int64_t i = 0; i < n; ++i)
            (i >= lo && i < hi ? sp.test : sp.train).push_back(order[static_cast<std::size_t>(i)]);
        splits.push_back(std::move(sp));
    }
    return splits;
}

SplitData standardise(const Dataset& data, const Split& split) {
    const std::int64_t d = data.features;
    const auto n_train = static_cast<double>(split.train.size());
    std::vector<double> mean(static_cast<std::size_t>(d)), stdev(mean.size());
    double y_mean = 0, y_var = 0;
    for (std::int64_t r : split.train) {
        for (std::int64_t j = 0; j < d; ++j)
            mean[static_cast<std::size_t>(j)] += data.x[static_cast<std::size_t>(r * d + j)];
        y_mean += data.y[static_cast<std::size_t>(r)];
    }
    for (double& m : mean) m /= n_train;
    y_mean /= n_train;
    for (std::int64_t r : split.train) {
        for (std::int64_t j = 0; j < d; ++j) {
            const double c =
                data.x[static_cast<std::size_t>(r * d + j)] - mean[static_cast<std::size_t>(j)];
            stdev[static_cast<std::size_t>(j)] += c * c;
        }
        const double c = data.y[static_cast<std::size_t>(r)] - y_mean;
        y_var += c * c;
    }
    for (double& s : stdev) {
        s = std::sqrt(s / n_train);
        if (!(s > 1e-12)) s = 1;  // a constant feature on the training split
    }
    double y_std = std::sqrt(y_var / n_train);
    POSTR_CHECK(y_std > 0,
                "tabular_regression: the target is constant on a training split; "
                "there is nothing to regress");

    auto features = [&](const std::vector<std::int64_t>& rows) {
        std::vector<double> out;
        out.reserve(rows.size() * static_cast<std::size_t>(d));
        for (std::int64_t r : rows)
            for (std::int64_t j = 0; j < d; ++j)
                out.push_back((data.x[static_cast<std::size_t>(r * d + j)] -
                               mean[static_cast<std::size_t>(j)]) /
                              stdev[static_cast<std::size_t>(j)]);
        return Tensor::from_vector(out, {static_cast<std::int64_t>(rows.size()), d});
    };
    auto target = [&](const std::vector<std::int64_t>& rows, bool scaled) {
        std::vector<double> out;
        for (std::int64_t r : rows) {
            const double v = data.y[static_cast<std::size_t>(r)];
            out.push_back(scaled ? (v - y_mean) / y_std : v);
        }
        return Tensor::from_vector(out, {static_cast<std::int64_t>(rows.size()), 1});
    };
    SplitData s;
    s.x_train = features(split.train);
    s.x_test = features(split.test);
    s.y_train = target(split.train, true);
    s.y_test = target(split.test, true);
    s.y_test_original = target(split.test, false);
    s.y_mean = y_mean;
    s.y_std = y_std;
    return s;
}

}  // namespace postr::examples::tabular
