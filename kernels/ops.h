// The public, non-differentiable tensor ops. Each dispatches on the device of its inputs to a
// CPU or CUDA implementation with the same signature (kernels/<family>.h). Unless an op says
// otherwise:
//   - floating ops take f32 or f64; binary ops need equal dtypes (no implicit promotion) and
//     inputs on the same device; the output is a fresh contiguous tensor on that device;
//   - binary elementwise ops broadcast NumPy-style;
//   - bad input throws postr::Error naming the op, the argument and the shapes.
// Differentiable versions of these ops live in postr/autodiff/ops.h under the same names.
#pragma once

#include <cstdint>
#include <vector>

#include "postr/core/philox.h"
#include "postr/core/tensor.h"

namespace postr {

// ============================== creation and random ==============================
// Values start, start+step, ... < end. f32/f64/i64.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::i64,
              Device device = Device::cpu());
// The n×n identity.
Tensor eye(std::int64_t n, DType dtype = DType::f32, Device device = Device::cpu());
// Random draws from a counter-based Philox stream: the same seed gives the same numbers on the
// CPU and the GPU. Each draw advances `gen` by the number of elements drawn.
// Uniform on [low, high). f32/f64.
Tensor uniform(const Shape& shape, Generator& gen, double low = 0.0, double high = 1.0,
               DType dtype = DType::f32, Device device = Device::cpu());
// Normal with the given mean and standard deviation (Box–Muller). f32/f64.
Tensor normal(const Shape& shape, Generator& gen, double mean = 0.0, double stddev = 1.0,
              DType dtype = DType::f32, Device device = Device::cpu());
// 1 with probability p[i], else 0, in p's dtype, shape and device. p in [0, 1].
Tensor bernoulli(const Tensor& p, Generator& gen);
// Integers uniform on [low, high), i64. Throws if high <= low.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               Device device = Device::cpu());

// ============================== elementwise ==============================
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // floating only
Tensor pow(const Tensor& a, const Tensor& b);  // floating only; a^b
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// With a scalar operand (cast to x's dtype).
Tensor add(const Tensor& x, double s);
Tensor mul(const Tensor& x, double s);
Tensor pow(const Tensor& x, double exponent);

// Unary. neg, abs, square also accept i64; the rest are floating only.
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);      // subgradient 0 at 0
Tensor softplus(const Tensor& x);  // log(1 + e^x), stable for large |x|
Tensor clamp(const Tensor& x, double low, double high);
// ReLU's backward from its output: grad_out where output > 0, else 0 (so 0 at x = 0); the two
// broadcast together (e.g. a batch of cotangents [K, ...] against output [...]); one dtype.
Tensor relu_backward(const Tensor& grad_out, const Tensor& output);

// cond ? a : b, all three broadcast together; cond of any dtype (nonzero is true); a and b of
// one dtype, which is the output's.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// Comparisons return 1 or 0 in the (shared) dtype of a and b, so the result is directly usable
// as an arithmetic mask and as `where`'s condition.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// In-place fused updates for optimizers and samplers; y is modified, x/a/b broadcast to y's
// shape. f32/f64, y any layout.
void axpy_(Tensor& y, double alpha, const Tensor& x);                      // y ← y + α·x
void axpby_(Tensor& y, double alpha, const Tensor& x, double beta);        // y ← α·x + β·y
void addcmul_(Tensor& y, double value, const Tensor& a, const Tensor& b);  // y ← y + v·a·b
void addcdiv_(Tensor& y, double value, const Tensor& a, const Tensor& b);  // y ← y + v·a/b
void scale_(Tensor& y, double alpha);                                      // y ← α·y

// ============================== reductions ==============================
// Reductions over `dims` (negative allowed; empty = all dims). keepdim keeps reduced dims as
// size 1. Summation is pairwise on the CPU (bitwise identical for any thread count) and a tree
// on the GPU. sum of i64 is i64; the rest are floating only.
Tensor sum(const Tensor& x, const std::vector<int>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& dims = {}, bool keepdim = false);
// Variance with `correction` subtracted from the count (1 = unbiased, 0 = population).
Tensor var(const Tensor& x, const std::vector<int>& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);
// log Σ exp(x) along dims, stable for large |x|.
Tensor logsumexp(const Tensor& x, const std::vector<int>& dims, bool keepdim = false);
// p-norm over all elements or dims: p = 2 (default), 1, or inf (max |x|).
Tensor norm(const Tensor& x, double p = 2.0, const std::vector<int>& dims = {},
            bool keepdim = false);
