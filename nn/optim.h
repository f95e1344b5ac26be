#pragma once
// Optimizers: they read each parameter's .grad() and update its value in place.
//
//   Adam opt(model.parameters(), {.lr = 3e-4});
//   for (...) {
//     opt.zero_grad();
//     Var loss = ...;
//     loss.backward();
//     opt.step();
//   }
//
// The update rules are PyTorch's (torch.optim.SGD, Adam and AdamW, as their documentation writes
// the algorithms), so a run can be compared number for number. A step records no graph, and a
// parameter that has no gradient yet (nothing reached it in backward) is left alone.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace lumen::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Clears every parameter's gradient (sets it undefined, like PyTorch's set_to_none=True).
  void zero_grad();
  // One update of every parameter that has a gradient.
  void step();

  double lr() const { return lr_; }
  // Schedules (nn/schedule.h) call this before each step.
  void set_lr(double lr);
  // How many times step() has run.
  int64_t steps() const { return steps_; }
  const std::vector<Var>& params() const { return params_; }
  // "SGD", "Adam", "AdamW": for error messages.
  const std::string& name() const { return name_; }

 protected:
  // Checks the list: every parameter a defined floating leaf, none given twice.
  Optimizer(std::string name, std::vector<Var> params, double lr);
  // Updates params_[i] in place. `p` and `g` are contiguous, of the same dtype and shape.
  virtual void update(size_t i, const Tensor& p, const Tensor& g) = 0;

 private:
  std::string name_;
  std::vector<Var> params_;
  double lr_;
  int64_t steps_ = 0;
};

// ---- SGD -------------------------------------------------------------------------------------
struct SGDOptions {
  double lr;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2 penalty: adds weight_decay * p to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening = 0
};

// g <- g + wd p;  b <- g on the first step, else momentum b + (1 - dampening) g;
// g <- g + momentum b (nesterov) or b;  p <- p - lr g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Var> params, SGDOptions options);
  const SGDOptions& options() const { return options_; }

 private:
  void update(size_t i, const Tensor& p, const Tensor& g) override;
  SGDOptions options_;
  std::vector<Tensor> momentum_buffer_;  // per parameter; undefined until its first step
};

// ---- Adam and AdamW --------------------------------------------------------------------------
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

// Adam: g <- g + wd p;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
// p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with t this parameter's step count.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Var> params, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  // AdamW reuses the moment update with its own name and decay rule.
  Adam(std::string name, std::vector<Var> params, AdamOptions options, bool decoupled);

 private:
  void update(size_t i, const Tensor& p, const Tensor& g) override;
  AdamOptions options_;
  bool decoupled_;                // AdamW: decay the weights directly, not through the gradient
  std::vector<Tensor> exp_avg_;     // m, per parameter
  std::vector<Tensor> exp_avg_sq_;  // v, per parameter
  std::vector<int64_t> step_;       // t, per parameter: a parameter without a gradient does not advance
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

// AdamW (Loshchilov and Hutter): p <- p (1 - lr wd) first, then the Adam step without weight
// decay in the gradient. The decay no longer passes through the adaptive scaling, so every weight
// shrinks at the same rate.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Var> params, AdamWOptions options = {});
};

}  // namespace lumen::nn
