#pragma once
// Var: a tensor that remembers how it was made, so gradients can flow back through it.
//
// A Var is a handle (copying it aliases, like Tensor) to a value, an optional grad, and the Node
// that produced it. A leaf (a parameter or an input) has no node; if it requires a gradient,
// backward() accumulates into its .grad(). Every op on Vars lives in autograd/ops.h.
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

class Node;

// Misuse of the graph: backward twice through a freed graph, backward from a non-scalar without
// a gradient, a Var that does not require grad.
struct GraphError : Error {
  using Error::Error;
};
// A NaN or Inf caught by DetectAnomalyGuard; the message names the op and its module scope.
struct AnomalyError : Error {
  using Error::Error;
};

class Var {
 public:
  Var() = default;
  // A leaf holding `value`. requires_grad marks it as something to differentiate against.
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  // The accumulated gradient; undefined until a backward pass reaches this Var.
  const Tensor& grad() const;
  void set_grad(Tensor g);
  // Sets the gradient to undefined (PyTorch's set_to_none=True).
  void zero_grad();

  bool requires_grad() const;
  // Only leaves may change their flag; an op's output requires grad if any input does.
  Var& set_requires_grad(bool on);
  bool is_leaf() const;
  // The node that made this Var; null for a leaf or a Var made with grad mode off.
  const std::shared_ptr<Node>& node() const;

  // A name for graphs and error messages: a parameter's dotted path, "loss", "x".
  const std::string& name() const;
  Var& set_name(std::string name);

  // The same value, cut off from the graph: gradients stop here.
  Var detach() const;

  // Shorthands for the value's metadata.
  const Shape& shape() const { return value().shape(); }
  int64_t dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  double item() const { return value().item(); }

  // Runs backward from this Var (see autograd/engine.h for the options).
  void backward() const;
  void backward(const Tensor& grad_output, bool retain_graph = false) const;

  // For the engine and the graph exporter: the shared state, and identity comparisons.
  struct Impl;
  const std::shared_ptr<Impl>& impl() const { return impl_; }
  explicit Var(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  bool same_as(const Var& other) const { return impl_ == other.impl_; }

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<Impl> impl_;
};

struct Var::Impl {
  Tensor value;
  Tensor grad;
  std::shared_ptr<Node> node;
  std::string name;
  bool requires_grad = false;
};

}  // namespace lumen
