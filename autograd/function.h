#pragma once
// Custom ops, written the way a learner writes one in the exercises: a struct with a forward
// and a backward over plain Tensors, and a Context to carry what backward needs.
//
//   struct Square {
//     static constexpr const char* name = "square";
//     // x [*] -> y [*]
//     static Tensor forward(Context& ctx, const Tensor& x) {
//       ctx.save_for_backward({x});
//       return lumen::mul(x, x);
//     }
//     // dL/dy [*] -> {dL/dx [*]}
//     static std::vector<Tensor> backward(Context& ctx, const Tensor& grad_y) {
//       const Tensor& x = ctx.saved_tensors()[0];
//       return {lumen::mul(grad_y, lumen::mul(x, 2.0))};
//     }
//   };
//   Var y = apply<Square>(x);
//
// Its backward works on Tensors, so a custom op is differentiable once (enough for gradcheck);
// the built-in ops, written with Vars, can be differentiated again.
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace lumen {

class Context {
 public:
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  const std::vector<Tensor>& saved_tensors() const { return saved_; }
  // Whether input i needs a gradient (backward may skip work for the others).
  bool needs_input_grad(size_t i) const { return i < needs_grad_.size() && needs_grad_[i]; }
  // Numbers forward wants to pass to backward (a dim, a scale).
  std::vector<double> values;

  std::vector<bool> needs_grad_;  // set by apply()

 private:
  std::vector<Tensor> saved_;
};

// Throws a clear error if a custom op's backward returned the wrong number or shapes of grads.
void check_custom_grads(const char* op, const std::vector<Var>& inputs, const std::vector<Tensor>& grads);

template <class Op, class... Vars>
Var apply(const Vars&... vars) {
  std::vector<Var> inputs{vars...};
  auto ctx = std::make_shared<Context>();
  for (const Var& v : inputs) ctx->needs_grad_.push_back(v.requires_grad());
  Tensor out;
  {
    NoGradGuard no_grad;  // forward sees plain tensors; nothing inside is recorded
    out = Op::forward(*ctx, vars.value()...);
  }
  if (!needs_graph(inputs)) return plain_output(Op::name, std::move(out));
  Saved saved{.inputs = false};
  for (const Tensor& t : ctx->saved_tensors()) saved.extra.push_back(Var(t));
  auto backward = [ctx](const Node& n, const Var& g) -> Grads {
    std::vector<Tensor> grads = Op::backward(*ctx, g.value());
    check_custom_grads(Op::name, n.inputs(), grads);
    Grads out;
    for (Tensor& t : grads) out.push_back(t.defined() ? Var(std::move(t)) : Var());
    return out;
  };
  auto node = std::make_shared<LambdaNode<decltype(backward)>>(Op::name, std::move(inputs), std::move(saved),
                                                               std::move(backward));
  return attach_node(std::move(out), std::move(node));
}

}  // namespace lumen
