// Public convolution, pooling and batch-norm ops: argument checks, output allocation and device
// dispatch. Kernels receive contiguous inputs, so strided callers pay one compact copy here.
#include <cstdint>
#include <utility>

#include "postr/config.h"
#include "postr/core/error.h"
#include "postr/kernels/batchnorm.h"
#include "postr/kernels/conv.h"
#include "postr/kernels/dispatch.h"
#include "postr/kernels/ops.h"
#include "postr/kernels/pool.h"

namespace postr {
namespace {

// Floating tensor of `rank` on `ref`'s device and dtype.
void check_operand(const char* op, const char* name, const Tensor& t, int rank,
                   const char* ref_name, const Tensor& ref) {
    check_defined(op, name, t);
    check_rank(op, name, t, rank);
    check_floating(op, name, t);
    if (&t != &ref) {
        check_same_dtype(op, name, t, ref_name, ref);
        check_same_device(op, name, t, ref_name, ref);
    }
}

// The [C] per-channel tensors of batch norm (undefined allowed).
void check_channel_vector(const char* op, const char* name, const Tensor& t, std::int64_t channels,
                          const Tensor& x) {
    if (!t.defined()) return;
    POSTR_CHECK(t.dim() == 1 && t.size(0) == channels, op, ": ", name, " must be [", channels,
                "] for x of shape ", to_string(x.shape()), ": got ", to_string(t.shape()),
                ". Pass one value per channel (dim 1 of x)");
    check_same_dtype(op, name, t, "x", x);
    check_same_device(op, name, t, "x", x);
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

void check_input_shape(const char* op, const Shape& input_shape) {
    POSTR_CHECK(input_shape.size() == 4, op, ": input_shape must have 4 dims [N, C, H, W]: got ",
                to_string(input_shape), ". Pass the shape of the forward input");
    for (auto s : input_shape)
        POSTR_CHECK(s >= 0, op, ": input_shape has a negative size: ", to_string(input_shape),
                    ". Pass the shape of the forward input");
}

// ---- convolution ----------------------------------------------------------------------------

void check_conv_options(const char* op, const Conv2dOptions& o) {
    POSTR_CHECK(o.stride_h >= 1 && o.stride_w >= 1, op, ": stride must be positive: got (",
                o.stride_h, ", ", o.stride_w, "). Use stride 1 for a dense convolution");
    POSTR_CHECK(o.dilation_h >= 1 && o.dilation_w >= 1, op, ": dilation must be positive: got (",
                o.dilation_h, ", ", o.dilation_w, "). Use dilation 1 for an ordinary kernel");
    POSTR_CHECK(o.pad_h >= 0 && o.pad_w >= 0, op, ": padding must be non-negative: got (", o.pad_h,
                ", ", o.pad_w, "). Crop the input instead");
}

// The output's spatial size; throws when the dilated kernel does not fit the padded input.
std::pair<std::int64_t, std::int64_t> conv_output_size(const char* op, const Shape& x_shape,
                                                       const Shape& w_shape,
                                                       const Conv2dOptions& o) {
    POSTR_CHECK(w_shape[2] >= 1 && w_shape[3] >= 1, op,
                ": weight has an empty kernel: ", to_string(w_shape), ". Pass kH, kW >= 1");
    std::int64_t eff_h = o.dilation_h * (w_shape[2] - 1) + 1;
    std::int64_t eff_w = o.dilation_w * (w_shape[3] - 1) + 1;
    std::int64_t padded_h = x_shape[2] + 2 * o.pad_h, padded_w = x_shape[3] + 2 * o.pad_w;
    POSTR_CHECK(eff_h <= padded_h && eff_w <= padded_w, op,
                ": kernel larger than padded input: dilated kernel is ", eff_h, "x", eff_w,
                ", padded input is ", padded_h, "x", padded_w, " (x is ", to_string(x_shape),
                ", weight is ", to_string(w_shape), ", padding (", o.pad_h, ", ", o.pad_w,
                ")). Pad the input or use a smaller kernel");
    return {(padded_h - eff_h) / o.stride_h + 1, (padded_w - eff_w) / o.stride_w + 1};
}

void check_conv_channels(const char* op, const Shape& x_shape, const Shape& w_shape,
                         const char* x_name) {
    POSTR_CHECK(x_shape[1] == w_shape[1], op, ": channel counts differ: ", x_name, " has ",
                x_shape[1], " channels, weight expects ", w_shape[1], ": ", x_name, " is ",
                to_string(x_shape), ", weight is ", to_string(w_shape),
                ". Check the layer's in_channels");
}

void check_grad_out_shape(const char* op, const Tensor& grad_out, const Shape& expected) {
    POSTR_CHECK(grad_out.shape() == expected, op,
                ": grad_out has the wrong shape: ", to_string(grad_out.shape()), ", expected ",
                to_string(expected), ". Pass the gradient of conv2d's output");
}

// ---- pooling --------------------------------------------------------------------------------

std::pair<std::int64_t, std::int64_t> pool_output_size(const char* op, const Shape& x_shape,
                                                       const Pool2dOptions& o) {
    POSTR_CHECK(o.kernel_h >= 1 && o.kernel_w >= 1, op, ": kernel size must be positive: got (",
                o.kernel_h, ", ", o.kernel_w, "). Pass kernel_h, kernel_w >= 1");
    POSTR_CHECK(o.stride_h >= 1 && o.stride_w >= 1, op, ": stride must be positive: got (",
                o.stride_h, ", ", o.stride_w, "). Pass stride_h, stride_w >= 1");
    // Every window then holds at least one real element, so a max is always defined.
    POSTR_CHECK(
        o.pad_h >= 0 && o.pad_w >= 0 && 2 * o.pad_h <= o.kernel_h && 2 * o.pad_w <= o.kernel_w, op,
        ": padding must be between 0 and half the kernel: got padding (", o.pad_h, ", ", o.pad_w,
        ") for kernel (", o.kernel_h, ", ", o.kernel_w, "). Reduce the padding");
    std::int64_t padded_h = x_shape[2] + 2 * o.pad_h, padded_w = x_shape[3] + 2 * o.pad_w;
    POSTR_CHECK(o.kernel_h <= padded_h && o.kernel_w <= padded_w, op,
                ": kernel larger than padded input: kernel is ", o.kernel_h, "x", o.kernel_w,
                ", padded input is ", padded_h, "x", padded_w, " (x is ", to_string(x_shape),
                "). Use a smaller kernel or more padding");
    return {(padded_h - o.kernel_h) / o.stride_h + 1, (padded_w - o.kernel_w) / o.stride_w + 1};
}

void check_pool_input(const char* op, const Tensor& x) {
    check_defined(op, "x", x);
    check_rank(op, "x", x, 4);
    check_floating(op, "x", x);
}

void check_pool_grad(const char* op, const Tensor& grad_out, const Shape& input_shape) {
    check_defined(op, "grad_out", grad_out);
    check_rank(op, "grad_out", grad_out, 4);
    check_floating(op, "grad_out", grad_out);
    check_input_shape(op, input_shape);
    POSTR_CHECK(grad_out.size(0) == input_shape[0] && grad_out.size(1) == input_shape[1], op,
                ": grad_out and input_shape differ in N or C: grad_out is ",
                to_string(grad_out.shape()), ", input_shape is ", to_string(input_shape),
                ". Pass the shape of the forward input");
}

// ---- batch norm -----------------------------------------------------------------------------

// x as [N, C, S], contiguous.
Tensor as_ncs(const Tensor& x) {
    std::int64_t s = 1;
    for (int d = 2; d < x.dim(); ++d) s *= x.size(d);
    return x.contiguous().view({x.size(0), x.size(1), s});
}

void check_batch_norm_input(const char* op, const Tensor& x, const Tensor& weight,
                            const Tensor& bias) {
    check_defined(op, "x", x);
    check_min_rank(op, "x", x, 2);
    check_floating(op, "x", x);
    check_channel_vector(op, "weight", weight, x.size(1), x);
    check_channel_vector(op, "bias", bias, x.size(1), x);
}

}  // namespace

// ============================== convolution ==============================

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
    const char* op = "conv2d";
    check_operand(op, "x", x, 4, "x", x);
    check_operand(op, "weight", weight, 4, "x", x);
    check_conv_options(op, options);
    check_conv_channels(op, x.shape(), weight.shape(), "x");
    if (bias.defined()) {
        POSTR_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op,
                    ": bias must be [C_out] = [", weight.size(0), "]: got ",
                    to_string(bias.shape()), " (weight is ", to_string(weight.shape()),
                    "). Pass one bias per output channel or an undefined tensor");
        check_same_dtype(op, "bias", bias, "x", x);
        check_same_device(op, "bias", bias, "x", x);
    }
    auto [h_out, w_out] = conv_output_size(op, x.shape(), weight.shape(), options);
    Tensor out = Tensor::empty({x.size(0), weight.size(0), h_out, w_out}, x.dtype(), x.device());
    Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = contiguous_or_undefined(bias);
    detail::dispatch(
        op, x, [&] { cpu::conv2d(xc, wc, bc, options, out); },
        [&] { cuda::conv2d(xc, wc, bc, options, out); });
    return out;
}

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             const Conv2dOptions& options) {
    const char* op = "conv2d_backward_input";
    check_operand(op, "grad_out", grad_out, 4, "grad_out", grad_out);
    check_operand(op, "weight", weight, 4, "grad_out", grad_out);
    check_conv_options(op, options);
    check_input_shape(op, input_shape);
    check_conv_channels(op, input_shape, weight.shape(), "input_shape");
    auto [h_out, w_out] = conv_output_size(op, input_shape, weight.shape(), options);
    check_grad_out_shape(op, grad_out, {input_shape[0], weight.size(0), h_out, w_out});
    Tensor grad_x = Tensor::empty(input_shape, grad_out.dtype(), grad_out.device());
    Tensor gc = grad_out.contiguous(), wc = weight.contiguous();
    detail::dispatch(
        op, grad_out, [&] { cpu::conv2d_backward_input(gc, wc, options, grad_x); },
        [&] { cuda::conv2d_backward_input(gc, wc, options, grad_x); });
    return grad_x;
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options) {
    const char* op = "conv2d_backward_weight";
    check_operand(op, "grad_out", grad_out, 4, "grad_out", grad_out);
    check_operand(op, "x", x, 4, "grad_out", grad_out);
    check_conv_options(op, options);
    POSTR_CHECK(weight_shape.size() == 4, op,
                ": weight_shape must have 4 dims [C_out, C_in, kH, kW]: got ",
                to_string(weight_shape), ". Pass the shape of the forward weight");
    for (auto s : weight_shape)
        POSTR_CHECK(s >= 0, op, ": weight_shape has a negative size: ", to_string(weight_shape),
                    ". Pass the shape of the forward weight");
    check_conv_channels(op, x.shape(), weight_shape, "x");
    auto [h_out, w_out] = conv_output_size(op, x.shape(), weight_shape, options);
    check_grad_out_shape(op, grad_out, {x.size(0), weight_shape[0], h_out, w_out});
    Tensor grad_weight = Tensor::empty(weight_shape, x.dtype(), x.device());
    Tensor gc = grad_out.contiguous(), xc = x.contiguous();
    detail::dispatch(
        op, x, [&] { cpu::conv2d_backward_weight(gc, xc, options, grad_weight); },
        [&] { cuda::conv2d_backward_weight(gc, xc, options, grad_weight); });
    return grad_weight;
}

