#pragma once
// What every exercise file includes: the custom-op machinery (autograd/function.h), the tensor
// ops a backward is written with (tensor/ops.h), and NotImplemented, the exception a backward
// still at its TODO throws. `lumen exercise` catches it and says "not implemented yet" rather
// than reporting a wrong gradient.
//
// Below it, ExerciseOp: how the checker (lessons/common/exercise_check.h) holds one custom op,
// whatever its number of inputs. A learner never needs to read that part.
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/function.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lumen {

// Thrown by an exercise's backward until the learner writes it. `where` names the function,
// e.g. "Tanh::backward".
struct NotImplemented : Error {
  explicit NotImplemented(const std::string& where) : Error("not implemented yet: " + where), where_(where) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

namespace lessons {

// One custom op as the checker sees it.
struct ExerciseOp {
  std::string name;  // Op::name
  size_t arity = 0;  // how many tensors forward takes
  // forward alone, on plain tensors.
  std::function<Tensor(const std::vector<Tensor>&)> forward;
  // forward on a fresh Context, then backward with `grad` as dL/dout: exactly what backward
  // returns, before any check.
  std::function<std::vector<Tensor>(const std::vector<Tensor>&, const Tensor& grad)> backward;
  // The op in a graph, for gradcheck. A gradient whose shape does not match its input is
  // dropped (the checker has already reported it), so the other inputs can still be checked.
  std::function<Var(const std::vector<Var>&)> apply;
};

namespace detail {

template <class... Args>
constexpr size_t forward_arity(Tensor (*)(Context&, Args...)) {
  return sizeof...(Args);
}

template <class Op, size_t... I>
Tensor forward_unpacked(Context& ctx, const std::vector<Tensor>& xs, std::index_sequence<I...>) {
  return Op::forward(ctx, xs[I]...);
}

// Op with the shape check described at ExerciseOp::apply. The input shapes travel to backward
// at the end of ctx.values, appended after Op::forward has finished and removed before
// Op::backward runs, so Op sees its Context exactly as it left it.
template <class Op>
struct ShapeSafe {
  static constexpr const char* name = Op::name;

  template <class... Ts>
  static Tensor forward(Context& ctx, const Ts&... xs) {
    Tensor out = Op::forward(ctx, xs...);
    for (const Tensor* x : {&xs...}) {
      for (int64_t d : x->shape()) ctx.values.push_back(static_cast<double>(d));
      ctx.values.push_back(static_cast<double>(x->dim()));
    }
    ctx.values.push_back(static_cast<double>(sizeof...(Ts)));
    return out;
  }

  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    auto pop = [&] {
      const double v = ctx.values.back();
      ctx.values.pop_back();
      return static_cast<int64_t>(v);
    };
    std::vector<Shape> shapes(static_cast<size_t>(pop()));
    for (size_t i = shapes.size(); i-- > 0;) {
      std::vector<int64_t> dims(static_cast<size_t>(pop()));
      for (size_t d = dims.size(); d-- > 0;) dims[d] = pop();
      shapes[i] = Shape(dims);
    }
    std::vector<Tensor> grads = Op::backward(ctx, grad);
    for (size_t i = 0; i < grads.size() && i < shapes.size(); ++i)
      if (grads[i].defined() && grads[i].shape() != shapes[i]) grads[i] = Tensor();
    return grads;
  }
};

template <class Op, size_t... I>
Var apply_unpacked(const std::vector<Var>& xs, std::index_sequence<I...>) {
  return apply<ShapeSafe<Op>>(xs[I]...);
}

}  // namespace detail

template <class Op>
ExerciseOp bind_exercise_op() {
  constexpr size_t n = detail::forward_arity(&Op::forward);
  using Indices = std::make_index_sequence<n>;
  ExerciseOp op;
  op.name = Op::name;
  op.arity = n;
  op.forward = [](const std::vector<Tensor>& xs) {
    Context ctx;
    ctx.needs_grad_.assign(xs.size(), true);
    return detail::forward_unpacked<Op>(ctx, xs, Indices{});
  };
  op.backward = [](const std::vector<Tensor>& xs, const Tensor& grad) {
    Context ctx;
    ctx.needs_grad_.assign(xs.size(), true);
    detail::forward_unpacked<Op>(ctx, xs, Indices{});
    return Op::backward(ctx, grad);
  };
  op.apply = [](const std::vector<Var>& xs) { return detail::apply_unpacked<Op>(xs, Indices{}); };
  return op;
}

}  // namespace lessons
}  // namespace lumen
