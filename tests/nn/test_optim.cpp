// Optimizers, schedules and gradient clipping against values worked out by hand from the
// published update rules (torch.optim docs). Every optimizer test runs three steps on
//   p0 = [1, 2] with gradients g1 = [0.5, -1], g2 = [0.25, 0.5], g3 = [-1, 1] and lr = 0.1.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

const std::vector<std::vector<double>> kGrads = {{0.5, -1.0}, {0.25, 0.5}, {-1.0, 1.0}};

Var param(DType dtype = DType::f64, std::vector<double> values = {1.0, 2.0}) {
  Var p(Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, dtype), true);
  p.set_name("w");
  return p;
}

// Runs the three steps and returns p after each.
std::vector<std::vector<double>> run(Optimizer& opt, Var& p) {
  std::vector<std::vector<double>> out;
  for (const auto& g : kGrads) {
    opt.zero_grad();
    p.set_grad(Tensor::from_vector(g, {2}, p.dtype()));
    opt.step();
    out.push_back(p.value().to_vector());
  }
  return out;
}

void check(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want,
           double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t s = 0; s < want.size(); ++s)
    for (size_t i = 0; i < want[s].size(); ++i) {
      INFO("step " << s + 1 << " element " << i);
      CHECK(got[s][i] == Approx(want[s][i]).margin(tol).epsilon(0));
    }
}

}  // namespace

TEST_CASE("SGD without momentum is p - lr g", "[nn][optim]") {
  // p1 = [1 - 0.1*0.5, 2 + 0.1*1]        = [0.95, 2.1]
  // p2 = [0.95 - 0.025, 2.1 - 0.05]      = [0.925, 2.05]
  // p3 = [0.925 + 0.1, 2.05 - 0.1]       = [1.025, 1.95]
  for (DType dt : {DType::f64, DType::f32}) {
    Var p = param(dt);
    SGD opt({p}, {.lr = 0.1});
    check(run(opt, p), {{0.95, 2.1}, {0.925, 2.05}, {1.025, 1.95}}, dt == DType::f32 ? 1e-6 : 1e-12);
  }
}

TEST_CASE("SGD momentum starts its buffer at the first gradient", "[nn][optim]") {
  // momentum 0.9: b1 = g1 = [0.5, -1]                         p1 = [0.95, 2.1]
  // b2 = 0.9 b1 + g2 = [0.45 + 0.25, -0.9 + 0.5] = [0.7, -0.4]   p2 = [0.95 - 0.07, 2.1 + 0.04] = [0.88, 2.14]
  // b3 = 0.9 b2 + g3 = [0.63 - 1, -0.36 + 1] = [-0.37, 0.64]     p3 = [0.88 + 0.037, 2.14 - 0.064] = [0.917, 2.076]
  Var p = param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  check(run(opt, p), {{0.95, 2.1}, {0.88, 2.14}, {0.917, 2.076}});
}

TEST_CASE("SGD dampening scales new gradients but not the first", "[nn][optim]") {
  // momentum 0.9, dampening 0.5: b1 = g1 (no dampening on the first step)  p1 = [0.95, 2.1]
  // b2 = 0.9 [0.5, -1] + 0.5 [0.25, 0.5] = [0.575, -0.65]       p2 = [0.95 - 0.0575, 2.1 + 0.065] = [0.8925, 2.165]
  // b3 = 0.9 [0.575, -0.65] + 0.5 [-1, 1] = [0.0175, -0.085]     p3 = [0.8925 - 0.00175, 2.165 + 0.0085] = [0.89075, 2.1735]
  Var p = param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  check(run(opt, p), {{0.95, 2.1}, {0.8925, 2.165}, {0.89075, 2.1735}});
}

