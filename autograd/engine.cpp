#include "autograd/engine.h"

#include <atomic>
#include <cmath>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {
namespace {

uint64_t next_pass_mark() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

// Every node reachable from `roots`, producers after their consumers reversed: the returned
// order lists a node only after all nodes that feed it, so walking it backwards visits each
// node after every consumer has added its share of the gradient. Iterative (an explicit stack),
// because an RNN unrolled over many steps makes graphs far deeper than the call stack.
std::vector<std::shared_ptr<Node>> topological_order(const std::vector<Var>& roots) {
  const uint64_t mark = next_pass_mark();
  std::vector<std::shared_ptr<Node>> order;
  struct Frame {
    Node* node;
    size_t next_input;
  };
  std::vector<Frame> stack;
  std::vector<std::shared_ptr<Node>> keep;  // owners of the nodes on the stack
  for (const Var& root : roots) {
    const auto& start = root.node();
    if (!start || start->visit_mark == mark) continue;
    start->visit_mark = mark;
    stack.push_back({start.get(), 0});
    keep.push_back(start);
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next_input < top.node->inputs().size()) {
        const Var& in = top.node->input(top.next_input++);
        const auto& child = in.node();
        if (child && child->visit_mark != mark) {
          child->visit_mark = mark;
          stack.push_back({child.get(), 0});
          keep.push_back(child);
        }
      } else {
        order.push_back(std::move(keep.back()));
        keep.pop_back();
        stack.pop_back();
      }
    }
  }
  return order;  // post-order: inputs before the nodes that use them
}

void check_grad_finite(const Node& node, size_t input, const Var& g) {
  const Tensor& t = g.value();
  bool bad = false;
  visit_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Tensor c = t.contiguous();
    const T* p = c.data<T>();
    for (int64_t i = 0, n = c.numel(); i < n && !bad; ++i) bad = !std::isfinite(p[i]);
  });
  if (bad)
    throw AnomalyError("anomaly: backward of '" + std::string(node.op()) + "'" +
                       (node.scope().empty() ? "" : " in scope '" + node.scope() + "'") +
                       " produced NaN or Inf in the gradient of its input " + std::to_string(input) +
                       " (shape " + shape_str(g.shape()) + ")");
}

// Where a pass sends the gradients that reach leaves: into .grad (backward) or into a table of
// requested inputs (grad()).
struct Sink {
  std::unordered_map<const Var::Impl*, size_t>* wanted = nullptr;  // null: accumulate into .grad
  std::vector<Var>* results = nullptr;
};

void add_into(Var& slot, const Var& g) { slot = slot.defined() ? add(slot, g) : g; }

void deliver_to_leaf(const Var& leaf, const Var& g, const Sink& sink) {
  if (sink.wanted) {
    auto it = sink.wanted->find(leaf.impl().get());
    if (it != sink.wanted->end()) add_into((*sink.results)[it->second], g);
    return;
  }
  // Accumulate into .grad. A gradient that nothing else holds is adopted as is; a shared one
  // (add's backward hands the same gradient to both inputs) is copied, so that an in-place
  // update of one .grad, such as gradient clipping, cannot change another.
  Var::Impl& impl = *leaf.impl();
  const Tensor& t = g.value();
  if (impl.grad.defined()) {
    impl.grad = lumen::add(impl.grad, t);
  } else {
    bool sole_owner = g.impl().use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous();
    impl.grad = sole_owner ? t : t.clone();
  }
}