// ============================== pooling ==============================

ValuesIndices max_pool2d(const Tensor& x, const Pool2dOptions& options) {
    const char* op = "max_pool2d";
    check_pool_input(op, x);
    auto [h_out, w_out] = pool_output_size(op, x.shape(), options);
    Shape shape = {x.size(0), x.size(1), h_out, w_out};
    ValuesIndices r{Tensor::empty(shape, x.dtype(), x.device()),
                    Tensor::empty(shape, DType::i64, x.device())};
    Tensor xc = x.contiguous();
    detail::dispatch(
        op, x, [&] { cpu::max_pool2d(xc, options, r.values, r.indices); },
        [&] { cuda::max_pool2d(xc, options, r.values, r.indices); });
    return r;
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices,
                           const Shape& input_shape) {
    const char* op = "max_pool2d_backward";
    check_pool_grad(op, grad_out, input_shape);
    check_defined(op, "indices", indices);
    check_dtype(op, "indices", indices, DType::i64);
    check_same_shape(op, "grad_out", grad_out, "indices", indices);
    check_same_device(op, "indices", indices, "grad_out", grad_out);
    Tensor grad_x = Tensor::empty(input_shape, grad_out.dtype(), grad_out.device());
    Tensor gc = grad_out.contiguous(), ic = indices.contiguous();
    detail::dispatch(
        op, grad_out, [&] { cpu::max_pool2d_backward(gc, ic, grad_x); },
        [&] { cuda::max_pool2d_backward(gc, ic, grad_x); });
    return grad_x;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
    const char* op = "avg_pool2d";
    check_pool_input(op, x);
    auto [h_out, w_out] = pool_output_size(op, x.shape(), options);
    Tensor out = Tensor::empty({x.size(0), x.size(1), h_out, w_out}, x.dtype(), x.device());
    Tensor xc = x.contiguous();
    detail::dispatch(
        op, x, [&] { cpu::avg_pool2d(xc, options, out); },
        [&] { cuda::avg_pool2d(xc, options, out); });
    return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape,
                           const Pool2dOptions& options) {
    const char* op = "avg_pool2d_backward";
    check_pool_grad(op, grad_out, input_shape);
    auto [h_out, w_out] = pool_output_size(op, input_shape, options);
    POSTR_CHECK(grad_out.size(2) == h_out && grad_out.size(3) == w_out, op,
                ": grad_out has the wrong shape: ", to_string(grad_out.shape()), ", expected ",
                to_string({input_shape[0], input_shape[1], h_out, w_out}),
                ". Pass the gradient of avg_pool2d's output");
    Tensor grad_x = Tensor::empty(input_shape, grad_out.dtype(), grad_out.device());
    Tensor gc = grad_out.contiguous();
    detail::dispatch(
        op, grad_out, [&] { cpu::avg_pool2d_backward(gc, options, grad_x); },
        [&] { cuda::avg_pool2d_backward(gc, options, grad_x); });
    return grad_x;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t out_h, std::int64_t out_w) {
    const char* op = "adaptive_avg_pool2d";
    check_pool_input(op, x);
    POSTR_CHECK(out_h >= 1 && out_w >= 1, op, ": output size must be positive: got (", out_h, ", ",
                out_w, "). Pass out_h, out_w >= 1");
    POSTR_CHECK(x.size(2) >= 1 && x.size(3) >= 1, op,
                ": x has an empty plane: ", to_string(x.shape()), ". Pass H, W >= 1");
    Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
    Tensor xc = x.contiguous();
    detail::dispatch(
        op, x, [&] { cpu::adaptive_avg_pool2d(xc, out); },
        [&] { cuda::adaptive_avg_pool2d(xc, out); });
    return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape) {
    const char* op = "adaptive_avg_pool2d_backward";
    check_pool_grad(op, grad_out, input_shape);
    POSTR_CHECK(grad_out.size(2) >= 1 && grad_out.size(3) >= 1 && input_shape[2] >= 1 &&
                    input_shape[3] >= 1,
                op, ": empty planes: grad_out is ", to_string(grad_out.shape()),
                ", input_shape is ", to_string(input_shape), ". Pass H, W, out_h, out_w >= 1");
    Tensor grad_x = Tensor::empty(input_shape, grad_out.dtype(), grad_out.device());
    Tensor gc = grad_out.contiguous();
    detail::dispatch(
        op, grad_out, [&] { cpu::adaptive_avg_pool2d_backward(gc, grad_x); },
        [&] { cuda::adaptive_avg_pool2d_backward(gc, grad_x); });
    return grad_x;
}