TEST_CASE("SGD nesterov steps along g + momentum * b", "[nn][optim]") {
  // b as in the momentum test. d1 = g1 + 0.9 b1 = [0.5 + 0.45, -1 - 0.9] = [0.95, -1.9]    p1 = [0.905, 2.19]
  // d2 = [0.25 + 0.63, 0.5 - 0.36] = [0.88, 0.14]                 p2 = [0.905 - 0.088, 2.19 - 0.014] = [0.817, 2.176]
  // d3 = [-1 - 0.333, 1 + 0.576] = [-1.333, 1.576]                p3 = [0.817 + 0.1333, 2.176 - 0.1576] = [0.9503, 2.0184]
  for (DType dt : {DType::f64, DType::f32}) {
    Var p = param(dt);
    SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    check(run(opt, p), {{0.905, 2.19}, {0.817, 2.176}, {0.9503, 2.0184}}, dt == DType::f32 ? 1e-6 : 1e-12);
  }
}

TEST_CASE("SGD weight decay adds wd * p to the gradient before momentum", "[nn][optim]") {
  // wd 0.1, momentum 0.9.
  // d1 = g1 + 0.1 [1, 2] = [0.6, -0.8]; b1 = d1                   p1 = [1 - 0.06, 2 + 0.08] = [0.94, 2.08]
  // d2 = [0.25 + 0.094, 0.5 + 0.208] = [0.344, 0.708]
  // b2 = [0.54 + 0.344, -0.72 + 0.708] = [0.884, -0.012]          p2 = [0.94 - 0.0884, 2.08 + 0.0012] = [0.8516, 2.0812]
  // d3 = [-1 + 0.08516, 1 + 0.20812] = [-0.91484, 1.20812]
  // b3 = [0.7956 - 0.91484, -0.0108 + 1.20812] = [-0.11924, 1.19732]
  //                                                               p3 = [0.8516 + 0.011924, 2.0812 - 0.119732] = [0.863524, 1.961468]
  Var p = param();
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  check(run(opt, p), {{0.94, 2.08}, {0.8516, 2.0812}, {0.863524, 1.961468}});
}

TEST_CASE("Adam follows the bias-corrected update", "[nn][optim]") {
  // beta1 0.9, beta2 0.999, eps 1e-8, lr 0.1.
  // t=1: m = 0.1 g1 = [0.05, -0.1], v = 0.001 g1^2 = [0.00025, 0.001]; m_hat = m / 0.1 = g1,
  //      v_hat = v / 0.001 = g1^2, so p -= 0.1 g1 / (|g1| + 1e-8):
  //      p1 = [1 - 0.05 / 0.50000001, 2 + 0.1 / 1.00000001] = [0.900000002, 2.099999999]
  // t=2: m = 0.9 [0.05, -0.1] + 0.1 [0.25, 0.5] = [0.07, -0.04]
  //      v = 0.999 [0.00025, 0.001] + 0.001 [0.0625, 0.25] = [0.00031225, 0.001249]
  //      m_hat = m / (1 - 0.81) = [0.3684211, -0.2105263]; v_hat = v / (1 - 0.998001) = [0.1562031, 0.6248124]
  //      p2 = p1 - 0.1 m_hat / (sqrt(v_hat) + eps) = p1 - [0.0932180, -0.0266337] = [0.8067820, 2.1266337]
  // t=3: m = 0.9 m + 0.1 g3 = [-0.037, 0.064]; v = 0.999 v + 0.001 g3^2 = [0.00131193775, 0.002247751]
  //      m_hat = m / 0.271 = [-0.1365314, 0.2361624]; v_hat = v / 0.002997001 = [0.4377502, 0.7500001]
  //      p3 = p2 - 0.1 [-0.1365314 / 0.6616269, 0.2361624 / 0.8660255] = p2 - [-0.0206357, 0.0272697]
  //         = [0.8274177, 2.0993640]
  for (DType dt : {DType::f64, DType::f32}) {
    Var p = param(dt);
    Adam opt({p}, {.lr = 0.1});
    check(run(opt, p),
          {{0.900000002, 2.099999999},
           {0.8067820404774624, 2.1266337026290967},
           {0.8274177428854115, 2.0993640238493074}},
          dt == DType::f32 ? 1e-6 : 1e-12);
  }
}

