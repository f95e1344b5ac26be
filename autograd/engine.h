#pragma once
// The backward engine: one iterative topological sort from the outputs, then every node's
// backward in reverse order, each node visited once.
#include <vector>

#include "autograd/var.h"

namespace lumen {

struct BackwardOptions {
  // Keep the graph (and every intermediate's gradient, for graph pictures) after the pass, so
  // backward can run through it again. Without it, the graph is freed as the pass goes.
  bool retain_graph = false;
  // Record the backward pass itself, so the gradients can be differentiated again.
  bool create_graph = false;
};

// Accumulates d(root)/d(leaf) into every leaf's .grad() that requires grad. `grad_output` is
// d(something)/d(root); it may be omitted only when root has one element.
void backward(const Var& root, const Tensor& grad_output = Tensor(), BackwardOptions options = {});
// Several roots at once (grad_outputs may be empty for scalar roots).
void backward(const std::vector<Var>& roots, const std::vector<Tensor>& grad_outputs,
              BackwardOptions options = {});

struct GradOptions {
  bool retain_graph = false;
  bool create_graph = false;  // implies retain_graph
  // An input that does not affect the outputs gets an undefined Var instead of an error.
  bool allow_unused = false;
};

// d(outputs)/d(inputs) as Vars, without touching any .grad(). With create_graph the results
// carry a graph of their own, for Hessian-vector products and gradgradcheck.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs = {}, GradOptions options = {});

}  // namespace lumen
