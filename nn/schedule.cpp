#include "nn/schedule.h"

#include <cmath>
#include <numbers>
#include <string>

namespace lumen::nn {

namespace {

void check_step(const char* who, int64_t step) {
  if (step < 1) throw ValueError(std::string(who) + ": steps count from 1, got step " + std::to_string(step));
}

void check_rate(const char* who, const char* what, double value) {
  if (!std::isfinite(value) || value < 0)
    throw ValueError(std::string(who) + ": " + what + " must be finite and >= 0, got " + std::to_string(value));
}

void check_count(const char* who, const char* what, int64_t value) {
  if (value < 1) throw ValueError(std::string(who) + ": " + what + " must be >= 1, got " + std::to_string(value));
}

// Half a cosine from `hi` (t = 0) to `lo` (t = T), flat at `lo` after.
double cosine(double hi, double lo, int64_t t, int64_t T) {
  if (t >= T) return lo;
  double progress = static_cast<double>(t) / static_cast<double>(T);
  return lo + (hi - lo) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace

double LRSchedule::apply(Optimizer& opt) const { return apply(opt, opt.steps() + 1); }

double LRSchedule::apply(Optimizer& opt, int64_t step) const {
  double lr = lr_at(step);
  opt.set_lr(lr);
  return lr;
}

StepLR::StepLR(StepLROptions options) : o_(options) {
  check_rate("StepLR", "base_lr", o_.base_lr);
  check_count("StepLR", "step_size", o_.step_size);
  check_rate("StepLR", "gamma", o_.gamma);
}

double StepLR::lr_at(int64_t step) const {
  check_step("StepLR", step);
  return o_.base_lr * std::pow(o_.gamma, static_cast<double>((step - 1) / o_.step_size));
}

CosineLR::CosineLR(CosineLROptions options) : o_(options) {
  check_rate("CosineLR", "base_lr", o_.base_lr);
  check_rate("CosineLR", "min_lr", o_.min_lr);
  check_count("CosineLR", "total_steps", o_.total_steps);
}

double CosineLR::lr_at(int64_t step) const {
  check_step("CosineLR", step);
  return cosine(o_.base_lr, o_.min_lr, step - 1, o_.total_steps);
}

LinearWarmup::LinearWarmup(LinearWarmupOptions options) : o_(options) {
  check_rate("LinearWarmup", "base_lr", o_.base_lr);
  check_count("LinearWarmup", "warmup_steps", o_.warmup_steps);
}

double LinearWarmup::lr_at(int64_t step) const {
  check_step("LinearWarmup", step);
  if (step >= o_.warmup_steps) return o_.base_lr;
  return o_.base_lr * static_cast<double>(step) / static_cast<double>(o_.warmup_steps);
}

WarmupCosineLR::WarmupCosineLR(WarmupCosineLROptions options) : o_(options) {
  check_rate("WarmupCosineLR", "base_lr", o_.base_lr);
  check_rate("WarmupCosineLR", "min_lr", o_.min_lr);
  if (o_.warmup_steps < 0)
    throw ValueError("WarmupCosineLR: warmup_steps must be >= 0, got " + std::to_string(o_.warmup_steps));
  if (o_.total_steps <= o_.warmup_steps)
    throw ValueError("WarmupCosineLR: total_steps (" + std::to_string(o_.total_steps) +
                     ") must exceed warmup_steps (" + std::to_string(o_.warmup_steps) + ")");
}

double WarmupCosineLR::lr_at(int64_t step) const {
  check_step("WarmupCosineLR", step);
  if (step <= o_.warmup_steps)
    return o_.base_lr * static_cast<double>(step) / static_cast<double>(o_.warmup_steps);
  return cosine(o_.base_lr, o_.min_lr, step - o_.warmup_steps - 1, o_.total_steps - o_.warmup_steps);
}

NoamLR::NoamLR(NoamLROptions options) : o_(options) {
  check_count("NoamLR", "d_model", o_.d_model);
  check_count("NoamLR", "warmup", o_.warmup);
  check_rate("NoamLR", "factor", o_.factor);
}

double NoamLR::lr_at(int64_t step) const {
  check_step("NoamLR", step);
  double s = static_cast<double>(step), w = static_cast<double>(o_.warmup);
  return o_.factor * std::pow(static_cast<double>(o_.d_model), -0.5) * std::min(std::pow(s, -0.5), s * std::pow(w, -1.5));
}

}  // namespace lumen::nn