TEST_CASE("Adam weight decay is L2 through the gradient, AdamW decays the weights directly", "[nn][optim]") {
  // Adam, wd 0.1: g1' = g1 + 0.1 p0 = [0.6, -0.8]. The normalisation cancels its size: t=1 moves
  // each weight by lr * sign(g1') = 0.1, so p1 = [1 - 0.06/0.60000001, 2 + 0.08/0.80000001]
  //                                              = [0.9000000016666666, 2.09999999875].
  Var a = param();
  Adam adam({a}, {.lr = 0.1, .weight_decay = 0.1});
  check(run(adam, a),
        {{0.9000000016666666, 2.09999999875},
         {0.8050097658613199, 2.1006958914927063},
         {0.8120982607786772, 2.053172614776263}});

  // AdamW, wd 0.1: first p *= 1 - lr wd = 0.99, so [0.99, 1.98]; then the plain Adam step of
  // about lr * sign(g1): p1 = [0.99 - 0.1 + 2e-9, 1.98 + 0.1 - 1e-9] = [0.890000002, 2.079999999].
  // Later steps: the same moments as plain Adam (the decay never enters the gradient), so each
  // step is (previous p) * 0.99 minus the plain Adam update: p2 = 0.99 p1 - 0.0932180... etc.
  Var w = param();
  AdamW adamw({w}, {.lr = 0.1, .weight_decay = 0.1});
  check(run(adamw, w),
        {{0.890000002, 2.079999999},
         {0.7878820404574624, 2.0858337026390967},
         {0.8006389224608368, 2.0377056868329166}});
  // The defaults differ too: AdamW decays by 1e-2 unless told otherwise, Adam not at all.
  CHECK(AdamWOptions{}.weight_decay == 0.01);
  CHECK(AdamOptions{}.weight_decay == 0);
}

TEST_CASE("a parameter without a gradient is skipped and keeps its own Adam step count", "[nn][optim]") {
  Var a = param(), b = param(DType::f64, {5.0});
  Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(Tensor::from_vector(std::vector<double>{1.0, 1.0}, {2}, DType::f64));
  opt.step();  // b has no gradient yet
  CHECK(b.value().to_vector() == std::vector<double>{5.0});
  CHECK(a.value().at({0}) == Approx(0.9).margin(1e-7));
  // b's first real step uses t = 1 bias correction: a move of lr * sign(g) = 0.1, not the smaller
  // step that t = 2 would give.
  b.set_grad(Tensor::from_vector(std::vector<double>{-3.0}, {1}, DType::f64));
  opt.step();
  CHECK(b.value().at({0}) == Approx(5.1).margin(1e-7));
  CHECK(opt.steps() == 2);
}

TEST_CASE("optimizers update strided parameters through their view", "[nn][optim]") {
  // A parameter that is a transposed view: the update must land in the viewed storage.
  Tensor base = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  Var p(base.transpose(0, 1), true);  // [3, 2], not contiguous
  SGD opt({p}, {.lr = 0.5});
  p.set_grad(Tensor::ones({3, 2}, DType::f64));
  opt.step();
  CHECK(base.to_vector() == std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5});
  // A gradient that is an expanded view (stride 0) reads the same value everywhere.
  p.set_grad(Tensor::scalar(2.0, DType::f64).expand({3, 2}));
  opt.step();
  CHECK(base.to_vector() == std::vector<double>{-0.5, 0.5, 1.5, 2.5, 3.5, 4.5});
}

TEST_CASE("large parameters (split across threads) match a naive loop", "[nn][optim]") {
  const int64_t n = 100003;  // above the threading threshold, and odd
  std::vector<double> p0(n), g1(n), g2(n);
  for (int64_t i = 0; i < n; ++i) {
    p0[i] = std::sin(0.1 * i);
    g1[i] = std::cos(0.37 * i);
    g2[i] = 0.5 - std::sin(0.013 * i);
  }
  Var p(Tensor::from_vector(p0, {n}, DType::f64), true);
  SGD opt({p}, {.lr = 0.05, .momentum = 0.8, .dampening = 0.25, .weight_decay = 0.01});
  for (const auto& g : {g1, g2}) {
    p.set_grad(Tensor::from_vector(g, {n}, DType::f64));
    opt.step();
  }
  // The published rule, one element at a time, in the same order of operations.
  std::vector<double> want = p0, buf(n);
  for (int s = 0; s < 2; ++s)
    for (int64_t i = 0; i < n; ++i) {
      double d = (s == 0 ? g1 : g2)[i] + 0.01 * want[i];
      buf[i] = s == 0 ? d : 0.8 * buf[i] + 0.75 * d;
      want[i] -= 0.05 * buf[i];
    }
  std::vector<double> got = p.value().to_vector();
  for (int64_t i = 0; i < n; i += 997) CHECK(got[i] == Approx(want[i]).epsilon(1e-14).margin(1e-15));
  CHECK(got[n - 1] == Approx(want[n - 1]).epsilon(1e-14).margin(1e-15));
}

