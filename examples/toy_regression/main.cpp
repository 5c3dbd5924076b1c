// The 1-D toy regression of the subnetwork-inference paper (Daxberger et al., ICML 2021): trains
// an MLP 1 → 50 → 50 → 1 at the MAP with a learned noise on two separated clusters of inputs,
// fits MAP, full, diagonal, last-layer, Wasserstein-, largest-curvature- and random-subnetwork
// linearized Laplace posteriors, and writes
//   predictions.csv  x and, per method, the predictive mean, std (noise included) and the
//                    function's std over a grid on [−3, 3];
//   summary.csv      per method: mean predictive std inside / between the clusters, their
//                    ratio, and test log-likelihood on held-out points in the clusters and the gap;
//   plot.svg         one panel per method: training data, mean and ±2σ band.
// `toy_regression --help` lists the flags; README.md shows a run and what to look for.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numbers>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "postr/core/error.h"
#include "postr/core/thread_pool.h"
#include "postr/kernels/ops.h"

#include "examples/common/cli.h"
#include "examples/common/svg_plot.h"
#include "examples/toy_regression/experiment.h"

namespace postr::examples::toy {
namespace {

struct Options {
    std::string out_dir = "build/toy_regression";
    std::uint64_t seed = 0;
    std::int64_t epochs = 3000;
    std::int64_t points = 40;  // training points per cluster
    double prior_precision = 1.0;
    bool tune_prior = false;
    std::string variances = "swag";  // or "laplace"
    double swag_lr = 1e-3;
    int threads = 0;
    bool help = false;
};

const char* kUsage = R"(The 1-D toy regression of "Bayesian Deep Learning via Subnetwork Inference"
(Daxberger et al., ICML 2021): an MLP 1-50-50-1 (ReLU) with a learned Gaussian noise, trained
on x in [-2,-1] U [1,2], y = sin(3x) + N(0, 0.1^2); then MAP, full, diagonal, last-layer,
Wasserstein-subnetwork, largest-curvature-subnetwork and random-subnetwork (50%, 3%, 1% of
the weights) linearized Laplace.

Usage: toy_regression [flags]
  --out-dir DIR          where predictions.csv, summary.csv and plot.svg go
                         (default build/toy_regression; created if missing)
  --seed N               data, initialization and random subnetworks (default 0)
  --epochs N             full-batch Adam steps of the MAP training (default 3000)
  --points N             training points per cluster (default 40)
  --prior-precision X    lambda of the N(0, 1/lambda) weight prior, shared by the MAP training
                         and every Laplace method (default 1)
  --tune-prior           instead let each Laplace method maximise its own evidence over lambda
                         (slow: about 40 Cholesky factorizations of the 2,701 x 2,701 full GGN)
  --variances NAME       marginal variances for the Wasserstein rule: swag (default; diagonal
                         SWAG from 600 SGD steps at the MAP, the paper's choice) or laplace
                         (the diagonal Laplace's 1/(diag G + lambda): picks dead weights here)
  --swag-lr X            SWAG's SGD learning rate (default 1e-3)
  --threads N            CPU threads (default 0: all cores)
  --help                 this text
)";

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    return examples::parse_number<T>("toy_regression", flag, text);
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> std::string {
            POSTR_CHECK(i + 1 < argc, "toy_regression: ", flag, " needs a value. See --help");
            return argv[++i];
        };
        if (flag == "--help" || flag == "-h")
            o.help = true;
        else if (flag == "--out-dir")
            o.out_dir = value();
        else if (flag == "--seed")
            o.seed = parse_number<std::uint64_t>(flag, value());
        else if (flag == "--epochs")
            o.epochs = parse_number<std::int64_t>(flag, value());
        else if (flag == "--points")
            o.points = parse_number<std::int64_t>(flag, value());
        else if (flag == "--prior-precision")
            o.prior_precision = parse_number<double>(flag, value());
        else if (flag == "--tune-prior")
            o.tune_prior = true;
        else if (flag == "--variances")
            o.variances = value();
        else if (flag == "--swag-lr")
            o.swag_lr = parse_number<double>(flag, value());
        else if (flag == "--threads")
            o.threads = parse_number<int>(flag, value());
        else
            POSTR_CHECK(false, "toy_regression: unknown flag \"", flag, "\". See --help");
    }
    POSTR_CHECK(o.epochs >= 1 && o.points >= 2 && o.prior_precision > 0,
                "toy_regression: needs "
                "--epochs ≥ 1, --points ≥ 2 and --prior-precision > 0: got ",
                o.epochs, ", ", o.points, ", ", o.prior_precision, ". See --help");
    POSTR_CHECK(o.variances == "swag" || o.variances == "laplace",
                "toy_regression: --variances must be swag or laplace: got \"", o.variances,
                "\". See --help");
    return o;
}

// Per-method numbers of summary.csv.
struct Summary {
    double std_inside = 0, std_between = 0;    // predictive std (noise included), grid means
    double fstd_inside = 0, fstd_between = 0;  // the function's std alone
    double ll_clusters = 0, ll_gap = 0;        // mean test log-likelihood per point
};

std::vector<double> column(const Tensor& t) {
    return t.contiguous().view({t.numel()}).to_vector<double>();
}

// Mean Gaussian log-likelihood of y under N(mean, variance) per point.
double mean_log_likelihood(const std::vector<double>& y, const std::vector<double>& mean,
                           const std::vector<double>& variance) {
    double total = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double r = y[i] - mean[i];
        total += -0.5 * (std::log(2 * std::numbers::pi * variance[i]) + r * r / variance[i]);
    }
    return total / static_cast<double>(y.size());
}

