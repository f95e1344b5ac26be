#include "autograd/var.h"

#include "autograd/engine.h"
#include "autograd/node.h"

namespace lumen {

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<Impl>()) {
  if (!value.defined()) throw ValueError("Var: cannot wrap an undefined tensor");
  if (requires_grad && !is_floating(value.dtype()))
    throw DTypeError("Var: only floating tensors can require grad, got " +
                     std::string(dtype_name(value.dtype())) + " of shape " + shape_str(value.shape()));
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

void Var::check_defined(const char* what) const {
  if (!impl_) throw ValueError(std::string("Var::") + what + ": the Var is undefined (default-constructed)");
}

const Tensor& Var::value() const {
  check_defined("value");
  return impl_->value;
}
const Tensor& Var::grad() const {
  check_defined("grad");
  return impl_->grad;
}
void Var::set_grad(Tensor g) {
  check_defined("set_grad");
  if (g.defined() && g.shape() != impl_->value.shape())
    throw ShapeError("Var::set_grad: gradient of shape " + shape_str(g.shape()) + " for a value of shape " +
                     shape_str(impl_->value.shape()));
  impl_->grad = std::move(g);
}
void Var::zero_grad() {
  check_defined("zero_grad");
  impl_->grad = Tensor();
}

bool Var::requires_grad() const { return impl_ && impl_->requires_grad; }

Var& Var::set_requires_grad(bool on) {
  check_defined("set_requires_grad");
  if (impl_->node)
    throw GraphError("set_requires_grad: '" + std::string(impl_->node->op()) +
                     "' output is not a leaf; only leaves may change requires_grad (use detach())");
  if (on && !is_floating(impl_->value.dtype()))
    throw DTypeError("set_requires_grad: only floating tensors can require grad, got " +
                     std::string(dtype_name(impl_->value.dtype())));
  impl_->requires_grad = on;
  return *this;
}

bool Var::is_leaf() const { return !impl_ || !impl_->node; }

const std::shared_ptr<Node>& Var::node() const {
  check_defined("node");
  return impl_->node;
}

const std::string& Var::name() const {
  check_defined("name");
  return impl_->name;
}
Var& Var::set_name(std::string name) {
  check_defined("set_name");
  impl_->name = std::move(name);
  return *this;
}

Var Var::detach() const {
  check_defined("detach");
  Var out(impl_->value);
  out.impl_->name = impl_->name;
  return out;
}

void Var::backward() const { lumen::backward(*this); }
void Var::backward(const Tensor& grad_output, bool retain_graph) const {
  lumen::backward(*this, grad_output, {.retain_graph = retain_graph});
}

}  // namespace lumen