TEST_CASE("zero_grad clears the gradients, lr can be changed", "[nn][optim]") {
  Var p = param();
  SGD opt({p}, {.lr = 0.1});
  p.set_grad(Tensor::ones({2}, DType::f64));
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  opt.step();  // nothing to do
  CHECK(p.value().to_vector() == std::vector<double>{1.0, 2.0});
  opt.set_lr(1.0);
  CHECK(opt.lr() == 1.0);
  p.set_grad(Tensor::ones({2}, DType::f64));
  opt.step();
  CHECK(p.value().to_vector() == std::vector<double>{0.0, 1.0});
}

TEST_CASE("optimizer argument errors", "[nn][optim]") {
  Var p = param();
  p.set_name("fc.weight");
  REQUIRE_THROWS_AS(SGD({p, param(), p}, {.lr = 0.1}), ValueError);
  REQUIRE_THROWS_WITH(SGD({p, param(), p}, {.lr = 0.1}),
                      Catch::Contains("SGD") && Catch::Contains("'fc.weight'") && Catch::Contains("[2]") &&
                          Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(Adam({p, p}), Catch::Contains("Adam:") && Catch::Contains("fc.weight") && Catch::Contains("twice"));
  REQUIRE_THROWS_WITH(AdamW({p, p}), Catch::Contains("AdamW:") && Catch::Contains("twice"));
  Var unnamed(Tensor::zeros({3, 4}), true);
  REQUIRE_THROWS_WITH(SGD({unnamed, unnamed}, {.lr = 0.1}), Catch::Contains("#1") && Catch::Contains("[3, 4]"));

  REQUIRE_THROWS_AS(SGD({}, {.lr = 0.1}), ValueError);
  REQUIRE_THROWS_WITH(SGD({p}, {.lr = -1}), Catch::Contains("SGD: lr"));
  REQUIRE_THROWS_WITH(SGD({p}, {.lr = 0.1, .nesterov = true}), Catch::Contains("nesterov needs momentum"));
  REQUIRE_THROWS_WITH(SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      Catch::Contains("dampening"));
  REQUIRE_THROWS_WITH(Adam({p}, {.beta1 = 1.0}), Catch::Contains("Adam: betas"));
  REQUIRE_THROWS_WITH(Adam({p}, {.beta2 = 1.5}), Catch::Contains("beta2"));
  REQUIRE_THROWS_WITH(Adam({p}, {.eps = -1}), Catch::Contains("eps"));
  REQUIRE_THROWS_AS(SGD({Var(Tensor::arange(3))}, {.lr = 0.1}), DTypeError);
  Var leaf = param();
  Var nonleaf = lumen::mul(leaf, 2.0);
  REQUIRE_THROWS_WITH(SGD({nonleaf}, {.lr = 0.1}), Catch::Contains("not a leaf"));

  SGD opt({p}, {.lr = 0.1});
  REQUIRE_THROWS_WITH(opt.set_lr(NAN), Catch::Contains("lr"));
}

// ---- schedules ---------------------------------------------------------------------------------

TEST_CASE("StepLR multiplies by gamma every step_size steps", "[nn][schedule]") {
  StepLR s({.base_lr = 1.0, .step_size = 3, .gamma = 0.5});
  // steps 1-3 -> 1, 4-6 -> 0.5, 7-9 -> 0.25
  CHECK(s.lr_at(1) == 1.0);
  CHECK(s.lr_at(3) == 1.0);
  CHECK(s.lr_at(4) == 0.5);
  CHECK(s.lr_at(6) == 0.5);
  CHECK(s.lr_at(7) == 0.25);
  REQUIRE_THROWS_WITH(s.lr_at(0), Catch::Contains("StepLR") && Catch::Contains("from 1"));
  REQUIRE_THROWS_WITH(StepLR({.base_lr = 1.0, .step_size = 0}), Catch::Contains("step_size"));
}

TEST_CASE("CosineLR follows half a cosine and then stays at min_lr", "[nn][schedule]") {
  CosineLR s({.base_lr = 1.0, .total_steps = 4, .min_lr = 0.2});
  // t = step - 1; lr = 0.2 + 0.8 (1 + cos(pi t / 4)) / 2
  CHECK(s.lr_at(1) == Approx(1.0));                                   // t = 0
  CHECK(s.lr_at(2) == Approx(0.2 + 0.4 * (1 + std::sqrt(0.5))));      // t = 1: cos(pi/4) = 0.70711 -> 0.88284
  CHECK(s.lr_at(3) == Approx(0.6));                                   // t = 2: cos(pi/2) = 0
  CHECK(s.lr_at(5) == Approx(0.2));                                   // t = 4: the end
  CHECK(s.lr_at(100) == Approx(0.2));
}

TEST_CASE("LinearWarmup and WarmupCosineLR", "[nn][schedule]") {
  LinearWarmup w({.base_lr = 0.5, .warmup_steps = 4});
  CHECK(w.lr_at(1) == Approx(0.125));  // 0.5 * 1/4
  CHECK(w.lr_at(2) == Approx(0.25));
  CHECK(w.lr_at(4) == Approx(0.5));
  CHECK(w.lr_at(40) == Approx(0.5));

  WarmupCosineLR wc({.base_lr = 1.0, .warmup_steps = 2, .total_steps = 6, .min_lr = 0.0});
  CHECK(wc.lr_at(1) == Approx(0.5));  // warming up: 1 * 1/2
  CHECK(wc.lr_at(2) == Approx(1.0));
  CHECK(wc.lr_at(3) == Approx(1.0));  // cosine t = 0 of T = 4
  CHECK(wc.lr_at(4) == Approx(0.5 * (1 + std::sqrt(0.5))));  // t = 1: 0.85355
  CHECK(wc.lr_at(5) == Approx(0.5));                         // t = 2
  CHECK(wc.lr_at(7) == Approx(0.0).margin(1e-15));           // t = 4: the end
  REQUIRE_THROWS_WITH(WarmupCosineLR({.base_lr = 1, .warmup_steps = 5, .total_steps = 5}),
                      Catch::Contains("must exceed warmup_steps"));
}

TEST_CASE("NoamLR is the Transformer schedule", "[nn][schedule]") {
  NoamLR s({.d_model = 512, .warmup = 4000});
  // lr = 512^-0.5 min(step^-0.5, step 4000^-1.5); 512^-0.5 = 0.0441942, 4000^-1.5 = 3.95285e-6
  CHECK(s.lr_at(1) == Approx(0.0441942 * 3.95285e-6).epsilon(1e-5));     // 1.74693e-7
  CHECK(s.lr_at(100) == Approx(0.0441942 * 100 * 3.95285e-6).epsilon(1e-5));
  CHECK(s.lr_at(4000) == Approx(0.0441942 / std::sqrt(4000.0)).epsilon(1e-5));  // the peak, 6.98771e-4
  CHECK(s.lr_at(16000) == Approx(0.0441942 / 126.491106).epsilon(1e-5));         // past it: 1 / sqrt(step)
  CHECK(s.lr_at(4000) > s.lr_at(3999));
  CHECK(s.lr_at(4000) > s.lr_at(4001));
  NoamLR scaled({.d_model = 512, .warmup = 4000, .factor = 2.0});
  CHECK(scaled.lr_at(10) == Approx(2 * s.lr_at(10)));
  REQUIRE_THROWS_WITH(s.lr_at(0), Catch::Contains("NoamLR"));
}

TEST_CASE("a schedule drives the optimizer's lr step by step", "[nn][schedule]") {
  Var p = param();
  SGD opt({p}, {.lr = 123});
  StepLR s({.base_lr = 1.0, .step_size = 1, .gamma = 0.5});
  std::vector<double> seen;
  for (int i = 0; i < 3; ++i) {
    s.apply(opt);  // the rate for update opt.steps() + 1
    seen.push_back(opt.lr());
    p.set_grad(Tensor::ones({2}, DType::f64));
    opt.step();
  }
  CHECK(seen == std::vector<double>{1.0, 0.5, 0.25});
  // 1 - (1 + 0.5 + 0.25) = -0.75
  CHECK(p.value().at({0}) == Approx(-0.75));
  CHECK(s.apply(opt, 1) == 1.0);
  CHECK(opt.lr() == 1.0);
}

// ---- clip_grad_norm ----------------------------------------------------------------------------

TEST_CASE("clip_grad_norm scales all gradients by max_norm / (total + 1e-6)", "[nn][clip]") {
  Var a = param(), b = param(DType::f32, {0.0});
  Var none = param();  // no gradient: skipped
  a.set_grad(Tensor::from_vector(std::vector<double>{3.0, 4.0}, {2}, DType::f64));
  b.set_grad(Tensor::from_vector(std::vector<float>{12.0f}, {1}));
  // total = sqrt(9 + 16 + 144) = 13; factor = 6.5 / (13 + 1e-6) = 0.49999996
  double total = clip_grad_norm({a, b, none}, 6.5);
  CHECK(total == Approx(13.0).epsilon(1e-15));
  double f = 6.5 / (13.0 + 1e-6);
  CHECK(a.grad().at({0}) == Approx(3.0 * f).epsilon(1e-14));
  CHECK(a.grad().at({1}) == Approx(4.0 * f).epsilon(1e-14));
  CHECK(b.grad().at({0}) == Approx(12.0 * f).epsilon(1e-6));
  CHECK_FALSE(none.grad().defined());

  // Under the limit: returned, unchanged.
  a.set_grad(Tensor::from_vector(std::vector<double>{3.0, 4.0}, {2}, DType::f64));
  CHECK(clip_grad_norm({a}, 5.1) == Approx(5.0));
  CHECK(a.grad().to_vector() == std::vector<double>{3.0, 4.0});
}

TEST_CASE("clip_grad_norm over many elements matches a naive norm", "[nn][clip]") {
  const int64_t n = 1037;
  std::vector<double> g(n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] = std::sin(1.3 * i) * (1 + i % 7);
    sq += g[i] * g[i];
  }
  Var p = param(DType::f64, std::vector<double>(n, 0.0));
  p.set_grad(Tensor::from_vector(g, {n}, DType::f64));
  double total = clip_grad_norm({p}, 1.0);
  CHECK(total == Approx(std::sqrt(sq)).epsilon(1e-12));
  double f = 1.0 / (std::sqrt(sq) + 1e-6);
  CHECK(p.grad().at({n - 1}) == Approx(g[n - 1] * f).epsilon(1e-12));
}

TEST_CASE("clip_grad_norm copes with strided gradients and non-finite norms", "[nn][clip]") {
  // An expanded gradient: one stored 1.0 standing for four elements. Norm 2; clipping to 1 must
  // halve all four without scaling the one stored element four times.
  Var a = param(DType::f64, {0, 0, 0, 0});
  Tensor one = Tensor::scalar(1.0, DType::f64);
  a.set_grad(one.reshape({1}).expand({4}));
  CHECK(clip_grad_norm({a}, 1.0) == Approx(2.0));
  for (double g : a.grad().to_vector()) CHECK(g == Approx(0.5 / (1.0 + 0.5e-6)));
  CHECK(one.item() == 1.0);  // the shared storage is not touched

  Var b = param();
  b.set_grad(Tensor::from_vector(std::vector<double>{INFINITY, 1.0}, {2}, DType::f64));
  CHECK(std::isinf(clip_grad_norm({b}, 1.0)));
  CHECK(b.grad().at({1}) == 1.0);  // left alone, for the caller to notice

  REQUIRE_THROWS_WITH(clip_grad_norm({b}, -1.0), Catch::Contains("clip_grad_norm: max_norm"));
}
