#include "nn/optim.h"

#include <cmath>
#include <unordered_map>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "autograd/grad_mode.h"

namespace lumen::nn {

namespace {

// Large parameters are updated by several threads. Each element's update is independent of the
// others, so the result does not depend on the thread count. Small ones stay on this thread: a
// model's many small tensors would otherwise pay for starting a parallel region each.
constexpr int64_t kParallelGrain = 1 << 15;

// Calls body(begin, end) over [0, n), split across threads when n is large.
template <class Body>
void for_range(int64_t n, Body&& body) {
  if (n < kParallelGrain) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int64_t nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    body(n * t / nt, n * (t + 1) / nt);
  }
}

std::string describe(const Var& p, size_t index) {
  std::string who = p.name().empty() ? "#" + std::to_string(index) : "'" + p.name() + "'";
  return "parameter " + who + " (shape " + shape_str(p.shape()) + ")";
}

void check_hyper(const std::string& opt, const char* what, double value, double lo, bool lo_open, double hi = INFINITY) {
  bool ok = std::isfinite(value) && (lo_open ? value > lo : value >= lo) && value <= hi;
  if (!ok)
    throw ValueError(opt + ": " + what + " must be " + (lo_open ? "> " : ">= ") + std::to_string(lo) +
                     (std::isfinite(hi) ? " and <= " + std::to_string(hi) : std::string()) + ", got " +
                     std::to_string(value));
}

}  // namespace

// ---- Optimizer ---------------------------------------------------------------------------------

Optimizer::Optimizer(std::string name, std::vector<Var> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(0) {
  if (params_.empty()) throw ValueError(name_ + ": got an empty parameter list");
  std::unordered_map<const Var::Impl*, size_t> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    if (!p.defined()) throw ValueError(name_ + ": parameter #" + std::to_string(i) + " is an undefined Var");
    if (!is_floating(p.dtype()))
      throw DTypeError(name_ + ": " + describe(p, i) + " is " + std::string(dtype_name(p.dtype())) +
                       "; only f32 and f64 parameters can be optimized");
    if (!p.is_leaf())
      throw ValueError(name_ + ": " + describe(p, i) + " is the output of an op, not a leaf; optimize the leaf it came from");
    auto [it, fresh] = seen.emplace(p.impl().get(), i);
    // Given twice, it would be updated twice per step with twice the momentum state.
    if (!fresh)
      throw ValueError(name_ + ": " + describe(p, i) + " appears twice in the parameter list (entries #" +
                       std::to_string(it->second) + " and #" + std::to_string(i) + ")");
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  check_hyper(name_, "lr", lr, 0, false);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Var& p : params_) p.zero_grad();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (g.dtype() != p.dtype())
      throw DTypeError(name_ + ": " + describe(p, i) + " is " + std::string(dtype_name(p.dtype())) +
                       " but its gradient is " + std::string(dtype_name(g.dtype())));
    // The kernels walk flat arrays. A gradient is usually contiguous already (then this costs
    // nothing); an odd parameter view is updated through a copy and written back.
    Tensor g_flat = g.contiguous();
    const Tensor& value = p.value();
    if (value.is_contiguous()) {
      update(i, value, g_flat);
    } else {
      Tensor p_flat = value.contiguous();
      update(i, p_flat, g_flat);
      Tensor(value).copy_(p_flat);
    }
  }
}

// ---- SGD ---------------------------------------------------------------------------------------

SGD::SGD(std::vector<Var> params, SGDOptions options)
    : Optimizer("SGD", std::move(params), options.lr), options_(options) {
  check_hyper("SGD", "momentum", options.momentum, 0, false);
  check_hyper("SGD", "dampening", options.dampening, 0, false);
  check_hyper("SGD", "weight_decay", options.weight_decay, 0, false);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    throw ValueError("SGD: nesterov needs momentum > 0 and dampening = 0, got momentum " +
                     std::to_string(options.momentum) + " and dampening " + std::to_string(options.dampening));
  momentum_buffer_.resize(this->params().size());
}

namespace {

// Elements [begin, end) of p, g, buf (null without momentum). `first`: buf starts as the
// gradient. keep = 1 - dampening. Every scalar is a parameter, so it stays in a register while
// the loop stores floats (a captured reference might alias them, and the loop would not vectorise).
template <class T>
void sgd_kernel(T* p, const T* g, T* buf, int64_t begin, int64_t end, bool first, T lr, T momentum, T keep, T wd,
                bool nesterov) {
  if (!buf) {
    for (int64_t j = begin; j < end; ++j) p[j] -= lr * (g[j] + wd * p[j]);
    return;
  }
  for (int64_t j = begin; j < end; ++j) {
    T d = g[j] + wd * p[j];
    T b = first ? d : momentum * buf[j] + keep * d;
    buf[j] = b;
    p[j] -= lr * (nesterov ? d + momentum * b : b);
  }
}

}  // namespace