void run_backward(const std::vector<Var>& roots, const std::vector<Var>& seeds, bool retain_graph,
                  bool create_graph, const Sink& sink) {
  GradModeGuard mode(create_graph);
  std::vector<std::shared_ptr<Node>> order = topological_order(roots);
  for (const auto& node : order)
    if (node->released())
      throw GraphError("backward: the graph through '" + std::string(node->op()) +
                       "' was already freed by an earlier backward; pass retain_graph = true to the "
                       "first backward to run backward through it again");

  std::unordered_map<const Node*, size_t> wanted_nodes;  // grad() of intermediate Vars
  if (sink.wanted)
    for (auto& [impl, index] : *sink.wanted)
      if (impl->node) wanted_nodes[impl->node.get()] = index;

  for (size_t i = 0; i < roots.size(); ++i) {
    if (roots[i].node())
      add_into(roots[i].node()->grad_accumulator, seeds[i]);
    else
      deliver_to_leaf(roots[i], seeds[i], sink);
  }

  // A backward that reads its node's output (tanh, exp, softmax) finds it through a weak
  // pointer, and only the consumers hold the output; releasing a consumer first would free it.
  // So the pass holds those outputs until their own node has run.
  std::vector<Var> saved_outputs(order.size());
  for (size_t k = 0; k < order.size(); ++k)
    if (order[k]->saved_spec().output) saved_outputs[k] = order[k]->output();

  const bool check = anomaly_enabled();
  for (size_t k = order.size(); k-- > 0;) {
    Node& node = *order[k];
    Var g = std::move(node.grad_accumulator);
    node.grad_accumulator = Var();
    if (g.defined()) {
      if (auto it = wanted_nodes.find(&node); it != wanted_nodes.end()) add_into((*sink.results)[it->second], g);
      if (retain_graph && !sink.wanted) {
        // Keep every intermediate's gradient while the graph is kept, for graph pictures.
        Var out = node.output();
        if (out.defined()) out.impl()->grad = g.value();
      }
      Grads grads;
      try {
        grads = node.backward(g);
      } catch (const AnomalyError& e) {
        // The NaN came from an op inside this node's backward: say whose backward it was.
        throw AnomalyError("anomaly: backward of '" + std::string(node.op()) + "'" +
                           (node.scope().empty() ? "" : " in scope '" + node.scope() + "'") + ": " + e.what());
      }
      for (size_t i = 0; i < grads.size() && i < node.inputs().size(); ++i) {
        const Var& in = node.input(i);
        const Var& gi = grads[i];
        if (!gi.defined() || !in.requires_grad()) continue;
        if (gi.shape() != in.shape())
          throw GraphError("backward of '" + std::string(node.op()) + "': gradient of input " + std::to_string(i) +
                           " has shape " + shape_str(gi.shape()) + " but the input has shape " +
                           shape_str(in.shape()) + " (a bug in that op's backward)");
        if (check) check_grad_finite(node, i, gi);
        if (in.node())
          add_into(in.node()->grad_accumulator, gi);
        else
          deliver_to_leaf(in, gi, sink);
      }
    }
    if (!retain_graph) node.release();
    saved_outputs[k] = Var();
  }
}

Var seed_for(const Var& root, const Tensor& grad_output, const char* who) {
  if (!root.defined()) throw ValueError(std::string(who) + ": the output Var is undefined");
  if (!root.requires_grad())
    throw GraphError(std::string(who) + ": the output of shape " + shape_str(root.shape()) +
                     " does not require grad (no input requires grad, or it was computed under NoGradGuard)");
  if (!grad_output.defined()) {
    if (root.numel() != 1)
      throw GraphError(std::string(who) + ": the output has shape " + shape_str(root.shape()) +
                       "; without a gradient, backward needs a scalar (one element). Pass grad_output, "
                       "or reduce the output with sum() or mean() first");
    return Var(Tensor::ones(root.shape(), root.dtype()));
  }
  if (grad_output.shape() != root.shape())
    throw ShapeError(std::string(who) + ": grad_output has shape " + shape_str(grad_output.shape()) +
                     " but the output has shape " + shape_str(root.shape()));
  if (grad_output.dtype() != root.dtype())
    throw DTypeError(std::string(who) + ": grad_output is " + std::string(dtype_name(grad_output.dtype())) +
                     " but the output is " + std::string(dtype_name(root.dtype())));
  return Var(grad_output);
}

}  // namespace

void backward(const Var& root, const Tensor& grad_output, BackwardOptions options) {
  backward(std::vector<Var>{root}, grad_output.defined() ? std::vector<Tensor>{grad_output} : std::vector<Tensor>{},
           options);
}

void backward(const std::vector<Var>& roots, const std::vector<Tensor>& grad_outputs, BackwardOptions options) {
  if (!grad_outputs.empty() && grad_outputs.size() != roots.size())
    throw ValueError("backward: " + std::to_string(roots.size()) + " outputs but " +
                     std::to_string(grad_outputs.size()) + " gradients");
  std::vector<Var> seeds;
  for (size_t i = 0; i < roots.size(); ++i)
    seeds.push_back(seed_for(roots[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], "backward"));
  run_backward(roots, seeds, options.retain_graph || options.create_graph, options.create_graph, Sink{});
}

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, GradOptions options) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw ValueError("grad: " + std::to_string(outputs.size()) + " outputs but " +
                     std::to_string(grad_outputs.size()) + " gradients");
  std::vector<Var> seeds;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i].value();
    Var seed = seed_for(outputs[i], g, "grad");
    // A seed that carries a graph (a Var gradient) keeps it, for double backward.
    seeds.push_back(grad_outputs.empty() ? seed : grad_outputs[i]);
  }
  std::unordered_map<const Var::Impl*, size_t> wanted;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad())
      throw GraphError("grad: input " + std::to_string(i) + " (shape " + shape_str(inputs[i].shape()) +
                       ") does not require grad");
    wanted[inputs[i].impl().get()] = i;
  }
  std::vector<Var> results(inputs.size());
  run_backward(outputs, seeds, options.retain_graph || options.create_graph, options.create_graph,
               Sink{&wanted, &results});
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!results[i].defined() && !options.allow_unused)
      throw GraphError("grad: input " + std::to_string(i) + " (shape " + shape_str(inputs[i].shape()) +
                       ") does not affect the outputs; pass allow_unused = true to get an undefined gradient");
  return results;
}

}  // namespace lumen
