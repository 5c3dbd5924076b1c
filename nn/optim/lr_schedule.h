// Learning-rate schedules as plain functions of the step (or epoch) count t = 0, 1, 2, ...,
// using PyTorch's closed forms; feed the value to an optimizer's set_lr before each step.
#pragma once

#include <cstdint>
#include <functional>

namespace postr::nn {

// torch.optim.lr_scheduler.StepLR: lr(t) = base_lr · gamma^⌊t / step_size⌋.
// Throws postr::Error when base_lr < 0, step_size < 1 or gamma < 0, and on t < 0.
class StepLR {
  public:
    StepLR(double base_lr, std::int64_t step_size, double gamma = 0.1);
    double operator()(std::int64_t t) const;

  private:
    double base_lr_;
    std::int64_t step_size_;
    double gamma_;
};

// torch.optim.lr_scheduler.CosineAnnealingLR (closed form):
// lr(t) = eta_min + (base_lr − eta_min)·(1 + cos(π·t / t_max)) / 2, which goes from base_lr at
// t = 0 to eta_min at t = t_max (and back up after, as PyTorch's closed form does).
// Throws postr::Error when base_lr < 0, eta_min < 0 or t_max < 1, and on t < 0.
class CosineAnnealing {
  public:
    CosineAnnealing(double base_lr, std::int64_t t_max, double eta_min = 0.0);
    double operator()(std::int64_t t) const;

  private:
    double base_lr_;
    std::int64_t t_max_;
    double eta_min_;
};

// Linear warmup in front of another schedule (PyTorch's LinearLR(start_factor, 1, warmup_steps)
// chained by SequentialLR): for t < warmup_steps,
// lr(t) = after(0)·(start_factor + (1 − start_factor)·t / warmup_steps); then lr(t) =
// after(t − warmup_steps). Throws postr::Error when warmup_steps < 0 or start_factor is outside
// (0, 1], and on t < 0.
class LinearWarmup {
  public:
    LinearWarmup(std::int64_t warmup_steps, double start_factor,
                 std::function<double(std::int64_t)> after);
    double operator()(std::int64_t t) const;

  private:
    std::int64_t warmup_steps_;
    double start_factor_;
    std::function<double(std::int64_t)> after_;
};

}  // namespace postr::nn
