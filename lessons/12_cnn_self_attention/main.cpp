// Lesson 12: self-attention inside a CNN, the module of SAGAN (Zhang et al. 2019). A convolution
// only mixes pixels within its kernel: after two 3x3 layers, each feature sees a 5x5 window.
// Self-attention lets every pixel read every other pixel in one step:
//
//   f = W_f x,  g = W_g x,  h = W_h x          1x1 convolutions: query, key, value per pixel
//   s_ij = f_i . g_j                           [HW x HW] scores, pixel i against pixel j
//   beta_ij = softmax_j(s_ij)                  where pixel i looks
//   o_i = sum_j beta_ij h_j                    what it reads
//   y_i = gamma o_i + x_i                      residual, gamma learned (SAGAN starts it at 0, here 1)
//
// The task is built so that a CNN's small receptive field cannot solve it: 12x12 images with two
// blobs at least 4 pixels apart, and the question "are they the same colour?". The lesson trains
// a plain CNN and the same CNN with the attention module on the same images.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "tensor/parallel.h"
#include "tensor/print.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// ---- 1. the images ----------------------------------------------------------------------------

constexpr int kSize = 12;     // image height and width
constexpr int kBlob = 3;      // blob side in pixels
constexpr int kMinGap = 4;    // empty pixels between the blobs, along x or y, at least
constexpr int kColours = 2;

const std::array<std::array<float, 3>, kColours> kPalette = {{{1, 0, 0}, {0, 0, 1}}};
const std::array<const char*, kColours> kColourNames = {"red", "blue"};

struct Blob {
  int x, y;    // top-left pixel (column, row)
  int colour;  // index into kPalette
};

struct Example {
  Blob a, b;
  bool same;
};

// Empty pixels between the two boxes along the axis where they are furthest apart: a k x k
// window can cover pixels of both only if that gap is at most k - 2.
int gap(const Blob& a, const Blob& b) {
  const int gx = std::abs(a.x - b.x) - kBlob, gy = std::abs(a.y - b.y) - kBlob;
  return std::max(gx, gy);
}

Example random_example(Generator& gen) {
  Example e;
  auto place = [&] {
    const int n = kSize - kBlob + 1;
    return Blob{static_cast<int>(gen.below(n)), static_cast<int>(gen.below(n)), 0};
  };
  // Both are drawn again when too close: a blob near the centre may have no far place left.
  do {
    e.a = place();
    e.b = place();
  } while (gap(e.a, e.b) < kMinGap);
  e.same = gen.below(2) == 1;
  e.a.colour = static_cast<int>(gen.below(kColours));
  e.b.colour = e.same ? e.a.colour : static_cast<int>((e.a.colour + 1 + gen.below(kColours - 1)) % kColours);
  return e;
}

// [3, H, W] channels first, black background.
std::vector<float> draw_image(const Example& e) {
  std::vector<float> px(3 * kSize * kSize, 0.0f);
  for (const Blob& b : {e.a, e.b})
    for (int y = b.y; y < b.y + kBlob; ++y)
      for (int x = b.x; x < b.x + kBlob; ++x)
        for (int c = 0; c < 3; ++c) px[(c * kSize + y) * kSize + x] = kPalette[b.colour][c];
  return px;
}

struct Batch {
  std::vector<Example> examples;
  Tensor x;  // f32 [B, 3, H, W]
  Tensor y;  // i64 [B]: 1 = same colour
};

Batch make_batch(std::vector<Example> examples) {
  const int64_t B = static_cast<int64_t>(examples.size());
  std::vector<float> px;
  std::vector<int64_t> y;
  for (const Example& e : examples) {
    std::vector<float> one = draw_image(e);
    px.insert(px.end(), one.begin(), one.end());
    y.push_back(e.same ? 1 : 0);
  }
  return {std::move(examples), Tensor::from_vector(px, {B, 3, kSize, kSize}), Tensor::from_vector(y, {B})};
}

Batch random_batch(Generator& gen, int64_t B) {
  std::vector<Example> ex;
  for (int64_t i = 0; i < B; ++i) ex.push_back(random_example(gen));
  return make_batch(std::move(ex));
}

// ---- 2. the models ----------------------------------------------------------------------------

constexpr int64_t kC = 16;      // channels
constexpr int64_t kMix = 64;   // the 1x1 layer before the pooling: many features, so some already compare
constexpr int64_t kQK = kC / 4;  // query and key channels (SAGAN uses C/8; 16/8 = 2 is very few)