void SGD::update(size_t i, const Tensor& p, const Tensor& g) {
  Tensor& buf = momentum_buffer_[i];
  bool first = false;
  if (options_.momentum != 0 && !buf.defined()) {
    buf = Tensor::empty(p.shape(), p.dtype());
    first = true;
  }
  visit_floating(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p_data = p.data<T>();
    const T* g_data = g.data<T>();
    T* buf_data = buf.defined() ? buf.data<T>() : nullptr;
    const T lr_t = static_cast<T>(lr()), momentum = static_cast<T>(options_.momentum);
    const T keep = static_cast<T>(1.0 - options_.dampening), wd = static_cast<T>(options_.weight_decay);
    const bool nesterov = options_.nesterov;
    for_range(p.numel(), [=](int64_t begin, int64_t end) {
      sgd_kernel<T>(p_data, g_data, buf_data, begin, end, first, lr_t, momentum, keep, wd, nesterov);
    });
  });
}

// ---- Adam and AdamW ----------------------------------------------------------------------------

Adam::Adam(std::vector<Var> params, AdamOptions options) : Adam("Adam", std::move(params), options, false) {}

Adam::Adam(std::string name, std::vector<Var> params, AdamOptions options, bool decoupled)
    : Optimizer(name, std::move(params), options.lr), options_(options), decoupled_(decoupled) {
  check_hyper(name, "beta1", options.beta1, 0, false, 1);
  check_hyper(name, "beta2", options.beta2, 0, false, 1);
  if (options.beta1 == 1 || options.beta2 == 1)
    throw ValueError(name + ": betas must be < 1 (the bias correction divides by 1 - beta^t), got beta1 " +
                     std::to_string(options.beta1) + " and beta2 " + std::to_string(options.beta2));
  check_hyper(name, "eps", options.eps, 0, false);
  check_hyper(name, "weight_decay", options.weight_decay, 0, false);
  size_t n = this->params().size();
  exp_avg_.resize(n);
  exp_avg_sq_.resize(n);
  step_.assign(n, 0);
}

AdamW::AdamW(std::vector<Var> params, AdamWOptions o)
    : Adam("AdamW", std::move(params),
           {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay},
           /*decoupled=*/true) {}

namespace {

struct AdamScalars {
  double lr, beta1, beta2, eps;
  double l2;          // Adam: weight decay added to the gradient
  double decay;       // AdamW: the factor 1 - lr * wd applied to p first (1 for Adam)
  double step_size;   // lr / (1 - beta1^t)
  double bc2_sqrt;    // sqrt(1 - beta2^t)
};

// Elements [begin, end) of p, g, m, v. The scalars are parameters for the same reason as in
// sgd_kernel.
template <class T>
void adam_kernel(T* p, const T* g, T* m, T* v, int64_t begin, int64_t end, T b1, T b2, T c1, T c2, T eps, T l2,
                 T decay, T step_size, T bc2_sqrt) {
  for (int64_t j = begin; j < end; ++j) {
    T theta = p[j] * decay;
    T grad = g[j] + l2 * theta;
    T m_j = b1 * m[j] + c1 * grad;
    T v_j = b2 * v[j] + c2 * grad * grad;
    m[j] = m_j;
    v[j] = v_j;
    // m_hat / (sqrt(v_hat) + eps), with the bias corrections folded into two scalars.
    p[j] = theta - step_size * m_j / (std::sqrt(v_j) / bc2_sqrt + eps);
  }
}

}  // namespace

void Adam::update(size_t i, const Tensor& p, const Tensor& g) {
  if (!exp_avg_[i].defined()) {
    exp_avg_[i] = Tensor::zeros(p.shape(), p.dtype());
    exp_avg_sq_[i] = Tensor::zeros(p.shape(), p.dtype());
  }
  int64_t t = ++step_[i];
  const AdamOptions& o = options_;
  AdamScalars s{.lr = lr(),
                .beta1 = o.beta1,
                .beta2 = o.beta2,
                .eps = o.eps,
                .l2 = decoupled_ ? 0.0 : o.weight_decay,
                .decay = decoupled_ ? 1.0 - lr() * o.weight_decay : 1.0,
                .step_size = lr() / (1.0 - std::pow(o.beta1, static_cast<double>(t))),
                .bc2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, static_cast<double>(t)))};
  visit_floating(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p_data = p.data<T>();
    const T* g_data = g.data<T>();
    T* m = exp_avg_[i].data<T>();
    T* v = exp_avg_sq_[i].data<T>();
    // 1 - beta is formed in double first: 1 - 0.999f would be off by 1e-5 relative in f32.
    const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
    const T c1 = static_cast<T>(1.0 - s.beta1), c2 = static_cast<T>(1.0 - s.beta2);
    const T eps = static_cast<T>(s.eps), l2 = static_cast<T>(s.l2), decay = static_cast<T>(s.decay);
    const T step_size = static_cast<T>(s.step_size), bc2_sqrt = static_cast<T>(s.bc2_sqrt);
    for_range(p.numel(), [=](int64_t begin, int64_t end) {
      adam_kernel<T>(p_data, g_data, m, v, begin, end, b1, b2, c1, c2, eps, l2, decay, step_size, bc2_sqrt);
    });
  });
}

}  // namespace lumen::nn
