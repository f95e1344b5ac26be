#pragma once
// Learning-rate schedules: each is a function of the step number, lr_at(step), and apply()
// writes that rate into an optimizer before its next step:
//
//   AdamW opt(model.parameters(), {.lr = 3e-4});
//   WarmupCosineLR sched({.base_lr = 3e-4, .warmup_steps = 100, .total_steps = 2000});
//   for (...) {
//     sched.apply(opt);   // the rate for update number opt.steps() + 1
//     ...
//     opt.step();
//   }
//
// Steps count from 1: `step` is the number of the update about to happen, as in "Attention Is
// All You Need" (step_num). Each schedule throws ValueError for step < 1.
#include <cstdint>

#include "nn/optim.h"

namespace lumen::nn {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  // The learning rate for update number `step` (1, 2, ...).
  virtual double lr_at(int64_t step) const = 0;
  // Sets the rate for the optimizer's next update (number opt.steps() + 1) and returns it.
  double apply(Optimizer& opt) const;
  // Sets the rate for update number `step` and returns it.
  double apply(Optimizer& opt, int64_t step) const;
};

// lr = base_lr * gamma^floor((step - 1) / step_size): steps 1..step_size use base_lr, the next
// step_size use base_lr * gamma, ... (PyTorch's StepLR with epoch = step - 1).
struct StepLROptions {
  double base_lr;
  int64_t step_size;
  double gamma = 0.1;
};
class StepLR : public LRSchedule {
 public:
  explicit StepLR(StepLROptions options);
  double lr_at(int64_t step) const override;

 private:
  StepLROptions o_;
};

// Half a cosine from base_lr down to min_lr over total_steps (PyTorch's CosineAnnealingLR with
// T_max = total_steps and epoch = step - 1): lr = min_lr + (base_lr - min_lr) (1 + cos(pi t / T)) / 2
// with t = step - 1. After the end it stays at min_lr.
struct CosineLROptions {
  double base_lr;
  int64_t total_steps;
  double min_lr = 0;
};
class CosineLR : public LRSchedule {
 public:
  explicit CosineLR(CosineLROptions options);
  double lr_at(int64_t step) const override;

 private:
  CosineLROptions o_;
};

// A linear ramp: lr = base_lr * min(1, step / warmup_steps), so the first update already moves
// (base_lr / warmup_steps) and update number warmup_steps and later use base_lr.
struct LinearWarmupOptions {
  double base_lr;
  int64_t warmup_steps;
};
class LinearWarmup : public LRSchedule {
 public:
  explicit LinearWarmup(LinearWarmupOptions options);
  double lr_at(int64_t step) const override;

 private:
  LinearWarmupOptions o_;
};

// LinearWarmup for warmup_steps, then CosineLR over the remaining total_steps - warmup_steps:
// the rate peaks at base_lr on steps warmup_steps and warmup_steps + 1, then decays.
struct WarmupCosineLROptions {
  double base_lr;
  int64_t warmup_steps;
  int64_t total_steps;
  double min_lr = 0;
};
class WarmupCosineLR : public LRSchedule {
 public:
  explicit WarmupCosineLR(WarmupCosineLROptions options);
  double lr_at(int64_t step) const override;

 private:
  WarmupCosineLROptions o_;
};

// The Transformer's schedule: lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5).
// It rises linearly for `warmup` steps, peaks at step = warmup, then decays as 1 / sqrt(step).
// The paper uses factor 1 with Adam(beta1 0.9, beta2 0.98, eps 1e-9).
struct NoamLROptions {
  int64_t d_model;
  int64_t warmup;
  double factor = 1.0;
};
class NoamLR : public LRSchedule {
 public:
  explicit NoamLR(NoamLROptions options);
  double lr_at(int64_t step) const override;

 private:
  NoamLROptions o_;
};

}  // namespace lumen::nn