// The SAGAN self-attention block on a [B, C, H, W] feature map.
class SelfAttention2d : public nn::Module {
 public:
  explicit SelfAttention2d(Generator& gen)
      : Module("SelfAttention2d"),
        f_({.in = kC, .out = kQK, .kernel = 1}, gen),
        g_({.in = kC, .out = kQK, .kernel = 1}, gen),
        h_({.in = kC, .out = kC, .kernel = 1}, gen) {
    register_module("f", f_);
    register_module("g", g_);
    register_module("h", h_);
    gamma_ = register_parameter("gamma", Tensor::ones({1}));
  }

  struct Output {
    Var y;     // [B, C, H, W]
    Var beta;  // [B, HW, HW]: row i is where pixel i looks
  };

  Output forward(const Var& x) const {
    auto scope = enter_scope();
    const int64_t B = x.size(0), C = x.size(1), N = x.size(2) * x.size(3);
    // Every pixel becomes a row: [B, C', H, W] -> [B, HW, C'].
    auto rows = [&](const Var& m) { return transpose(reshape(m, {B, m.size(1), N}), 1, 2); };
    Var f = rows(f_.forward(x)).set_name("f (queries)");  // [B, HW, C/4]
    Var g = rows(g_.forward(x)).set_name("g (keys)");     // [B, HW, C/4]
    Var h = rows(h_.forward(x)).set_name("h (values)");   // [B, HW, C]
    Var s = matmul(f, transpose(g, 1, 2)).set_name("s");  // s_ij = f_i . g_j, [B, HW, HW]
    Var beta = softmax(s, -1).set_name("beta");           // over j: where pixel i looks
    Var o = matmul(beta, h);                              // o_i = sum_j beta_ij h_j, [B, HW, C]
    Var o_map = reshape(transpose(o, 1, 2), {B, C, x.size(2), x.size(3)});
    return {gamma_ * o_map + x, beta};  // y = gamma o + x
  }

  const Var& gamma() const { return gamma_; }

 private:
  nn::Conv2d f_, g_, h_;
  Var gamma_;
};

// conv3x3 - gelu - conv3x3 - gelu, [attention], conv1x1 - gelu - conv1x1 - gelu, global mean,
// linear. The 3x3 layers give each feature a 5x5 view; the 1x1 layers and the mean add no reach.
// (Why GELU, two 1x1 layers and two colours: the README's calibration section.) The plain CNN is
// the same network without the attention block (about 10% fewer parameters).
class BlobNet : public nn::Module {
 public:
  BlobNet(bool attention, Generator& gen)
      : Module(attention ? "CnnSelfAttention" : "PlainCnn"),
        conv1_({.in = 3, .out = kC, .kernel = 3, .padding = 1}, gen),
        conv2_({.in = kC, .out = kC, .kernel = 3, .padding = 1}, gen),
        mix1_({.in = kC, .out = kMix, .kernel = 1}, gen),
        mix2_({.in = kMix, .out = kMix, .kernel = 1}, gen),
        head_({.in = kMix, .out = 2}, gen) {
    register_module("conv1", conv1_);
    register_module("conv2", conv2_);
    if (attention) {
      attn_ = std::make_unique<SelfAttention2d>(gen);
      register_module("attn", *attn_);
    }
    register_module("mix1", mix1_);
    register_module("mix2", mix2_);
    register_module("head", head_);
  }

  struct Output {
    Var logits;  // [B, 2]
    Var beta;    // [B, HW, HW] with attention
  };

  Output forward(const Tensor& images) const {
    auto scope = enter_scope();
    Var x = gelu(conv2_.forward(gelu(conv1_.forward(Var(images)))));  // each pixel sees 5x5
    Output out;
    if (attn_) {
      SelfAttention2d::Output a = attn_->forward(x);
      x = a.y;
      out.beta = a.beta;
    }
    x = gelu(mix2_.forward(gelu(mix1_.forward(x))));
    out.logits = head_.forward(mean(x, {2, 3}));  // global average pool, then linear
    return out;
  }

  const SelfAttention2d* attention() const { return attn_.get(); }

 private:
  nn::Conv2d conv1_, conv2_, mix1_, mix2_;
  std::unique_ptr<SelfAttention2d> attn_;
  nn::Linear head_;
};

// ---- 3. training ------------------------------------------------------------------------------

struct Curve {
  std::vector<double> steps, acc, loss;
};

