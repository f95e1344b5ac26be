#include "autograd/grad_mode.h"

#include <mutex>
#include <unordered_set>

namespace lumen {
namespace {
// Per thread, as in PyTorch: a NoGradGuard in one thread does not switch off another's graph.
thread_local bool t_grad_enabled = true;
thread_local bool t_anomaly = false;

const std::string kTopLevel;
thread_local const std::string* t_scope = &kTopLevel;

// Scope paths are interned once, so every node can keep a plain pointer to its scope.
const std::string* intern(std::string path) {
  static std::mutex mutex;
  static auto* table = new std::unordered_set<std::string>();  // lives for the whole program
  std::lock_guard<std::mutex> lock(mutex);
  return &*table->insert(std::move(path)).first;
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

bool anomaly_enabled() { return t_anomaly; }
DetectAnomalyGuard::DetectAnomalyGuard() : previous_(t_anomaly) { t_anomaly = true; }
DetectAnomalyGuard::~DetectAnomalyGuard() { t_anomaly = previous_; }

const std::string* current_scope() { return t_scope; }

NameScope::NameScope(const std::string& name) : previous_(t_scope) {
  if (name.empty()) return;  // an unnamed (root) module adds no level
  t_scope = intern(previous_->empty() ? name : *previous_ + "." + name);
}
NameScope::~NameScope() { t_scope = previous_; }

}  // namespace lumen
