// The differentiable ops: the same names and semantics as postr/kernels/ops.h, on Vars. Each
// records a reverse-mode node (when an input requires grad and grad mode is on) and pushes a
// tangent (when an input carries one). Both rules of every op are written with these ops, so
// a backward pass can itself be differentiated (create_graph). Shapes, dtypes and errors are
// those of the kernel op of the same name.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "postr/autodiff/var.h"
#include "postr/kernels/ops.h"

namespace postr {

// Every differentiable op, by name: the op table in tests/support covers exactly this list.
inline constexpr std::array kDifferentiableOps = {
    std::string_view("add"),
    std::string_view("sub"),
    std::string_view("mul"),
    std::string_view("div"),
    std::string_view("pow"),
    std::string_view("maximum"),
    std::string_view("minimum"),
    std::string_view("add_scalar"),
    std::string_view("mul_scalar"),
    std::string_view("pow_scalar"),
    std::string_view("neg"),
    std::string_view("abs"),
    std::string_view("square"),
    std::string_view("exp"),
    std::string_view("log"),
    std::string_view("log1p"),
    std::string_view("expm1"),
    std::string_view("sqrt"),
    std::string_view("rsqrt"),
    std::string_view("reciprocal"),
    std::string_view("tanh"),
    std::string_view("sigmoid"),
    std::string_view("relu"),
    std::string_view("softplus"),
    std::string_view("clamp"),
    std::string_view("where"),
    std::string_view("sum"),
    std::string_view("mean"),
    std::string_view("var"),
    std::string_view("logsumexp"),
    std::string_view("norm"),
    std::string_view("max"),
    std::string_view("min"),
    std::string_view("matmul"),
    std::string_view("reshape"),
    std::string_view("permute"),
    std::string_view("slice"),
    std::string_view("select"),
    std::string_view("expand"),
    std::string_view("squeeze"),
    std::string_view("unsqueeze"),
    std::string_view("softmax"),
    std::string_view("log_softmax"),
    std::string_view("index_select"),
    std::string_view("gather"),
    std::string_view("scatter_add"),
    std::string_view("cat"),
    std::string_view("conv2d"),
    std::string_view("conv2d_backward_input"),
    std::string_view("conv2d_backward_weight"),
    std::string_view("max_pool2d"),
    std::string_view("max_pool2d_backward"),
    std::string_view("avg_pool2d"),
    std::string_view("avg_pool2d_backward"),
    std::string_view("adaptive_avg_pool2d"),
    std::string_view("adaptive_avg_pool2d_backward"),
    std::string_view("batch_norm"),
    std::string_view("cholesky"),
    std::string_view("triangular_solve"),
    std::string_view("cholesky_solve"),
    std::string_view("cholesky_logdet"),
    std::string_view("cholesky_inverse"),
};

// ---- elementwise (broadcasting; cotangents are summed back to each input's shape) ----
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var pow(const Var& a, const Var& b);      // ∂/∂b uses log a: keep a > 0 where b matters
Var maximum(const Var& a, const Var& b);  // ties send the cotangent to a
Var minimum(const Var& a, const Var& b);  // ties send the cotangent to a
Var add(const Var& x, double s);
Var mul(const Var& x, double s);
Var pow(const Var& x, double exponent);
Var neg(const Var& x);
Var abs(const Var& x);  // subgradient 0 at 0
Var square(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var log1p(const Var& x);
Var expm1(const Var& x);
Var sqrt(const Var& x);
Var rsqrt(const Var& x);
Var reciprocal(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);  // subgradient 0 at 0
Var softplus(const Var& x);
Var clamp(const Var& x, double low, double high);  // gradient 1 on [low, high], 0 outside
// cond is a constant mask (any dtype, nonzero = true).
Var where(const Tensor& cond, const Var& a, const Var& b);

// ---- reductions ----
Var sum(const Var& x, const std::vector<int>& dims = {}, bool keepdim = false);
Var mean(const Var& x, const std::vector<int>& dims = {}, bool keepdim = false);
Var var(const Var& x, const std::vector<int>& dims = {}, std::int64_t correction = 1,
        bool keepdim = false);
Var logsumexp(const Var& x, const std::vector<int>& dims, bool keepdim = false);
// p = 2 (gradient x/‖x‖, 0 at x = 0), 1 (sign x) or inf (to the first max |x|).
Var norm(const Var& x, double p = 2.0, const std::vector<int>& dims = {}, bool keepdim = false);
struct VarValuesIndices {
    Var values;
    Tensor indices;  // i64, not differentiable
};
// Along dim; the cotangent goes to the first extremum.
VarValuesIndices max(const Var& x, int dim, bool keepdim = false);
VarValuesIndices min(const Var& x, int dim, bool keepdim = false);

// ---- matmul ----
Var matmul(const Var& a, const Var& b);

// ---- views (the cotangent is mapped back through the same view) ----
Var reshape(const Var& x, const Shape& shape);
Var flatten(const Var& x);
Var permute(const Var& x, const std::vector<int>& dims);
Var transpose(const Var& x, int dim0, int dim1);
Var slice(const Var& x, int dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Var narrow(const Var& x, int dim, std::int64_t start, std::int64_t length);
Var select(const Var& x, int dim, std::int64_t index);
Var expand(const Var& x, const Shape& shape);
Var squeeze(const Var& x, int dim);
Var unsqueeze(const Var& x, int dim);

// ---- softmax ----
Var softmax(const Var& x, int dim);
Var log_softmax(const Var& x, int dim);

// ---- indexing (index tensors are constants) ----
Var index_select(const Var& x, int dim, const Tensor& index);
Var gather(const Var& x, int dim, const Tensor& index);
Var scatter_add(const Var& x, int dim, const Tensor& index, const Var& src);
Var cat(const std::vector<Var>& xs, int dim);

// ---- convolution and pooling (rules in autodiff/rules/conv.cpp and pool.cpp) ----
// bias may be an undefined Var (no bias).
Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dOptions& options = {});
// The two adjoints of conv2d, differentiable themselves (so conv2d has second derivatives).
Var conv2d_backward_input(const Var& grad_out, const Var& weight, const Shape& input_shape,
                          const Conv2dOptions& options = {});
Var conv2d_backward_weight(const Var& grad_out, const Var& x, const Shape& weight_shape,
                           const Conv2dOptions& options = {});
// Cotangents go to the argmax of each window (indices are constants).
VarValuesIndices max_pool2d(const Var& x, const Pool2dOptions& options);
Var max_pool2d_backward(const Var& grad_out, const Tensor& indices, const Shape& input_shape);
Var avg_pool2d(const Var& x, const Pool2dOptions& options);
Var avg_pool2d_backward(const Var& grad_out, const Shape& input_shape,
                        const Pool2dOptions& options);
Var adaptive_avg_pool2d(const Var& x, std::int64_t out_h, std::int64_t out_w);
Var adaptive_avg_pool2d_backward(const Var& grad_out, const Shape& input_shape);

// ---- batch normalization (rules in autodiff/rules/batchnorm.cpp) ----
// training: normalize with batch statistics (differentiated through) and update the running
// statistics in place; otherwise normalize with the running statistics (constants).
// weight and bias may be undefined Vars (then 1 and 0).
Var batch_norm(const Var& x, const Var& weight, const Var& bias, Tensor& running_mean,
               Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- linear algebra (rules in autodiff/rules/linalg.cpp) ----
// The input is symmetrized from its lower triangle's point of view: only the lower triangle of
// a is read, and its cotangent is symmetric.
Var cholesky(const Var& a);
Var triangular_solve(const Var& a, const Var& b, bool lower = true, bool transpose = false,
                     bool unit_diagonal = false);
Var cholesky_solve(const Var& b, const Var& l);
Var cholesky_logdet(const Var& l);
Var cholesky_inverse(const Var& l);

// Sums a (possibly broadcast) cotangent back to `shape`, keeping `batch` leading dims.
// The reduce-to-shape step of every broadcasting rule.
Var sum_to(const Var& g, int batch, const Shape& shape);

}  // namespace postr