double accuracy(const BlobNet& m, const Batch& test) {
  NoGradGuard no_grad;
  int64_t right = 0;
  for (int64_t s = 0; s < test.x.size(0); s += 250) {
    const int64_t e = std::min<int64_t>(s + 250, test.x.size(0));
    const Tensor pred = argmax(m.forward(test.x.slice(0, s, e)).logits.value(), 1);
    right += static_cast<int64_t>(sum(eq(pred, test.y.slice(0, s, e)).to(DType::f64)).item());
  }
  return static_cast<double>(right) / static_cast<double>(test.x.size(0));
}

struct Training {
  int64_t steps = 0, batch = 32, eval_every = 100;
  double lr = 3e-3;
  uint64_t data_seed = 0;
};

Curve train(BlobNet& m, const Training& t, const Batch& test, const std::string& label, bool progress) {
  nn::Adam opt(m.parameters(), {.lr = t.lr});
  nn::CosineLR schedule({.base_lr = t.lr, .total_steps = std::max<int64_t>(t.steps, 1), .min_lr = t.lr / 30});
  Generator data(t.data_seed);  // both models see the same images
  ProgressBar bar(label, t.steps, progress);
  Curve c;
  double running = 0;
  for (int64_t step = 1; step <= t.steps; ++step) {
    Batch b = random_batch(data, t.batch);
    schedule.apply(opt);
    opt.zero_grad();
    Var loss = nn::cross_entropy(m.forward(b.x).logits, b.y);
    backward(loss);
    opt.step();
    running = step == 1 ? loss.item() : 0.95 * running + 0.05 * loss.item();
    if (step % t.eval_every == 0 || step == t.steps) {
      c.steps.push_back(static_cast<double>(step));
      c.acc.push_back(accuracy(m, test));
      c.loss.push_back(running);
    }
    bar.update(step, running);
  }
  bar.finish();
  return c;
}

// ---- 4. reading the attention -----------------------------------------------------------------

int centre(const Blob& b) { return (b.y + kBlob / 2) * kSize + b.x + kBlob / 2; }

bool inside(const Blob& b, int pixel) {
  const int y = pixel / kSize, x = pixel % kSize;
  return x >= b.x && x < b.x + kBlob && y >= b.y && y < b.y + kBlob;
}

// The weight the centre pixel of blob a puts on blob b's pixels (and on its own blob's), averaged
// over the test images.
struct Reach {
  double other = 0, own = 0;
};
Reach attention_reach(const BlobNet& m, const Batch& test) {
  NoGradGuard no_grad;
  Reach r;
  const int64_t n = std::min<int64_t>(test.x.size(0), 500);
  const Tensor beta = m.forward(test.x.slice(0, 0, n)).beta.value().contiguous();  // [n, HW, HW]
  const int64_t N = beta.size(1);
  const std::vector<double> w = beta.to_vector();
  for (int64_t k = 0; k < n; ++k) {
    const Example& e = test.examples[static_cast<size_t>(k)];
    for (const auto& [from, to] : {std::pair{e.a, e.b}, std::pair{e.b, e.a}}) {
      const double* row = w.data() + (k * N + centre(from)) * N;
      for (int64_t j = 0; j < N; ++j) {
        if (inside(to, static_cast<int>(j))) r.other += row[j];
        if (inside(from, static_cast<int>(j))) r.own += row[j];
      }
    }
  }
  r.other /= static_cast<double>(2 * n);
  r.own /= static_cast<double>(2 * n);
  return r;
}

std::string describe(const Example& e) {
  return fmt::format("{} blob at ({}, {}), {} blob at ({}, {})", kColourNames[e.a.colour], e.a.x, e.a.y,
                     kColourNames[e.b.colour], e.b.x, e.b.y);
}

// The query pixel's map over the image, one figure per example.
void overlay(const BlobNet& m, const Example& e, const std::string& path) {
  NoGradGuard no_grad;
  const Batch b = make_batch({e});
  const BlobNet::Output out = m.forward(b.x);
  const int q = centre(e.a);
  const std::vector<double> row = out.beta.value().select(0, 0).select(0, q).to_vector();
  std::vector<float> rgb(kSize * kSize * 3);  // attention_overlay wants h x w x 3
  const std::vector<float> chw = draw_image(e);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < kSize * kSize; ++p) rgb[p * 3 + c] = chw[c * kSize * kSize + p];
  const double p_same = softmax(out.logits.value(), 1).to_vector()[1];
  attention_overlay(rgb, kSize, kSize, row, kSize, kSize,
                    fmt::format("query: {} blob centre; P(same) = {:.2f}", kColourNames[e.a.colour], p_same),
                    28)
      .save(path);
}