// Largest/smallest element over all elements (rank-0 result). Throws on an empty tensor.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
struct ValuesIndices {
    Tensor values;
    Tensor indices;  // i64
};
// Along one dim: values and the index of the first extremum. NaN counts as the extremum.
ValuesIndices max(const Tensor& x, int dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int dim, bool keepdim = false);
// True when every element is finite (no NaN, no ±inf). i64 is always finite.
bool all_finite(const Tensor& x);
// Throws "<op>: <name> contains non-finite values ..." when !all_finite(t).
void check_finite(const char* op, const char* name, const Tensor& t);

// ============================== matmul ==============================
// a: [..., M, K], b: [..., K, N] → [..., M, N], batch dims broadcast. Rank-1 operands are
// treated as a row (a) or column (b) vector and that dim is dropped from the result.
// Transposed operands (from .t() or .transpose) are passed to BLAS as transposes, not copied.
Tensor matmul(const Tensor& a, const Tensor& b);
// c ← α·a·b + β·c in place; a: [M, K], b: [K, N], c: [M, N] (rank 2 only).
void gemm_(Tensor& c, const Tensor& a, const Tensor& b, double alpha = 1.0, double beta = 0.0);

// ============================== softmax ==============================
Tensor softmax(const Tensor& x, int dim);
Tensor log_softmax(const Tensor& x, int dim);
// labels: i64 [...] with values in [0, num_classes) → [..., num_classes] of `dtype`.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype = DType::f32);

// ============================== indexing ==============================
// x: [..., n, ...] (n along dim), index: i64 [m] → [..., m, ...].
Tensor index_select(const Tensor& x, int dim, const Tensor& index);
// out[i][j] = x[index[i][j]][j] for dim 0 (and so on); index has x's rank, i64.
Tensor gather(const Tensor& x, int dim, const Tensor& index);
// A copy of x with src added at index along dim (the adjoint of gather).
Tensor scatter_add(const Tensor& x, int dim, const Tensor& index, const Tensor& src);
// In place: x[index[i][j]][j] += src[i][j] (dim 0); duplicates accumulate.
void scatter_add_(Tensor& x, int dim, const Tensor& index, const Tensor& src);
// A copy of x with `value` where mask (broadcast to x, any dtype, nonzero = true) is set.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// Concatenation along dim; all other dims equal, same dtype and device.
Tensor cat(const std::vector<Tensor>& tensors, int dim);

// ============================== convolution and pooling ==============================
struct Conv2dOptions {
    std::int64_t stride_h = 1, stride_w = 1;
    std::int64_t pad_h = 0, pad_w = 0;
    std::int64_t dilation_h = 1, dilation_w = 1;
};
// x: [N, C_in, H, W], weight: [C_out, C_in, kH, kW], bias: [C_out] or undefined
// → [N, C_out, H_out, W_out], H_out = (H + 2·pad_h − dilation_h·(kH−1) − 1)/stride_h + 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options = {});
// Gradient of conv2d w.r.t. its input (shape input_shape) and w.r.t. its weight (weight_shape),
// given grad_out: [N, C_out, H_out, W_out]. The bias gradient is sum(grad_out, {0, 2, 3}).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             const Conv2dOptions& options = {});
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options = {});

struct Pool2dOptions {
    std::int64_t kernel_h = 2, kernel_w = 2;
    std::int64_t stride_h = 2, stride_w = 2;
    std::int64_t pad_h = 0, pad_w = 0;
};
// x: [N, C, H, W] → values [N, C, H_out, W_out] and indices (i64, position h·W + w of each
// maximum within its plane). Padding is −inf.
ValuesIndices max_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& input_shape);
// Average over each window; padding counts as zeros in the divisor (PyTorch's default).
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape,
                           const Pool2dOptions& options);
// x: [N, C, H, W] → [N, C, out_h, out_w]; window i spans [⌊i·H/out_h⌋, ⌈(i+1)·H/out_h⌉).
Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t out_h, std::int64_t out_w);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape);

