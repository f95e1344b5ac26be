// Elementwise ops on Vars: each forward calls the tensor op, and a few lines below, its backward
// says how the output's gradient g becomes the inputs' gradients. Every backward is written with
// Var ops, so with create_graph it is recorded and can be differentiated again.
//
// Binary ops broadcast: g has the output's shape, and sum_to folds it back onto each input's
// shape (it returns g itself when nothing was broadcast). An input that does not require a
// gradient gets an undefined Var, so no work is spent on it.
//
// Derivatives that are constant almost everywhere (relu's step, abs's sign, the max's choice)
// are computed as plain Tensors and enter the backward as constants: their own derivative is
// zero wherever it exists.
#include <cmath>
#include <numbers>
#include <string>

#include <fmt/format.h>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {
namespace {

// A Var that carries no gradient, for the constant factors of a backward.
Var constant(Tensor t) { return Var(std::move(t)); }

// A bool mask as 0/1 in the dtype of `like`, for use as a constant factor.
Var mask_as(const Tensor& mask, const Tensor& like) { return constant(mask.to(like.dtype())); }

bool wants(const Node& n, size_t i) { return n.input(i).requires_grad(); }

// The shortest text that reads back as x ("2", "0.5", "1e-10"): short labels for graphs.
std::string num(double x) { return fmt::format("{}", x); }

Var with_attrs(Var out, const std::string& attrs) {
  if (out.node()) out.node()->set_attrs(attrs);
  return out;
}

// The same for a one-number label; the number is formatted only if a graph asks for it (see
// Node::set_number_attr): these ops are the ones chained by the thousand on small tensors.
Var with_number_attr(Var out, const char* key, double value) {
  if (out.node()) out.node()->set_number_attr(key, value);
  return out;
}

}  // namespace

// ---- binary, broadcasting ----------------------------------------------------------------------

Var add(const Var& a, const Var& b) {
  // a, b broadcastable to out [*]
  return record("add", lumen::add(a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  return {wants(n, 0) ? sum_to(g, n.input(0).shape()) : Var(),
                          wants(n, 1) ? sum_to(g, n.input(1).shape()) : Var()};
                },
                Saved{.inputs = false});
}

Var sub(const Var& a, const Var& b) {
  // a, b broadcastable to out [*]
  return record("sub", lumen::sub(a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  return {wants(n, 0) ? sum_to(g, n.input(0).shape()) : Var(),
                          wants(n, 1) ? sum_to(neg(g), n.input(1).shape()) : Var()};
                },
                Saved{.inputs = false});
}

Var mul(const Var& a, const Var& b) {
  // a, b broadcastable to out [*]
  return record("mul", lumen::mul(a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& a = n.input(0);
                  const Var& b = n.input(1);
                  return {wants(n, 0) ? sum_to(mul(g, b), a.shape()) : Var(),
                          wants(n, 1) ? sum_to(mul(g, a), b.shape()) : Var()};
                });
}

Var div(const Var& a, const Var& b) {
  // out = a / b; d/da = 1/b, d/db = -a/b^2
  return record("div", lumen::div(a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& a = n.input(0);
                  const Var& b = n.input(1);
                  Var g_over_b = div(g, b);  // [*]
                  return {wants(n, 0) ? sum_to(g_over_b, a.shape()) : Var(),
                          wants(n, 1) ? sum_to(neg(div(mul(g_over_b, a), b)), b.shape()) : Var()};
                });
}

// Maximum and minimum send the gradient to the input that won; on a tie, half to each, which
// is the average of the two one-sided derivatives.
static Var pick(const char* op, Tensor value, const Var& a, const Var& b, bool larger) {
  return record(op, std::move(value), {a, b},
                [larger](const Node& n, const Var& g) -> Grads {
                  const Tensor& a = n.input(0).value();
                  const Tensor& b = n.input(1).value();
                  // share_a [*]: 1 where a wins, 1/2 on a tie, 0 where b wins
                  Tensor wins = (larger ? lumen::gt(a, b) : lumen::lt(a, b)).to(a.dtype());
                  Tensor share_a = lumen::add(wins, lumen::mul(lumen::eq(a, b).to(a.dtype()), 0.5));
                  Tensor share_b = lumen::sub(1.0, share_a);
                  return {wants(n, 0) ? sum_to(mul(g, constant(share_a)), a.shape()) : Var(),
                          wants(n, 1) ? sum_to(mul(g, constant(share_b)), b.shape()) : Var()};
                });
}

Var maximum(const Var& a, const Var& b) { return pick("maximum", lumen::maximum(a.value(), b.value()), a, b, true); }
Var minimum(const Var& a, const Var& b) { return pick("minimum", lumen::minimum(a.value(), b.value()), a, b, false); }

