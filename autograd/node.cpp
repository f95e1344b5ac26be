#include "autograd/node.h"

#include <atomic>
#include <cmath>

#include <fmt/format.h>

#include "autograd/grad_mode.h"

namespace lumen {
namespace {
std::atomic<int64_t> g_live_nodes{0};
std::atomic<uint64_t> g_serial{0};

// Freeing a 100,000-op chain must not recurse 100,000 destructors deep. A dying node hands the
// nodes of its inputs (when it holds their last reference) to this list instead of letting
// them die inside its own destructor; the outermost destructor empties the list in a loop.
thread_local std::vector<std::shared_ptr<Node>> t_dying;
thread_local bool t_draining = false;

void defer_inputs(std::vector<Var>& inputs) {
  for (Var& v : inputs) {
    const auto& impl = v.impl();
    if (impl && impl.use_count() == 1 && impl->node) t_dying.push_back(std::move(impl->node));
  }
  inputs.clear();
}
}  // namespace

Node::Node(const char* op, std::vector<Var> inputs, Saved saved)
    : op_(op),
      inputs_(std::move(inputs)),
      saved_(std::move(saved)),
      scope_(current_scope()),
      serial_(g_serial.fetch_add(1, std::memory_order_relaxed)) {
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() {
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  defer_inputs(inputs_);
  defer_inputs(saved_.extra);
  if (t_draining) return;
  t_draining = true;
  while (!t_dying.empty()) {
    std::shared_ptr<Node> next = std::move(t_dying.back());
    t_dying.pop_back();
    next.reset();  // its destructor only appends to t_dying
  }
  t_draining = false;
}

Var Node::output() const { return Var(output_.lock()); }

std::string Node::attrs() const {
  if (!number_key_) return attrs_;
  std::string number = std::string(number_key_) + "=" + fmt::format("{}", number_);
  return attrs_.empty() ? number : attrs_ + " " + number;
}

Grads Node::backward(const Var& grad_output) const {
  if (released_)
    throw GraphError("backward: the graph through '" + std::string(op_) +
                     "' was already freed by an earlier backward; pass retain_graph = true to the "
                     "first backward to run backward through it again");
  return run_backward(grad_output);
}

void Node::release() {
  if (released_) return;
  released_ = true;
  release_backward();
  defer_inputs(inputs_);
  defer_inputs(saved_.extra);
  grad_accumulator = Var();
  // Drain here too: release() is called outside any destructor.
  if (!t_draining) {
    t_draining = true;
    while (!t_dying.empty()) {
      std::shared_ptr<Node> next = std::move(t_dying.back());
      t_dying.pop_back();
      next.reset();
    }
    t_draining = false;
  }
}

int64_t Node::live_count() { return g_live_nodes.load(std::memory_order_relaxed); }
uint64_t Node::next_serial() { return g_serial.load(std::memory_order_relaxed); }

// ---- recording -------------------------------------------------------------------------------

bool needs_graph(const std::vector<Var>& inputs) {
  if (!grad_enabled()) return false;
  for (const Var& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

static void check_finite(const char* op, const Tensor& t) {
  if (!is_floating(t.dtype())) return;
  bool bad = false;
  visit_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor c = t.contiguous();
    const T* p = c.data<T>();
    for (int64_t i = 0, n = c.numel(); i < n && !bad; ++i) bad = !std::isfinite(p[i]);
  });
  if (bad) {
    const std::string& scope = *current_scope();
    throw AnomalyError("anomaly: '" + std::string(op) + "'" + (scope.empty() ? "" : " in scope '" + scope + "'") +
                       " produced NaN or Inf in its output of shape " + shape_str(t.shape()));
  }
}

Var plain_output(const char* op, Tensor value) {
  if (anomaly_enabled()) check_finite(op, value);
  return Var(std::move(value));
}

Var attach_node(Tensor value, std::shared_ptr<Node> node) {
  if (anomaly_enabled()) check_finite(node->op(), value);
  auto impl = std::make_shared<Var::Impl>();
  impl->value = std::move(value);
  impl->requires_grad = true;
  node->set_output(impl);
  impl->node = std::move(node);
  return Var(std::move(impl));
}

}  // namespace lumen
