#include "postr/nn/layers/pooling.h"

#include "postr/autodiff/ops.h"
#include "postr/core/error.h"

namespace postr::nn {

namespace {
Pool2dOptions square_options(const char* op, std::int64_t k, std::int64_t stride,
                             std::int64_t padding) {
    POSTR_CHECK(k > 0 && stride >= 0 && padding >= 0 && 2 * padding <= k, op,
                ": bad window: kernel_size ", k, ", stride ", stride, ", padding ", padding,
                ". Use kernel_size > 0, stride >= 0 (0: kernel_size) and padding <= "
                "kernel_size/2");
    Pool2dOptions o;
    o.kernel_h = o.kernel_w = k;
    o.stride_h = o.stride_w = stride == 0 ? k : stride;
    o.pad_h = o.pad_w = padding;
    return o;
}
}  // namespace

MaxPool2d::MaxPool2d(std::int64_t kernel_size, std::int64_t stride, std::int64_t padding)
    : options_(square_options("MaxPool2d", kernel_size, stride, padding)) {}
Var MaxPool2d::forward(const Var& x) { return max_pool2d(x, options_).values; }

AvgPool2d::AvgPool2d(std::int64_t kernel_size, std::int64_t stride, std::int64_t padding)
    : options_(square_options("AvgPool2d", kernel_size, stride, padding)) {}
Var AvgPool2d::forward(const Var& x) { return avg_pool2d(x, options_); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::int64_t out_h, std::int64_t out_w)
    : out_h_(out_h), out_w_(out_w) {
    POSTR_CHECK(out_h > 0 && out_w > 0, "AdaptiveAvgPool2d: output size must be positive: got ",
                out_h, "x", out_w, ". Use e.g. 1x1");
}
Var AdaptiveAvgPool2d::forward(const Var& x) { return adaptive_avg_pool2d(x, out_h_, out_w_); }

}  // namespace postr::nn