Var pow(const Var& a, const Var& exponent) {
  // out = a^p, a and p broadcastable to out [*]; d/da = p a^(p-1), d/dp = out * log(a)
  return record("pow", lumen::pow(a.value(), exponent.value()), {a, exponent},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& a = n.input(0);
                  const Var& p = n.input(1);
                  Grads grads(2);
                  if (wants(n, 0)) grads[0] = sum_to(mul(g, mul(p, pow(a, add(p, -1.0)))), a.shape());
                  if (wants(n, 1)) grads[1] = sum_to(mul(g, mul(n.output(), log(a))), p.shape());
                  return grads;
                },
                Saved{.inputs = true, .output = true});
}

// ---- with a scalar on one side -----------------------------------------------------------------

Var add(const Var& a, double b) {
  Var out = record("add", lumen::add(a.value(), b), {a},
                   [](const Node&, const Var& g) -> Grads { return {g}; }, Saved{.inputs = false});
  return with_number_attr(out, "scalar", b);
}

Var mul(const Var& a, double b) {
  // out = a * b; d/da = b
  Var out = record("mul", lumen::mul(a.value(), b), {a},
                   [b](const Node&, const Var& g) -> Grads { return {mul(g, b)}; }, Saved{.inputs = false});
  return with_number_attr(out, "scalar", b);
}

Var sub(double a, const Var& b) {
  // out = a - b; d/db = -1
  Var out = record("sub", lumen::sub(a, b.value()), {b},
                   [](const Node&, const Var& g) -> Grads { return {neg(g)}; }, Saved{.inputs = false});
  return with_number_attr(out, "scalar", a);
}

Var div(double a, const Var& b) {
  // out = a / b; d/db = -a / b^2
  Var out = record("div", lumen::div(a, b.value()), {b},
                   [a](const Node& n, const Var& g) -> Grads {
                     const Var& b = n.input(0);
                     return {div(mul(g, -a), square(b))};
                   });
  return with_number_attr(out, "scalar", a);
}

// a - s and a / s get their own nodes (rather than a + (-s) and a * (1/s)) so the forward value
// is exactly the tensor op's.
static Var sub_scalar(const Var& a, double b) {
  Var out = record("sub", lumen::operator-(a.value(), b), {a},
                   [](const Node&, const Var& g) -> Grads { return {g}; }, Saved{.inputs = false});
  return with_number_attr(out, "scalar", b);
}

static Var div_scalar(const Var& a, double b) {
  // out = a / b; d/da = 1/b
  Var out = record("div", lumen::operator/(a.value(), b), {a},
                   [b](const Node&, const Var& g) -> Grads { return {div_scalar(g, b)}; },
                   Saved{.inputs = false});
  return with_number_attr(out, "scalar", b);
}

Var neg(const Var& a) {
  return record("neg", lumen::neg(a.value()), {a},
                [](const Node&, const Var& g) -> Grads { return {neg(g)}; }, Saved{.inputs = false});
}

Var pow(const Var& a, double exponent) {
  // out = a^p; d/da = p a^(p-1). For p = 0 the derivative is 0 everywhere, even at a = 0 where
  // the formula would give 0 * inf.
  Var out = record("pow", lumen::pow(a.value(), exponent), {a},
                   [exponent](const Node& n, const Var& g) -> Grads {
                     const Var& a = n.input(0);
                     if (exponent == 0) return {mul(g, 0.0)};
                     if (exponent == 1) return {g};
                     if (exponent == 2) return {mul(g, mul(a, 2.0))};
                     return {mul(g, mul(pow(a, exponent - 1), exponent))};
                   });
  return with_number_attr(out, "exponent", exponent);
}

// ---- operators ---------------------------------------------------------------------------------

Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return div(a, b); }
Var operator+(const Var& a, double b) { return add(a, b); }
Var operator+(double a, const Var& b) { return add(b, a); }
Var operator-(const Var& a, double b) { return sub_scalar(a, b); }
Var operator-(double a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, double b) { return mul(a, b); }
Var operator*(double a, const Var& b) { return mul(b, a); }
Var operator/(const Var& a, double b) { return div_scalar(a, b); }
Var operator/(double a, const Var& b) { return div(a, b); }
Var operator-(const Var& a) { return neg(a); }

// ---- unary -------------------------------------------------------------------------------------
// In each: a [*], out [*], g [*].

Var exp(const Var& a) {
  // d/da = exp(a) = out
  return record("exp", lumen::exp(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {mul(g, n.output())}; },
                Saved{.inputs = false, .output = true});
}

Var log(const Var& a) {
  // d/da = 1/a
  return record("log", lumen::log(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {div(g, n.input(0))}; });
}