// ============================== batch normalization ==============================
// x: [N, C, ...]; weight, bias, running_mean, running_var: [C] (weight/bias may be undefined:
// then 1 and 0). Training mode normalizes with the batch statistics, updates the running
// statistics in place (running ← (1−momentum)·running + momentum·batch, with the unbiased batch
// variance, as PyTorch does), and returns what the backward needs.
struct BatchNormResult {
    Tensor out;          // x's shape
    Tensor save_mean;    // [C]
    Tensor save_invstd;  // [C], 1/sqrt(batch var (biased) + eps)
};
BatchNormResult batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 Tensor& running_mean, Tensor& running_var, double momentum,
                                 double eps);
// Evaluation mode: normalizes with the running statistics.
Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, double eps);
struct BatchNormGrads {
    Tensor grad_x;       // x's shape
    Tensor grad_weight;  // [C]
    Tensor grad_bias;    // [C]
};
// Backward of batch_norm_train (batch statistics depend on x).
BatchNormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd);

// ============================== linear algebra ==============================
// All take [..., n, n] (batched over leading dims) and read only the lower triangle of
// symmetric inputs. f32/f64.
// Lower Cholesky factor L with A = L·Lᵀ (upper triangle of the result is zero). Throws
// NotPositiveDefinite naming the first leading minor that is not positive definite.
Tensor cholesky(const Tensor& a);
// X with A·X = B from A's Cholesky factor l: [..., n, n], b: [..., n, k] → [..., n, k].
Tensor cholesky_solve(const Tensor& b, const Tensor& l);
// X with op(A)·X = B for triangular a: [..., n, n], b: [..., n, k], op(A) = A or Aᵀ.
Tensor triangular_solve(const Tensor& a, const Tensor& b, bool lower = true, bool transpose = false,
                        bool unit_diagonal = false);
// C ← α·AᵀA + β·C on the lower triangle only (the upper is left untouched);
// a: [M, n], c: [n, n]. The Gram/GGN accumulator: chunks of rows of A add up in one buffer.
void syrk_(Tensor& c, const Tensor& a, double alpha = 1.0, double beta = 1.0);
// Copies the lower triangle onto the upper, in place: [..., n, n].
void symmetrize_lower_(Tensor& c);
// log det A = 2 Σ log L_ii from A's Cholesky factor: [..., n, n] → [...].
Tensor cholesky_logdet(const Tensor& l);
// A⁻¹ (full, symmetric) from A's Cholesky factor: [..., n, n] → [..., n, n].
Tensor cholesky_inverse(const Tensor& l);
struct EighResult {
    Tensor eigenvalues;   // [..., n], ascending
    Tensor eigenvectors;  // [..., n, n], orthonormal columns: A = V·diag(w)·Vᵀ
};
// Eigendecomposition of a symmetric A (only the lower triangle is read), by LAPACK syevd on the
// CPU and cuSOLVER syevd on CUDA: [..., n, n] → {[..., n], [..., n, n]}. Each eigenvector's
// sign is whatever the solver returns (it may differ between devices). Throws postr::Error when
// the solver does not converge, naming the batch index.
EighResult eigh(const Tensor& a);

// ============================== top-k ==============================
// The k largest (or smallest) elements of a 1-D tensor (D up to 1e8) and their indices (i64),
// sorted from the most extreme; ties keep the lower index first. On CUDA a radix select, not a
// full sort. This is the Wasserstein subnetwork selection kernel.
ValuesIndices topk(const Tensor& x, std::int64_t k, bool largest = true);

// ============================== optimizer steps ==============================
// Fused in-place updates over a flat parameter vector: one pass (one kernel on CUDA) per step.
// param, grad and the state buffers share one shape, dtype (f32/f64) and device. The rules are
// PyTorch's (torch.optim.SGD, Adam, AdamW).
struct SgdOptions {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;  // L2 added to the gradient
    bool nesterov = false;
};
// momentum_buffer is read and written when momentum != 0; on the first step it is set to the
// (decayed) gradient, as PyTorch does.
void sgd_step_(Tensor& param, const Tensor& grad, Tensor& momentum_buffer,
               const SgdOptions& options, bool first_step);
struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool decoupled_weight_decay = false;  // AdamW
};
// step: the 1-based step count after this update (for bias correction).
void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                std::int64_t step, const AdamOptions& options);

}  // namespace postr
