#pragma once
// Node: one recorded op in the graph. It keeps the Vars it was applied to (the graph's edges),
// what its backward needs, and the backward itself.
//
// Ops create nodes through record(); see autograd/ops_elementwise.cpp for the pattern:
//
//   Var mul(const Var& a, const Var& b) {
//     // out = a * b, broadcast: out [*], a and b broadcastable to [*]
//     return record("mul", lumen::mul(a.value(), b.value()), {a, b},
//                   [](const Node& n, const Var& g) -> Grads {
//                     const Var& a = n.input(0);
//                     const Var& b = n.input(1);
//                     return {sum_to(g * b, a.shape()), sum_to(g * a, b.shape())};
//                   });
//   }
//
// Backward formulas are written with Var ops, not Tensor ops. During a plain backward() grad
// mode is off, so they record nothing; with grad(..., {.create_graph = true}) they record a
// graph of the gradient, which can be differentiated again.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace lumen {

// One gradient per input of a node, in input order; an undefined Var means "no gradient".
using Grads = std::vector<Var>;

// What a node keeps for its backward beyond its inputs' handles, so graphs can show it
// (DotOptions::show_saved) and backward can release it.
struct Saved {
  bool inputs = true;         // backward reads the inputs' values
  bool output = false;        // backward reads the output (tanh, exp, softmax)
  std::vector<Var> extra = {};  // anything else: masks, indices, statistics
};

class Node {
 public:
  Node(const char* op, std::vector<Var> inputs, Saved saved);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* op() const { return op_; }
  const std::vector<Var>& inputs() const { return inputs_; }
  const Var& input(size_t i) const { return inputs_[i]; }
  // The Var this node produced. Held weakly, so the output does not keep itself alive.
  Var output() const;
  const Var& saved(size_t i) const { return saved_.extra[i]; }
  const Saved& saved_spec() const { return saved_; }
  // Scope path at the time of recording, e.g. "decoder.attn" (empty at top level).
  const std::string& scope() const { return *scope_; }
  // Short extra facts for the graph label, e.g. "dim=-1".
  std::string attrs() const;
  void set_attrs(std::string attrs) { attrs_ = std::move(attrs); }
  // A label of one number, "key=value" (x * 0.5 gives "scalar=0.5"). Only the number is kept;
  // the text is made when a graph asks for it, because formatting a double costs more than a
  // whole op on a small tensor. `key` must be a string literal.
  void set_number_attr(const char* key, double value) {
    number_key_ = key;
    number_ = value;
  }

  // Gradients of the inputs from the gradient of the output.
  Grads backward(const Var& grad_output) const;

  // After a backward without retain_graph, the node lets go of its inputs, what it saved and
  // its backward, so the graph's memory is returned at once.
  bool released() const { return released_; }
  void release();

  // Nodes alive right now (for tests that check the graph is freed).
  static int64_t live_count();
  // A number that grows with every node created: tells a backward graph's nodes (made during a
  // grad pass) from the forward nodes they read.
  uint64_t serial() const { return serial_; }
  static uint64_t next_serial();

  // For the engine: where gradients from several consumers of the output add up.
  Var grad_accumulator;
  // For the engine's topological sort: the pass that last visited this node.
  uint64_t visit_mark = 0;
  void set_output(const std::shared_ptr<Var::Impl>& out) { output_ = out; }

 protected:
  virtual Grads run_backward(const Var& grad_output) const = 0;
  virtual void release_backward() = 0;

 private:
  const char* op_;
  std::vector<Var> inputs_;
  Saved saved_;
  std::weak_ptr<Var::Impl> output_;
  const std::string* scope_;
  uint64_t serial_;
  std::string attrs_;
  const char* number_key_ = nullptr;  // set_number_attr
  double number_ = 0;
  bool released_ = false;
};

// A node whose backward is a lambda; one allocation holds both.
template <class Fn>
class LambdaNode final : public Node {
 public:
  LambdaNode(const char* op, std::vector<Var> inputs, Saved saved, Fn fn)
      : Node(op, std::move(inputs), std::move(saved)), fn_(std::move(fn)) {}

 protected:
  Grads run_backward(const Var& grad_output) const override { return (*fn_)(*this, grad_output); }
  void release_backward() override { fn_.reset(); }

 private:
  std::optional<Fn> fn_;
};

// True if an op on `inputs` must be recorded: grad mode is on and some input requires a grad.
bool needs_graph(const std::vector<Var>& inputs);
// The output Var of a recorded op: holds `value`, points at `node`, requires grad.
Var attach_node(Tensor value, std::shared_ptr<Node> node);
// The output of an op that is not recorded.
Var plain_output(const char* op, Tensor value);

// Wraps `value` as the output of op `op` applied to `inputs`. If grad mode is on and any input
// requires a gradient, a node with `backward` is recorded; otherwise the result is a plain Var
// and nothing is kept. With anomaly detection on, a NaN or Inf in `value` throws here.
template <class Fn>
Var record(const char* op, Tensor value, std::vector<Var> inputs, Fn backward, Saved saved = {}) {
  if (!needs_graph(inputs)) return plain_output(op, std::move(value));
  auto node = std::make_shared<LambdaNode<Fn>>(op, std::move(inputs), std::move(saved), std::move(backward));
  return attach_node(std::move(value), std::move(node));
}

}  // namespace lumen