Var sqrt(const Var& a) {
  // d/da = 1 / (2 sqrt(a)) = 0.5 / out
  return record("sqrt", lumen::sqrt(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {div(mul(g, 0.5), n.output())}; },
                Saved{.inputs = false, .output = true});
}

Var square(const Var& a) {
  // d/da = 2a
  return record("square", lumen::square(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {mul(g, mul(n.input(0), 2.0))}; });
}

Var abs(const Var& a) {
  // d/da = sign(a), taken as 0 at the kink a = 0
  return record("abs", lumen::abs(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads {
                  return {mul(g, constant(lumen::sign(n.input(0).value())))};
                });
}

Var sin(const Var& a) {
  // d/da = cos(a)
  return record("sin", lumen::sin(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {mul(g, cos(n.input(0)))}; });
}

Var cos(const Var& a) {
  // d/da = -sin(a)
  return record("cos", lumen::cos(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {neg(mul(g, sin(n.input(0))))}; });
}

Var tanh(const Var& a) {
  // d/da = 1 - tanh(a)^2 = 1 - out^2
  return record("tanh", lumen::tanh(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {mul(g, sub(1.0, square(n.output())))}; },
                Saved{.inputs = false, .output = true});
}

Var sigmoid(const Var& a) {
  // d/da = s (1 - s) with s = out
  return record("sigmoid", lumen::sigmoid(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads {
                  Var s = n.output();
                  return {mul(g, mul(s, sub(1.0, s)))};
                },
                Saved{.inputs = false, .output = true});
}

Var relu(const Var& a) {
  // d/da = 1 where a > 0, else 0 (0 at the kink)
  return record("relu", lumen::relu(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads {
                  const Tensor& a = n.input(0).value();
                  return {mul(g, mask_as(lumen::gt(a, 0.0), a))};
                });
}

// gelu(x) = x Phi(x), so gelu'(x) = Phi(x) + x phi(x), with phi the standard normal density.
// gelu' is an op of its own so that it can be differentiated too:
//   gelu''(x) = phi(x) + phi(x) + x phi'(x) = phi(x) (2 - x^2),   as phi'(x) = -x phi(x).
// Its backward is written with Var ops, so gelu has derivatives of every order.
static Var gelu_derivative(const Var& x) {
  return record("gelu_grad", lumen::gelu_grad(x.value()), {x},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& x = n.input(0);
                  const double inv_sqrt_2pi = 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
                  Var x2 = square(x);
                  Var phi = mul(exp(mul(x2, -0.5)), inv_sqrt_2pi);  // [*]
                  return {mul(g, mul(phi, sub(2.0, x2)))};
                });
}

Var gelu(const Var& a) {
  // d/da = gelu'(a) = Phi(a) + a phi(a)
  return record("gelu", lumen::gelu(a.value()), {a},
                [](const Node& n, const Var& g) -> Grads { return {mul(g, gelu_derivative(n.input(0)))}; });
}

Var clamp(const Var& a, double lo, double hi) {
  // d/da = 1 inside [lo, hi] (boundaries included, as in PyTorch), 0 where clamped
  Var out = record("clamp", lumen::clamp(a.value(), lo, hi), {a},
                   [lo, hi](const Node& n, const Var& g) -> Grads {
                     const Tensor& a = n.input(0).value();
                     Tensor inside = lumen::logical_not(lumen::logical_or(lumen::lt(a, lo), lumen::gt(a, hi)));
                     return {mul(g, mask_as(inside, a))};
                   });
  return with_attrs(out, "lo=" + num(lo) + " hi=" + num(hi));
}

// ---- selection ---------------------------------------------------------------------------------

Var where(const Tensor& cond, const Var& a, const Var& b) {
  // cond, a, b broadcastable to out [*]; the gradient goes where each value was taken from
  return record("where", lumen::where(cond, a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  const Tensor& cond = n.saved(0).value();
                  Grads grads(2);
                  if (wants(n, 0)) grads[0] = sum_to(masked_fill(g, lumen::logical_not(cond), 0.0), n.input(0).shape());
                  if (wants(n, 1)) grads[1] = sum_to(masked_fill(g, cond, 0.0), n.input(1).shape());
                  return grads;
                },
                Saved{.inputs = false, .extra = {Var(cond)}});
}

Var masked_fill(const Var& a, const Tensor& mask, double value) {
  // a [*], mask broadcastable to [*]; filled places get no gradient
  Var out = record("masked_fill", lumen::masked_fill(a.value(), mask, value), {a},
                   [](const Node& n, const Var& g) -> Grads {
                     return {sum_to(masked_fill(g, n.saved(0).value(), 0.0), n.input(0).shape())};
                   },
                   Saved{.inputs = false, .extra = {Var(mask)}});
  return with_number_attr(out, "value", value);
}

}  // namespace lumen
