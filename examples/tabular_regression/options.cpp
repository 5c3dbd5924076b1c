#include "examples/tabular_regression/options.h"

#include <initializer_list>
#include <sstream>
#include <string_view>

#include "postr/core/error.h"

#include "examples/common/cli.h"

namespace postr::examples::tabular {
namespace {

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    return examples::parse_number<T>("tabular_regression", flag, text);
}

std::vector<std::string> parse_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

void check_choices(std::string_view flag, const std::vector<std::string>& values,
                   std::initializer_list<std::string_view> choices) {
    POSTR_CHECK(!values.empty(), "tabular_regression: ", flag, " needs at least one entry");
    for (const std::string& v : values) {
        bool ok = false;
        for (auto c : choices) ok = ok || v == c;
        std::ostringstream list;
        for (auto c : choices) list << ' ' << c;
        POSTR_CHECK(ok, "tabular_regression: ", flag, " entries must be among", list.str(),
                    ": got \"", v, "\". See --help");
    }
}

}  // namespace

std::string usage() {
    return R"(Subnetwork linearized Laplace on a tabular regression data set (Daxberger et al.,
ICML 2021, Section 5.3): test log-likelihood and RMSE against the subnetwork size S.

An MLP with one hidden layer of ReLU units is trained at the MAP with a Gaussian likelihood
and a learned noise; then for each S, Wasserstein and random subnetwork Laplace (and the
diagonal Laplace, last-layer Laplace and optionally the full Laplace as references) are fitted
with the prior precision and the noise sigma tuned by the evidence (MacKay updates).