int run(const Options& o) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    if (o.threads > 0) set_num_threads(o.threads);
    std::filesystem::create_directories(o.out_dir);

    const Data train = make_data(o.points, o.seed);
    const Data test = make_data(100, o.seed + 1000);
    const Data test_gap = make_data(50, o.seed + 2000, true);
    TrainConfig train_config;
    train_config.epochs = o.epochs;
    train_config.prior_precision = o.prior_precision;
    train_config.seed = o.seed;
    Trained trained = train_map(train, train_config);
    const double sigma = trained.sigma;
    const double train_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << "MAP: " << o.epochs << " Adam steps in " << std::fixed << std::setprecision(1)
              << train_s << " s; learned noise sigma = " << std::setprecision(4) << sigma
              << " (true " << kNoiseStd << "), training NLL " << trained.train_nll << "\n";

    const std::int64_t grid_n = 241;  // step 0.025 on [−3, 3]
    const Tensor grid = arange(0, static_cast<double>(grid_n), 1, DType::f64);
    const Tensor grid_x =
        add(mul(grid, 6.0 / static_cast<double>(grid_n - 1)), -3.0).view({grid_n, 1});
    MethodsConfig methods_config;
    methods_config.prior_precision = o.prior_precision;
    methods_config.tune_prior = o.tune_prior;
    methods_config.seed = o.seed;
    methods_config.variances =
        o.variances == "swag" ? VarianceEstimate::swag : VarianceEstimate::diagonal_laplace;
    methods_config.swag.lr = o.swag_lr;
    methods_config.swag.seed = o.seed + 3000;
    const auto results =
        fit_methods(*trained.model, sigma, train, {grid_x, test.x, test_gap.x}, methods_config);

    // predictions.csv and the per-method summaries.
    const std::vector<double> xs = column(grid_x);
    std::vector<std::vector<double>> means, stds, fstds;
    std::vector<Summary> summaries;
    for (const auto& r : results) {
        const auto& g = r.predictions[0];
        means.push_back(column(g.mean));
        std::vector<double> f_var = column(g.covariance);
        std::vector<double> s(f_var.size()), fs(f_var.size());
        Summary sm;
        std::int64_t inside = 0, between = 0;
        for (std::size_t i = 0; i < f_var.size(); ++i) {
            fs[i] = std::sqrt(std::max(f_var[i], 0.0));
            s[i] = std::sqrt(std::max(f_var[i], 0.0) + sigma * sigma);
            const double ax = std::abs(xs[i]);
            if (ax >= kClusterInner && ax <= kClusterOuter) {
                sm.std_inside += s[i];
                sm.fstd_inside += fs[i];
                ++inside;
            } else if (ax < kClusterInner) {
                sm.std_between += s[i];
                sm.fstd_between += fs[i];
                ++between;
            }
        }
        sm.std_inside /= static_cast<double>(inside);
        sm.fstd_inside /= static_cast<double>(inside);
        sm.std_between /= static_cast<double>(between);
        sm.fstd_between /= static_cast<double>(between);
        auto ll = [&](const inference::FunctionalPosterior& f, const Data& d) {
            std::vector<double> var = column(f.covariance);
            for (double& v : var) v = std::max(v, 0.0) + sigma * sigma;
            return mean_log_likelihood(column(d.y), column(f.mean), var);
        };
        sm.ll_clusters = ll(r.predictions[1], test);
        sm.ll_gap = ll(r.predictions[2], test_gap);
        stds.push_back(s);
        fstds.push_back(fs);
        summaries.push_back(sm);
    }
    {
        std::ofstream csv(o.out_dir + "/predictions.csv");
        csv << "x,true_f";
        for (const auto& r : results)
            csv << ',' << r.name << " mean," << r.name << " std," << r.name << " f_std";
        csv << '\n' << std::setprecision(8);
        for (std::size_t i = 0; i < xs.size(); ++i) {
            csv << xs[i] << ',' << true_function(xs[i]);
            for (std::size_t m = 0; m < results.size(); ++m)
                csv << ',' << means[m][i] << ',' << stds[m][i] << ',' << fstds[m][i];
            csv << '\n';
        }
        POSTR_CHECK(csv.good(), "toy_regression: writing \"", o.out_dir,
                    "/predictions.csv\" failed. Check the folder");
    }
    {
        std::ofstream csv(o.out_dir + "/summary.csv");
        csv << "method,parameters,prior_precision,std_inside,std_between,std_ratio,f_std_inside,"
               "f_std_between,f_std_ratio,test_ll_clusters,test_ll_gap\n"
            << std::setprecision(6);
        for (std::size_t m = 0; m < results.size(); ++m) {
            const auto& s = summaries[m];
            csv << results[m].name << ',' << results[m].parameters << ','
                << results[m].prior_precision << ',' << s.std_inside << ',' << s.std_between << ','
                << s.std_between / s.std_inside << ',' << s.fstd_inside << ',' << s.fstd_between
                << ',';
            if (s.fstd_inside > 0) csv << s.fstd_between / s.fstd_inside;
            csv << ',' << s.ll_clusters << ',' << s.ll_gap << '\n';
        }
        POSTR_CHECK(csv.good(), "toy_regression: writing \"", o.out_dir,
                    "/summary.csv\" failed. Check the folder");
    }

    // plot.svg: one panel per method, a shared y range so the bands compare at a glance.
    svg::Figure figure;
    {
        std::ostringstream title;
        title << std::setprecision(3) << "Predictive mean and ±2σ (learned noise σ = " << sigma
              << " included), prior precision λ "
              << (o.tune_prior ? std::string("tuned per method")
                               : "= " + std::to_string(o.prior_precision).substr(0, 4));
        figure.title = title.str();
    }
    figure.columns = 3;
    figure.panel_width = 300;
    figure.panel_height = 230;
    std::vector<double> truth;
    for (double x : xs) truth.push_back(true_function(x));
    // Panels in rows of one family each (full, diagonal, last layer; Wasserstein; curvature;
    // random), the MAP last.
    std::vector<std::size_t> order;
    for (std::size_t m = 1; m < results.size(); ++m) order.push_back(m);
    order.push_back(0);
    for (std::size_t m : order) {
        const std::string& name = results[m].name;
        std::string color = "#1f77b4";
        if (name == "MAP")
            color = "#7f7f7f";
        else if (name.starts_with("full"))
            color = "#1f3b99";
        else if (name.starts_with("diagonal"))
            color = "#ff7f0e";
        else if (name.starts_with("last"))
            color = "#9467bd";
        else if (name.starts_with("Wasserstein"))
            color = "#2ca02c";
        else if (name.starts_with("curvature"))
            color = "#17becf";
        else if (name.starts_with("random"))
            color = "#d62728";
        svg::Panel& p = figure.panels.emplace_back();
        p.title =
            name + (results[m].parameters > 0 ? " (" + std::to_string(results[m].parameters) + ")"
                                              : std::string());
        p.x_label = "x";
        if (figure.panels.size() % static_cast<std::size_t>(figure.columns) == 1) p.y_label = "y";
        p.x_range = {{-3.0, 3.0}};
        p.y_range = {{-3.0, 3.0}};
        std::vector<double> lo, hi;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            lo.push_back(means[m][i] - 2 * stds[m][i]);
            hi.push_back(means[m][i] + 2 * stds[m][i]);
        }
        p.bands.push_back({.x = xs, .lower = lo, .upper = hi, .color = color, .label = "±2σ"});
        p.lines.push_back({.x = xs,
                           .y = truth,
                           .color = "#999999",
                           .width = 1,
                           .dashed = true,
                           .label = "sin(3x)"});
        p.lines.push_back({.x = xs, .y = means[m], .color = color, .label = "mean"});
        p.points.push_back({.x = column(train.x),
                            .y = column(train.y),
                            .color = "#222222",
                            .radius = 1.8,
                            .label = "training data"});
        p.legend = figure.panels.size() == 1;
    }
    svg::write_svg(figure, o.out_dir + "/plot.svg");

    // The table.
    std::cout << "\n"
              << std::left << std::setw(18) << "method" << std::right << std::setw(7) << "S"
              << std::setw(10) << "lambda" << std::setw(11) << "f_std in" << std::setw(11)
              << "f_std gap" << std::setw(8) << "ratio" << std::setw(11) << "std ratio"
              << std::setw(10) << "LL clus" << std::setw(10) << "LL gap"
              << "\n";
    for (std::size_t m = 0; m < results.size(); ++m) {
        const auto& s = summaries[m];
        std::cout << std::left << std::setw(18) << results[m].name << std::right << std::setw(7)
                  << results[m].parameters << std::setw(10) << std::setprecision(3)
                  << results[m].prior_precision << std::setw(11) << s.fstd_inside << std::setw(11)
                  << s.fstd_between << std::setw(8) << std::setprecision(2);
        if (s.fstd_inside > 0)
            std::cout << s.fstd_between / s.fstd_inside;
        else
            std::cout << "-";
        std::cout << std::setw(11) << s.std_between / s.std_inside << std::setw(10)
                  << std::setprecision(3) << s.ll_clusters << std::setw(10) << s.ll_gap << "\n";
    }
    std::cout << "\n(f_std: the linearized function's std; std adds the noise σ. 'in': the grid "
                 "inside the clusters, 'gap': between them.)\nwrote "
              << o.out_dir << "/predictions.csv, summary.csv, plot.svg in " << std::setprecision(1)
              << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
    return 0;
}

}  // namespace
}  // namespace postr::examples::toy

int main(int argc, char** argv) {
    using namespace postr::examples::toy;
    try {
        const Options options = parse_options(argc, argv);
        if (options.help) {
            std::cout << kUsage;
            return 0;
        }
        return run(options);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
}