void draw_graph(const BlobNet& m, const std::string& dir) {
  Generator gen(7);
  const Batch b = random_batch(gen, 1);
  Var loss = nn::cross_entropy(m.forward(b.x).logits, b.y).set_name("loss");
  std::string dot = to_dot({loss}, {.title = "CNN + self-attention on one 12x12 image: conv1, conv2 (3x3), attn (1x1 "
                                             "convs f, g, h; HW x HW softmax; gamma o + x), mix1, mix2, mean, head"});
  render(dot, dir + "/graph_cnn_self_attention.dot");
  render(dot, dir + "/graph_cnn_self_attention.svg");
  fmt::print("graph: {}/graph_cnn_self_attention.svg (one cluster per module)\n\n", dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "12_cnn_self_attention", "self-attention in a CNN (SAGAN)");
  // Small convolutions and one attention map per image: one thread does best on a shared
  // machine. --threads N overrides.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    fmt::print("== 1. The images: two blobs, far apart. Same colour?\n\n");
    Generator test_gen(opt.seed * 1000 + 21);
    const Batch test = random_batch(test_gen, opt.quick ? 500 : 2000);
    for (int k = 0; k < 3; ++k)
      fmt::print("  {}: {}\n", describe(test.examples[k]), test.examples[k].same ? "same" : "different");
    fmt::print("Blobs are {0}x{0} pixels with at least {1} empty pixels between them, so no 5x5 window\n"
               "covers both. {2} colours; half the pairs match.\n\n",
               kBlob, kMinGap, kColours);

    Generator init_plain(opt.seed * 1000 + 22), init_attn(opt.seed * 1000 + 22);
    BlobNet plain(false, init_plain), with_attn(true, init_attn);
    fmt::print("== 2. Two models\n\n{}\n{}\n", plain.summary(), with_attn.summary());

    Training t{.steps = opt.steps_or(1000, 500), .data_seed = opt.seed * 1000 + 23};
    fmt::print("== 3. Training both on the same {} batches of {} images\n\n", t.steps, t.batch);
    Curve cp = train(plain, t, test, "plain CNN", !opt.quiet);
    Curve ca = train(with_attn, t, test, "CNN + attention", !opt.quiet);
    fmt::print("accuracy on {} held-out images:\n  {:>6} {:>10} {:>16}\n", test.x.size(0), "step", "plain CNN",
               "CNN + attention");
    for (size_t k = 0; k < cp.steps.size(); ++k) fmt::print("  {:>6} {:>10.3f} {:>16.3f}   (training loss {:.3f}, {:.3f})\n", cp.steps[k], cp.acc[k], ca.acc[k], cp.loss[k], ca.loss[k]);
    fmt::print("gamma = {:.3f}\n\n", with_attn.attention()->gamma().item());
    line_chart({{"plain CNN", cp.steps, cp.acc}, {"CNN + self-attention", ca.steps, ca.acc}},
               {.title = "same colour? accuracy on held-out images", .x_label = "training step",
                .y_label = "accuracy", .y_from_zero = true})
        .save(opt.out_dir + "/learning_curves.svg");

    fmt::print("== 4. Where the query pixel looks\n\n");
    const Reach reach = attention_reach(with_attn, test);
    fmt::print("from the centre of one blob: {:.3f} of the weight on the other blob's {} pixels, {:.3f} on its own\n"
               "(uniform attention would give {:.3f} to each)\n",
               reach.other, kBlob * kBlob, reach.own, static_cast<double>(kBlob * kBlob) / (kSize * kSize));
    for (int k = 0; k < 3; ++k) overlay(with_attn, test.examples[k], fmt::format("{}/attention_map_{}.svg", opt.out_dir, k + 1));
    fmt::print("figures: {0}/attention_map_1.svg .. _3.svg, {0}/learning_curves.svg\n\n", opt.out_dir);

    draw_graph(with_attn, opt.out_dir);

    const double acc_cnn = cp.acc.back(), acc_sa = ca.acc.back();
    report.metric("acc_cnn", acc_cnn);
    report.metric("acc_cnn_self_attention", acc_sa);
    report.metric("attention_on_other_blob", reach.other);
    report.metric("attention_on_own_blob", reach.own);
    fmt::print("== Targets\n");
    report.at_least("acc_cnn_self_attention", acc_sa, opt.quick ? 0.85 : 0.95);
    report.at_least("gain_over_plain_cnn", acc_sa - acc_cnn, opt.quick ? 0.15 : 0.2);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "12_cnn_self_attention: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