Usage: tabular_regression --csv PATH [flags]
       tabular_regression --make-synthetic PATH [--synthetic-rows N] [--seed N]
  --csv PATH             numeric CSV with a header row (read by io::read_csv)
  --delimiter C          field separator (default ','; UCI wine quality: ';')
  --target NAME          target column (default: the last column)
  --out-dir DIR          where results.csv and test_ll.svg go (default build/tabular_regression)
  --split-types LIST     standard, gap or both (default standard,gap)
  --splits N             random 90/10 splits for "standard" (default 5)
  --test-fraction X      held-out fraction of a standard split (default 0.1)
  --gap-features N       gap splits for the first N features only (default 0: every feature)
  --hidden N             hidden units (default 50)
  --epochs N             Adam passes over the training split (default 100)
  --batch-size N         (default 32)
  --lr X                 Adam's peak learning rate, cosine decay to lr/100 (default 1e-2)
  --prior-precision X    lambda of the N(0, 1/lambda) prior of the MAP training (default 1)
  --fractions LIST       subnetwork sizes as fractions of the candidate weights
                         (default 0.01,0.05,0.1,0.25,0.5,1)
  --methods LIST         among wasserstein, random, curvature (largest GGN diagonal),
                         diagonal, last_layer, full (default wasserstein,random,diagonal,
                         last_layer)
  --variances NAME       marginal variances for the Wasserstein rule: swag (diagonal SWAG from
                         10 epochs of SGD at the MAP, the paper's choice; default) or laplace
                         (the diagonal Laplace's 1/(diag G + lambda): favours weights the
                         output does not depend on, e.g. of dead ReLU units)
  --include-biases       biases are subnetwork candidates too (default: weights only)
  --hyper-iterations N   MacKay iterations for lambda and sigma (default 100)
  --seed N               splits, initialization, random subnetworks (default 0)
  --threads N            CPU threads (default 0: all cores)
  --make-synthetic PATH  write a synthetic data set (4 features, y = a smooth function plus
                         N(0, 0.3^2) noise) to PATH, then exit, or go on to run on --csv when
                         it is given too
  --synthetic-rows N     rows of the synthetic data set (default 500)
  --help                 this text
)";
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> std::string {
            POSTR_CHECK(i + 1 < argc, "tabular_regression: ", flag, " needs a value. See --help");
            return argv[++i];
        };
        if (flag == "--help" || flag == "-h") {
            o.help = true;
        } else if (flag == "--csv") {
            o.csv = value();
        } else if (flag == "--delimiter") {
            const std::string d = value();
            const bool tab = d == "\\t" || d == "tab";
            POSTR_CHECK(tab || d.size() == 1,
                        "tabular_regression: --delimiter expects one "
                        "character (or \\t, tab): got \"",
                        d, "\". See --help");
            o.delimiter = tab ? '\t' : d[0];
        } else if (flag == "--target") {
            o.target = value();
        } else if (flag == "--out-dir") {
            o.out_dir = value();
        } else if (flag == "--make-synthetic") {
            o.make_synthetic = value();
        } else if (flag == "--synthetic-rows") {
            o.synthetic_rows = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--split-types") {
            o.split_types = parse_list(value());
            check_choices(flag, o.split_types, {"standard", "gap"});
        } else if (flag == "--splits") {
            o.splits = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--test-fraction") {
            o.test_fraction = parse_number<double>(flag, value());
        } else if (flag == "--gap-features") {
            o.max_gap_features = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--hidden") {
            o.hidden = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--epochs") {
            o.epochs = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--batch-size") {
            o.batch_size = parse_number<std::int64_t>(flag, value());
        } else if (flag == "--lr") {
            o.lr = parse_number<double>(flag, value());
        } else if (flag == "--prior-precision") {
            o.prior_precision = parse_number<double>(flag, value());
        } else if (flag == "--fractions") {
            o.fractions.clear();
            for (const std::string& f : parse_list(value()))
                o.fractions.push_back(parse_number<double>(flag, f));
        } else if (flag == "--methods") {
            o.methods = parse_list(value());
            check_choices(flag, o.methods,
                          {"wasserstein", "random", "curvature", "diagonal", "last_layer", "full"});
        } else if (flag == "--variances") {
            o.variances = value();
            check_choices(flag, {o.variances}, {"laplace", "swag"});
        } else if (flag == "--include-biases") {
            o.include_biases = true;
        } else if (flag == "--hyper-iterations") {
            o.hyper_iterations = parse_number<int>(flag, value());
        } else if (flag == "--seed") {
            o.seed = parse_number<std::uint64_t>(flag, value());
        } else if (flag == "--threads") {
            o.threads = parse_number<int>(flag, value());
        } else {
            POSTR_CHECK(false, "tabular_regression: unknown flag \"", flag, "\". See --help");
        }
    }
    if (o.help) return o;
    POSTR_CHECK(!o.csv.empty() || !o.make_synthetic.empty(),
                "tabular_regression: --csv PATH is required (or --make-synthetic PATH). "
                "See --help");
    POSTR_CHECK(o.synthetic_rows >= 10, "tabular_regression: --synthetic-rows must be ≥ 10");
    POSTR_CHECK(o.splits >= 1 && o.test_fraction > 0 && o.test_fraction < 1,
                "tabular_regression: needs --splits ≥ 1 and 0 < --test-fraction < 1: got ",
                o.splits, " and ", o.test_fraction);
    POSTR_CHECK(o.hidden >= 1 && o.epochs >= 1 && o.batch_size >= 1 && o.lr > 0 &&
                    o.prior_precision > 0 && o.hyper_iterations >= 1 && o.max_gap_features >= 0,
                "tabular_regression: --hidden, --epochs, --batch-size, --hyper-iterations must "
                "be ≥ 1, --gap-features ≥ 0, --lr and --prior-precision > 0. See --help");
    POSTR_CHECK(!o.fractions.empty(), "tabular_regression: --fractions needs an entry");
    for (double f : o.fractions)
        POSTR_CHECK(f > 0 && f <= 1, "tabular_regression: --fractions must lie in (0, 1]: got ", f);
    return o;
}

}  // namespace postr::examples::tabular
