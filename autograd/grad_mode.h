#pragma once
// Switches that change what ops record: grad mode (is a graph built at all?), anomaly detection
// (stop at the first NaN or Inf), and name scopes (which module made this node?).
#include <string>

namespace lumen {

// ---- grad mode -------------------------------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool on);

// While alive, ops record no graph: for evaluation, and for the optimizer's updates.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns grad mode on (or to `on`) for a scope, e.g. inside grad(..., create_graph).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : previous_(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// ---- anomaly detection -----------------------------------------------------------------------
bool anomaly_enabled();

// While alive, the first NaN or Inf produced by an op, forward or backward, throws an
// AnomalyError naming the op and the module scope it ran in. It costs a scan of every output.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// ---- name scopes -----------------------------------------------------------------------------
// The dotted path of the scopes open right now ("decoder.attn", "encoder.t3"); "" at top level.
// The string lives for the whole program (scopes are interned), so nodes keep just the pointer.
const std::string* current_scope();

// Opens a scope for its lifetime: modules open their name while they run forward, RNN loops
// open one per time step. Nodes made inside record the scope, and the graph export draws it as
// a cluster.
class NameScope {
 public:
  explicit NameScope(const std::string& name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

 private:
  const std::string* previous_;
};

}  // namespace lumen
