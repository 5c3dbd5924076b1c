#include "postr/autodiff/gradcheck.h"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "postr/autodiff/graph.h"
#include "postr/core/error.h"
#include "postr/kernels/ops.h"

namespace postr {
namespace {

const double kCbrtEps = std::cbrt(std::numeric_limits<double>::epsilon());

std::vector<Tensor> host_copies(const std::vector<Tensor>& inputs, const char* op) {
    std::vector<Tensor> out;
    for (const Tensor& t : inputs) {
        check_defined(op, "input", t);
        check_dtype(op, "input", t, DType::f64);
        out.push_back(t.contiguous().clone());
    }
    return out;
}

Tensor evaluate(const MultiVarFn& f, const std::vector<Tensor>& xs) {
    NoGradGuard no_graph;
    std::vector<Var> vars(xs.begin(), xs.end());
    return f(vars).value().contiguous();
}

// A random direction of t's shape (seeded), on t's device.
Tensor random_like(const Tensor& t, std::mt19937_64& rng) {
    std::normal_distribution<double> dist;
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (auto& x : v) x = dist(rng);
    return Tensor::from_vector(v, t.shape()).to(t.device());
}

// Central difference of f along direction d of input i (all outputs), step h.
std::vector<double> difference(const MultiVarFn& f, std::vector<Tensor> xs, std::size_t i,
                               const Tensor& d, double h) {
    Tensor base = xs[i];
    xs[i] = add(base, mul(d, h));
    std::vector<double> plus = evaluate(f, xs).to_vector<double>();
    xs[i] = add(base, mul(d, -h));
    std::vector<double> minus = evaluate(f, xs).to_vector<double>();
    for (std::size_t k = 0; k < plus.size(); ++k) plus[k] = (plus[k] - minus[k]) / (2 * h);
    return plus;
}

struct Compare {
    const GradcheckOptions& o;
    GradcheckResult result;
    void operator()(double analytic, double numeric, const std::string& where) {
        if (!result.ok) return;
        double diff = std::abs(analytic - numeric);
        if (diff <= o.atol + o.rtol * std::abs(numeric)) return;
        std::ostringstream s;
        s.precision(12);
        s << where << ": analytic " << analytic << " vs numeric " << numeric << " (|diff| " << diff
          << ", allowed " << o.atol + o.rtol * std::abs(numeric) << ")";
        result = {false, s.str()};
    }
};

// Unit vector e_j of t's shape, or the j-th of the random directions for large inputs.
Tensor direction(const Tensor& x, std::int64_t j, bool full, std::mt19937_64& rng) {
    if (!full) return random_like(x, rng);
    std::vector<double> e(static_cast<std::size_t>(x.numel()), 0.0);
    e[static_cast<std::size_t>(j)] = 1.0;
    return Tensor::from_vector(e, x.shape()).to(x.device());
}

double step_for(const Tensor& x, std::int64_t j, bool full) {
    double scale = 1.0;
    if (full)
        scale = std::max(1.0, std::abs(x.reshape({-1})[j].item()));
    else
        scale = std::max(1.0, max(abs(x)).item());
    return kCbrtEps * scale;
}

}  // namespace

GradcheckResult gradcheck(const MultiVarFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
    std::vector<Tensor> xs = host_copies(inputs, "gradcheck");
    std::mt19937_64 rng(options.seed);
    Compare compare{options, {}};
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.emplace_back(x, true);
    Var y = f(vars);
    const std::int64_t m = y.numel();
    const bool full_out = m <= options.full_limit;
    const std::int64_t n_out = full_out ? m : options.directions;
    // Cotangents: unit vectors (full) or random ones; their pullbacks, per input.
    std::vector<Tensor> cotangents;
    std::vector<std::vector<Tensor>> pullbacks;
    for (std::int64_t o = 0; o < n_out; ++o) {
        Tensor u = direction(y.value(), o, full_out, rng);
        std::vector<Tensor> g;
        if (y.requires_grad()) {
            for (const Var& v : grad({y}, vars, {u}, true)) g.push_back(v.value());
        } else {
            for (const Tensor& x : xs) g.push_back(zeros_like(x));
        }
        cotangents.push_back(u);
        pullbacks.push_back(std::move(g));
    }
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const bool full_in = xs[i].numel() <= options.full_limit;
        const std::int64_t n_in = full_in ? xs[i].numel() : options.directions;
        for (std::int64_t j = 0; j < n_in; ++j) {
            Tensor d = direction(xs[i], j, full_in, rng);
            std::vector<double> jd = difference(f, xs, i, d, step_for(xs[i], j, full_in));
            for (std::int64_t o = 0; o < n_out; ++o) {
                std::vector<double> u = cotangents[static_cast<std::size_t>(o)].to_vector<double>();
                double numeric = 0;
                for (std::size_t k = 0; k < u.size(); ++k) numeric += u[k] * jd[k];
                double analytic = sum(mul(pullbacks[static_cast<std::size_t>(o)][i], d)).item();
                std::ostringstream where;
                where << "gradcheck: input " << i << " (shape " << to_string(xs[i].shape()) << ") "
                      << (full_in ? "entry " : "direction ") << j << ", output "
                      << (full_out ? "entry " : "direction ") << o;
                compare(analytic, numeric, where.str());
            }
        }
    }
    return compare.result;
}

GradcheckResult jvpcheck(const MultiVarFn& f, const std::vector<Tensor>& inputs,
                         const GradcheckOptions& options) {
    std::vector<Tensor> xs = host_copies(inputs, "jvpcheck");
    std::mt19937_64 rng(options.seed + 1);
    Compare compare{options, {}};
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const bool full_in = xs[i].numel() <= options.full_limit;
        const std::int64_t n_in = full_in ? xs[i].numel() : options.directions;
        for (std::int64_t j = 0; j < n_in; ++j) {
            Tensor d = direction(xs[i], j, full_in, rng);
            std::vector<Var> vars(xs.begin(), xs.end());
            vars[i] = Var(xs[i]);
            vars[i].set_tangent(d);
            Var y;
            {
                NoGradGuard no_graph;
                y = f(vars);
            }
            std::vector<double> analytic =
                y.tangent().defined()
                    ? y.tangent().value().to_vector<double>()
                    : std::vector<double>(static_cast<std::size_t>(y.numel()), 0.0);
            std::vector<double> numeric = difference(f, xs, i, d, step_for(xs[i], j, full_in));
            for (std::size_t k = 0; k < numeric.size(); ++k) {
                std::ostringstream where;
                where << "jvpcheck: input " << i << " (shape " << to_string(xs[i].shape()) << ") "
                      << (full_in ? "entry " : "direction ") << j << ", output entry " << k;
                compare(analytic[k], numeric[k], where.str());
            }
        }
    }
    return compare.result;
}

}  // namespace postr