// ============================== batch normalization ==============================

BatchNormResult batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 Tensor& running_mean, Tensor& running_var, double momentum,
                                 double eps) {
    const char* op = "batch_norm_train";
    check_batch_norm_input(op, x, weight, bias);
    std::int64_t channels = x.size(1);
    check_channel_vector(op, "running_mean", running_mean, channels, x);
    check_channel_vector(op, "running_var", running_var, channels, x);
    POSTR_CHECK(running_mean.defined() == running_var.defined(), op,
                ": running_mean and running_var must both be defined or both undefined. Pass "
                "both running statistics, or neither");
    POSTR_CHECK(eps >= 0, op, ": eps must be non-negative: got ", eps, ". Use e.g. 1e-5");
    std::int64_t count = channels == 0 ? 0 : x.numel() / channels;
    POSTR_CHECK(channels == 0 || count > 1, op, ": too few values per channel: x is ",
                to_string(x.shape()), " (", count, " per channel)",
                ". Training needs more than one value per channel; use a larger batch or "
                "batch_norm_eval");
    Tensor x3 = as_ncs(x);
    Tensor out = Tensor::empty(x3.shape(), x.dtype(), x.device());
    BatchNormResult r{out.view(x.shape()), Tensor::empty({channels}, x.dtype(), x.device()),
                      Tensor::empty({channels}, x.dtype(), x.device())};
    // The kernels update contiguous running buffers; other layouts are written back by copy_.
    Tensor rm = contiguous_or_undefined(running_mean), rv = contiguous_or_undefined(running_var);
    Tensor wc = contiguous_or_undefined(weight), bc = contiguous_or_undefined(bias);
    detail::dispatch(
        op, x,
        [&] {
            cpu::batch_norm_train(x3, wc, bc, rm, rv, momentum, eps, out, r.save_mean,
                                  r.save_invstd);
        },
        [&] {
            cuda::batch_norm_train(x3, wc, bc, rm, rv, momentum, eps, out, r.save_mean,
                                   r.save_invstd);
        });
    if (rm.defined() && !rm.shares_storage_with(running_mean)) running_mean.copy_(rm);
    if (rv.defined() && !rv.shares_storage_with(running_var)) running_var.copy_(rv);
    return r;
}

Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, double eps) {
    const char* op = "batch_norm_eval";
    check_batch_norm_input(op, x, weight, bias);
    check_defined(op, "running_mean", running_mean);
    check_defined(op, "running_var", running_var);
    check_channel_vector(op, "running_mean", running_mean, x.size(1), x);
    check_channel_vector(op, "running_var", running_var, x.size(1), x);
    POSTR_CHECK(eps >= 0, op, ": eps must be non-negative: got ", eps, ". Use e.g. 1e-5");
    Tensor x3 = as_ncs(x);
    Tensor out = Tensor::empty(x3.shape(), x.dtype(), x.device());
    Tensor wc = contiguous_or_undefined(weight), bc = contiguous_or_undefined(bias);
    Tensor rm = running_mean.contiguous(), rv = running_var.contiguous();
    detail::dispatch(
        op, x, [&] { cpu::batch_norm_eval(x3, wc, bc, rm, rv, eps, out); },
        [&] { cuda::batch_norm_eval(x3, wc, bc, rm, rv, eps, out); });
    return out.view(x.shape());
}

BatchNormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd) {
    const char* op = "batch_norm_backward";
    check_batch_norm_input(op, x, weight, Tensor());
    check_defined(op, "grad_out", grad_out);
    check_same_shape(op, "grad_out", grad_out, "x", x);
    check_same_dtype(op, "grad_out", grad_out, "x", x);
    check_same_device(op, "grad_out", grad_out, "x", x);
    check_defined(op, "save_mean", save_mean);
    check_defined(op, "save_invstd", save_invstd);
    check_channel_vector(op, "save_mean", save_mean, x.size(1), x);
    check_channel_vector(op, "save_invstd", save_invstd, x.size(1), x);
    Tensor x3 = as_ncs(x), g3 = as_ncs(grad_out);
    std::int64_t channels = x.size(1);
    Tensor grad_x = Tensor::empty(x3.shape(), x.dtype(), x.device());
    BatchNormGrads r{grad_x.view(x.shape()), Tensor::empty({channels}, x.dtype(), x.device()),
                     Tensor::empty({channels}, x.dtype(), x.device())};
    Tensor wc = contiguous_or_undefined(weight), mc = save_mean.contiguous(),
           ic = save_invstd.contiguous();
    detail::dispatch(
        op, x,
        [&] { cpu::batch_norm_backward(g3, x3, wc, mc, ic, grad_x, r.grad_weight, r.grad_bias); },
        [&] { cuda::batch_norm_backward(g3, x3, wc, mc, ic, grad_x, r.grad_weight, r.grad_bias); });
    return r;
}

}  // namespace postr
