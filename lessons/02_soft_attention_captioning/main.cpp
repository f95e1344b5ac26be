// Lesson 02: Show, Attend and Tell in miniature. A small CNN turns a 32 x 32 picture of two or
// three coloured shapes into a 4 x 4 grid of feature vectors a_1..a_L (L = 16, each D numbers).
// An LSTM writes the caption ("red circle blue square <eos>", objects left to right), and at
// every word it decides where to look:
//
//   e_ti    = f_att(a_i, h_{t-1}) = v^T tanh(W_a a_i + W_h h_{t-1})
//   alpha_t = softmax_i(e_ti)
//   z_t     = sum_i alpha_ti a_i
//   h_t     = LSTM(h_{t-1}, [E y_{t-1}; z_t])
//   p(y_t)  = softmax(W_o [h_t; z_t] + b_o)
//
// trained on the words' cross-entropy plus Xu et al.'s doubly stochastic penalty
// lambda sum_i (1 - sum_t alpha_ti)^2. Nobody tells the model where the shapes are; the lesson
// checks that, when it says "circle", its largest weight sits on the circle.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/shapes.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/conv.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/rnn.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/print.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// ---- the words --------------------------------------------------------------------------------

constexpr int64_t kPad = 0, kBos = 1, kEos = 2, kFirstColour = 3, kFirstKind = 6, kVocab = 9;
constexpr int64_t kSteps = 7;  // the longest caption: three (colour, kind) pairs and <eos>
constexpr int64_t L = kSceneCells;

std::string word(int64_t token) {
  static const char* names[kVocab] = {"<pad>", "<bos>", "<eos>", "red", "green", "blue", "circle", "square", "triangle"};
  return token >= 0 && token < kVocab ? names[token] : "?";
}

std::string words(const std::vector<int64_t>& tokens) {
  std::string s;
  for (int64_t t : tokens) s += (s.empty() ? "" : " ") + word(t);
  return s;
}

// "red circle blue square <eos>": each object as colour then kind, left to right.
std::vector<int64_t> caption_of(const Scene& s) {
  std::vector<int64_t> y;
  for (const SceneObject& o : s.objects) {
    y.push_back(kFirstColour + static_cast<int64_t>(o.colour));
    y.push_back(kFirstKind + static_cast<int64_t>(o.kind));
  }
  y.push_back(kEos);
  return y;
}

struct CaptionBatch {
  std::vector<Scene> scenes;
  Tensor images;     // f32 [B, 3, 32, 32]
  Tensor y_in;       // i64 [B, 7]  <bos> red circle blue square <pad> <pad>
  Tensor y_out;      // i64 [B, 7]  red circle blue square <eos> <pad> <pad>
  Tensor step_mask;  // f32 [B, 7]  1 on the caption's own steps (up to its <eos>), 0 on padding
};

CaptionBatch make_batch(std::vector<Scene> scenes) {
  const int64_t B = static_cast<int64_t>(scenes.size());
  std::vector<int64_t> y_in(static_cast<size_t>(B * kSteps), kPad), y_out(y_in);
  std::vector<float> mask(static_cast<size_t>(B * kSteps), 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t> y = caption_of(scenes[static_cast<size_t>(b)]);
    for (size_t t = 0; t < y.size(); ++t) {
      const size_t k = static_cast<size_t>(b * kSteps) + t;
      y_out[k] = y[t];
      y_in[k] = t == 0 ? kBos : y[t - 1];
      mask[k] = 1.0f;
    }
  }
  CaptionBatch batch;
  batch.images = scenes_tensor(scenes);
  batch.y_in = Tensor::from_vector(y_in, {B, kSteps});
  batch.y_out = Tensor::from_vector(y_out, {B, kSteps});
  batch.step_mask = Tensor::from_vector(mask, {B, kSteps});
  batch.scenes = std::move(scenes);
  return batch;
}

// 2 or 3 objects whose kinds may repeat: with distinct kinds the caption could name the last
// object's kind by elimination, without looking at it.
Scene caption_scene(Generator& gen, int count = 0) {
  return random_scene(gen, count > 0 ? count : 2 + static_cast<int>(gen.below(2)), false);
}

CaptionBatch random_batch(Generator& gen, int64_t B) {
  std::vector<Scene> scenes;
  for (int64_t b = 0; b < B; ++b) scenes.push_back(caption_scene(gen));
  return make_batch(std::move(scenes));
}

// ---- the model --------------------------------------------------------------------------------

struct Sizes {
  int64_t C1 = 24;  // channels after the first convolution
  int64_t C2 = 48;  // and after the second
  int64_t D = 32;  // features per location a_i
  int64_t A = 32;  // hidden units of f_att
  int64_t H = 64;  // LSTM state h_t
  int64_t E = 16;  // word embedding
};

// Two extra input channels holding each pixel's column and row in [-1, 1] ("CoordConv"): the
// caption goes left to right, so the features must say where they are, as a big network's
// features do from its padding and depth.
Tensor with_coordinates(const Tensor& images) {
  const int64_t B = images.size(0), S = kSceneSize;
  std::vector<float> c(static_cast<size_t>(2 * S * S));
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      c[static_cast<size_t>(y * S + x)] = static_cast<float>(2.0 * x / (S - 1) - 1.0);
      c[static_cast<size_t>(S * S + y * S + x)] = static_cast<float>(2.0 * y / (S - 1) - 1.0);
    }
  Tensor coords = Tensor::from_vector(c, {1, 2, S, S}).expand({B, 2, S, S});
  // Pixels centred on 0 ([-1, 1]), as the coordinates are: the white background is +1.
  return concat({add(mul(images, 2.0), -1.0), coords}, 1);
}

struct DecodeState {
  Var a;     // [B, L, D] the annotation vectors
  Var keys;  // [B, L, A] W_a a_i + b_a: the half of f_att that does not depend on t
  nn::CellState s;  // h_t, c_t [B, H]
};

struct StepOut {
  Var e, alpha, z, logits;  // e_t, alpha_t [B, L]; z_t [B, D]; logits [B, V]
};

class Captioner : public nn::Module {
 public:
  Captioner(const Sizes& z, Generator& gen)
      : Module("Captioner"),
        conv1_({.in = 5, .out = z.C1, .kernel = 3, .stride = 2, .padding = 1}, gen),
        conv2_({.in = z.C1, .out = z.C2, .kernel = 3, .stride = 2, .padding = 1}, gen),
        conv3_({.in = z.C2, .out = z.D, .kernel = 3, .stride = 2, .padding = 1}, gen),
        init_h_({.in = z.D, .out = z.H}, gen),
        init_c_({.in = z.D, .out = z.H}, gen),
        embed_({.num = kVocab, .dim = z.E}, gen),
        W_a_({.in = z.D, .out = z.A}, gen),
        W_h_({.in = z.H, .out = z.A, .bias = false}, gen),
        v_({.in = z.A, .out = 1, .bias = false}, gen),
        lstm_({.input_size = z.E + z.D, .hidden_size = z.H}, gen),
        out_({.in = z.H + z.D, .out = kVocab}, gen) {
    register_module("conv1", conv1_);
    register_module("conv2", conv2_);
    register_module("conv3", conv3_);
    register_module("init_h", init_h_);
    register_module("init_c", init_c_);
    register_module("embed", embed_);
    register_module("W_a", W_a_);
    register_module("W_h", W_h_);
    register_module("v", v_);
    register_module("lstm", lstm_);
    register_module("out", out_);
  }

  // images [B, 3, 32, 32] -> a [B, L, D]: three stride-2 convolutions take 32 x 32 to 4 x 4, and
  // cell (row r, column c) becomes location i = 4r + c, as in shapes.h.
  Var features(const Tensor& images) const {
    NameScope scope("encoder");
    const int64_t B = images.size(0);
    Var x(with_coordinates(images));  // [B, 5, 32, 32]
    Var f = relu(conv1_(x));           // [B, 16, 16, 16]
    f = relu(conv2_(f));               // [B, 32, 8, 8]
    f = relu(conv3_(f));               // [B, D, 4, 4]
    return contiguous(transpose(reshape(f, {B, f.size(1), L}), 1, 2));
  }

  // h_0 = tanh(W_init,h mean_i a_i), c_0 likewise: the paper's initial state, a glance at the
  // whole picture.
  DecodeState start(const Var& a) const {
    NameScope d("decoder");
    DecodeState st;
    st.a = a;
    {
      NameScope init("init");
      Var mean_a = mean(a, {1});  // [B, D]
      st.s = {tanh(init_h_(mean_a)), tanh(init_c_(mean_a))};
    }
    {
      NameScope keys("keys");
      st.keys = W_a_(a);  // [B, L, A]
    }
    return st;
  }

  // One word: look (e_t, alpha_t, z_t) with the state h_{t-1}, then update the LSTM and predict.
  StepOut step(DecodeState& st, const Tensor& y_prev, int64_t t) const {
    NameScope d("decoder");
    NameScope ts("t" + std::to_string(t));
    StepOut o;
    {
      NameScope att("f_att");
      o.e = squeeze(v_(tanh(st.keys + unsqueeze(W_h_(st.s.h), 1))), 2);  // e_ti [B, L]
      o.alpha = softmax(o.e, 1);                                          // alpha_t [B, L]
      o.z = squeeze(matmul(unsqueeze(o.alpha, 1), st.a), 1);              // z_t = sum_i alpha_ti a_i [B, D]
    }
    st.s = lstm_(concat({embed_(y_prev), o.z}, 1), st.s);  // h_t = LSTM(h_{t-1}, [E y_{t-1}; z_t])
    o.logits = out_(concat({st.s.h, o.z}, 1));             // [B, V]
    return o;
  }

 private:
  nn::Conv2d conv1_, conv2_, conv3_;
  nn::Linear init_h_, init_c_;
  nn::Embedding embed_;
  nn::Linear W_a_, W_h_, v_;  // f_att
  nn::LSTMCell lstm_;
  nn::Linear out_;
};

struct Loss {
  Var ce, penalty, total;
};

// The words' cross-entropy (teacher forcing) plus lambda sum_i (1 - sum_t alpha_ti)^2, the sum
// over t running over the caption's own steps, averaged over the batch.
Loss caption_loss(const Captioner& m, const CaptionBatch& b, double lambda) {
  DecodeState st = m.start(m.features(b.images));
  std::vector<Var> logits, alphas;
  for (int64_t t = 0; t < kSteps; ++t) {
    StepOut o = m.step(st, b.y_in.select(1, t), t + 1);
    logits.push_back(o.logits);
    alphas.push_back(o.alpha);
  }
  Loss l;
  l.ce = nn::cross_entropy(stack(logits, 1), b.y_out, {.ignore_index = kPad});
  Var attended = sum(stack(alphas, 1) * Var(b.step_mask.unsqueeze(2)), {1});  // sum_t alpha_ti [B, L]
  l.penalty = mean(sum(square(1.0 - attended), {1}));
  l.total = l.ce + l.penalty * lambda;
  return l;
}

// ---- reading the model ------------------------------------------------------------------------

struct Caption {
  std::vector<int64_t> tokens;             // up to and including <eos> (or kSteps words)
  std::vector<std::vector<double>> alpha;  // alpha_t over the L cells, one per word
  std::vector<std::vector<double>> e;      // e_t
  std::vector<std::vector<double>> h_prev; // the first values of h_{t-1}
};

// Greedy captions for a batch of scenes: each word is the argmax of p(y_t), fed back in.
std::vector<Caption> greedy_captions(const Captioner& m, const std::vector<Scene>& scenes) {
  NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(scenes.size());
  DecodeState st = m.start(m.features(scenes_tensor(scenes)));
  std::vector<Caption> out(static_cast<size_t>(B));
  std::vector<bool> done(static_cast<size_t>(B), false);
  Tensor y = Tensor::full({B}, static_cast<double>(kBos), DType::i64);
  for (int64_t t = 1; t <= kSteps; ++t) {
    const std::vector<double> h = st.s.h.value().to_vector();
    StepOut o = m.step(st, y, t);
    y = argmax(o.logits.value(), 1);
    const std::vector<double> yv = y.to_vector(), av = o.alpha.value().to_vector(), ev = o.e.value().to_vector();
    for (int64_t b = 0; b < B; ++b) {
      Caption& c = out[static_cast<size_t>(b)];
      if (done[static_cast<size_t>(b)]) continue;
      c.tokens.push_back(static_cast<int64_t>(yv[static_cast<size_t>(b)]));
      c.alpha.emplace_back(av.begin() + b * L, av.begin() + (b + 1) * L);
      c.e.emplace_back(ev.begin() + b * L, ev.begin() + (b + 1) * L);
      const int64_t H = st.s.h.size(1);
      c.h_prev.emplace_back(h.begin() + b * H, h.begin() + b * H + 3);
      if (c.tokens.back() == kEos) done[static_cast<size_t>(b)] = true;
    }
  }
  return out;
}

int argmax_cell(const std::vector<double>& alpha) {
  return static_cast<int>(std::max_element(alpha.begin(), alpha.end()) - alpha.begin());
}

struct Evaluation {
  double exact = 0;     // captions right word for word, <eos> included
  double pointing = 0;  // right object words whose argmax cell holds that object
  int64_t images = 0, words_pointed = 0;
  int64_t wrong_colour = 0, wrong_kind = 0, wrong_end = 0;  // where wrong captions first go wrong
};

// Pointing: word t of a caption (from 0) names object t / 2, left to right. A word counts when it
// is the right word (otherwise "the object named" means nothing) and a colour or kind, and it
// points right when some pixel of that object lies in the cell with the largest alpha_ti.
Evaluation evaluate(const Captioner& m, Generator& gen, int64_t images) {
  Evaluation ev;
  int64_t exact = 0, pointed = 0, right = 0;
  for (int64_t done = 0; done < images; done += 250) {
    std::vector<Scene> scenes;
    for (int64_t i = 0; i < std::min<int64_t>(250, images - done); ++i) scenes.push_back(caption_scene(gen));
    std::vector<Caption> caps = greedy_captions(m, scenes);
    for (size_t b = 0; b < scenes.size(); ++b) {
      const std::vector<int64_t> want = caption_of(scenes[b]);
      exact += caps[b].tokens == want;
      for (size_t t = 0; t < want.size(); ++t)
        if (t >= caps[b].tokens.size() || caps[b].tokens[t] != want[t]) {
          (want[t] == kEos ? ev.wrong_end : want[t] >= kFirstKind ? ev.wrong_kind : ev.wrong_colour)++;
          break;
        }
      for (size_t t = 0; t < caps[b].tokens.size() && t + 1 < want.size(); ++t) {
        if (caps[b].tokens[t] != want[t]) continue;
        ++pointed;
        right += object_in_cell(scenes[b].objects[t / 2], argmax_cell(caps[b].alpha[t]));
      }
    }
  }
  ev.images = images;
  ev.words_pointed = pointed;
  ev.exact = static_cast<double>(exact) / static_cast<double>(images);
  ev.pointing = pointed ? static_cast<double>(right) / static_cast<double>(pointed) : 0.0;
  return ev;
}

// The picture in text, one character per 2 x 2 pixels, with the 4 x 4 cell boundaries: the
// colour's initial where a shape is, '.' for background.
void print_scene(const Scene& s) {
  for (int y = 0; y < kSceneSize; y += 2) {
    if (y > 0 && y % kSceneCell == 0) fmt::print("  ----+----+----+----\n");
    std::string row = "  ";
    for (int x = 0; x < kSceneSize; x += 2) {
      if (x > 0 && x % kSceneCell == 0) row += '|';
      char ch = '.';
      for (const SceneObject& o : s.objects)
        if (object_covers(o, x, y) || object_covers(o, x + 1, y + 1)) ch = colour_name(o.colour)[0];
      row += ch;
    }
    fmt::print("{}\n", row);
  }
}

std::string grid_str(const std::vector<double>& v, int decimals, const std::string& indent) {
  std::string s;
  for (int r = 0; r < kSceneGrid; ++r) {
    s += indent;
    for (int c = 0; c < kSceneGrid; ++c) s += fmt::format(" {:>{}.{}f}", v[static_cast<size_t>(r * 4 + c)], decimals + 3, decimals);
    s += "\n";
  }
  return s;
}

std::string describe(const Scene& s) {
  std::string d;
  for (const SceneObject& o : s.objects)
    d += fmt::format("{}{} {} at ({}, {}) in cell {}", d.empty() ? "" : "; ", colour_name(o.colour), kind_name(o.kind),
                     o.cx, o.cy, o.cell);
  return d;
}

// Walks through one caption word by word and draws each word's attention over the picture.
void walk_through(const Captioner& m, const Scene& scene, const std::string& dir, const std::string& prefix,
                  bool print) {
  const Caption c = greedy_captions(m, {scene})[0];
  const std::vector<float> rgb = scene_rgb_hwc(scene);
  std::vector<std::string> rows, cols;
  for (int i = 0; i < L; ++i) cols.push_back(std::to_string(i));
  for (size_t t = 0; t < c.tokens.size(); ++t) {
    const std::string w = word(c.tokens[t]);
    rows.push_back(w);
    const int focus = argmax_cell(c.alpha[t]);
    std::string held;
    for (const SceneObject& o : scene.objects)
      if (object_in_cell(o, focus)) held += (held.empty() ? "" : ", ") + colour_name(o.colour) + " " + kind_name(o.kind);
    if (print) {
      fmt::print("t = {}: h_{} = {}...\n", t + 1, t, row_str(c.h_prev[t], 3));
      fmt::print("  e_t     = {}\n", row_str(c.e[t], 1));
      fmt::print("  alpha_t on the 4 x 4 grid:\n{}", grid_str(c.alpha[t], 2, "   "));
      fmt::print("  argmax_i alpha_ti = cell {} ({}), y_t = {}\n", focus, held.empty() ? "background" : held, w);
    }
    attention_overlay(rgb, kSceneSize, kSceneSize, c.alpha[t], kSceneGrid, kSceneGrid,
                      fmt::format("t = {}: \"{}\"", t + 1, w))
        .save(fmt::format("{}/{}_t{}_{}.svg", dir, prefix, t + 1, w == "<eos>" ? "eos" : w));
  }
  heatmap(c.alpha, rows, cols,
          {.title = "alpha_ti for \"" + words(c.tokens) + "\"", .x_label = "image cell i (row-major, 4 x 4)",
           .y_label = "word y_t", .show_values = false, .cell = 30})
      .save(fmt::format("{}/{}_heatmap.svg", dir, prefix));
  if (print) {
    std::vector<double> total(L, 0.0);
    for (const std::vector<double>& a : c.alpha)
      for (int i = 0; i < L; ++i) total[static_cast<size_t>(i)] += a[static_cast<size_t>(i)];
    fmt::print("sum_t alpha_ti over the caption (the doubly stochastic penalty wants each near 1):\n{}",
               grid_str(total, 2, "   "));
  }
}

void draw_graph(const Captioner& m, const std::string& dir) {
  Generator g(12345);
  CaptionBatch b = make_batch({caption_scene(g, 2)});
  Loss l = caption_loss(m, b, 0.01);
  l.total.set_name("loss");
  std::vector<std::string> fold{"encoder", "decoder.init", "decoder.keys"};
  for (const std::string& scope : graph_scopes({l.total}))
    if (scope.starts_with("decoder.t") && std::count(scope.begin(), scope.end(), '.') == 2) fold.push_back(scope);
  const std::string dot =
      to_dot({l.total}, {.collapse = fold,
                         .title = "Show, Attend and Tell in miniature: the loss of one caption; the CNN and each "
                                  "step's f_att, LSTM, embedding and output layer folded into one box"});
  render(dot, dir + "/graph_captioner.dot");
  render(dot, dir + "/graph_captioner.svg");
  fmt::print("graph: {}/graph_captioner.svg (one cluster per decoder step)\n\n", dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt =
      parse_lesson_flags(argc, argv, "02_soft_attention_captioning", "Show, Attend and Tell in miniature");
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    const int64_t steps = opt.steps_or(2500, 600);
    const int64_t batch = 32;
    const int64_t eval_images = opt.quick ? 250 : 1000;
    const double lambda = 0.005;
    const double lr0 = 3e-3;
    Generator init_gen(opt.seed), data_gen(opt.seed + 1), eval_gen(opt.seed + 2), show_gen(opt.seed + 3);

    fmt::print("== 1. The pictures and their captions\n\n");
    const Scene example = caption_scene(show_gen, 3);
    fmt::print("a 32 x 32 picture, white background, 2 or 3 shapes (kinds may repeat); here {}\n", describe(example));
    print_scene(example);
    fmt::print("caption (objects left to right): \"{}\"\n", words(caption_of(example)));
    fmt::print("vocabulary: {} words; captions of 5 or 7 words with <eos>. Every batch is fresh pictures;\n"
               "the held-out pictures come from another generator.\n\n",
               kVocab);

    fmt::print("== 2. The model and one step before training\n\n");
    Sizes z;
    Captioner model(z, init_gen);
    fmt::print("CNN: 3 convolutions 3x3, stride 2 (5 -> {} -> {} -> {} channels; 2 of the 5 input channels are the\n"
               "pixel's x and y), so 32 x 32 becomes 4 x 4: a_i for L = {} cells, D = {}. LSTM h_t of {}, f_att of {}\n"
               "hidden units, {} parameters in all.\n",
               z.C1, z.C2, z.D, L, z.D, z.H, z.A, model.num_parameters());
    {
      NoGradGuard no_grad;
      Var a = model.features(scenes_tensor({example}));
      DecodeState st = model.start(a);
      std::vector<double> h_0 = st.s.h.value().to_vector();
      h_0.resize(4);
      fmt::print("a is {}; h_0 = tanh(W_init,h mean_i a_i), first values {}\n", a.shape(), row_str(h_0, 3));
      StepOut o = model.step(st, Tensor::full({1}, static_cast<double>(kBos), DType::i64), 1);
      fmt::print("e_1i = v^T tanh(W_a a_i + W_h h_0):\n{}", grid_str(o.e.value().to_vector(), 3, "   "));
      fmt::print("alpha_1 = softmax(e_1): nearly uniform (1/16 = 0.0625), the model looks everywhere:\n{}",
                 grid_str(o.alpha.value().to_vector(), 3, "   "));
      fmt::print("z_1 = sum_i alpha_1i a_i is about the mean of the a_i\n\n");
    }

    fmt::print("== 3. Training ({} steps of {} fresh pictures, Adam, lambda = {})\n\n", steps, batch, lambda);
    nn::Adam adam(model.parameters(), {.lr = lr0});
    ProgressBar bar("captioner", steps, !opt.quiet);
    std::vector<double> xs, ce_curve, pen_curve;
    double ce_avg = 0, pen_avg = 0;
    for (int64_t step = 1; step <= steps; ++step) {
      // A half cosine from lr0 down to lr0 / 20.
      const double progress = static_cast<double>(step - 1) / static_cast<double>(std::max<int64_t>(1, steps - 1));
      adam.set_lr(lr0 * (0.05 + 0.95 * 0.5 * (1 + std::cos(std::numbers::pi * progress))));
      CaptionBatch b = random_batch(data_gen, batch);
      Loss l = caption_loss(model, b, lambda);
      adam.zero_grad();
      l.total.backward();
      nn::clip_grad_norm(adam.params(), 5.0);
      adam.step();
      const double ce = l.ce.value().item(), pen = l.penalty.value().item();
      ce_avg = step == 1 ? ce : 0.95 * ce_avg + 0.05 * ce;
      pen_avg = step == 1 ? pen : 0.95 * pen_avg + 0.05 * pen;
      if (step % 10 == 0 || step == steps) {
        xs.push_back(static_cast<double>(step));
        ce_curve.push_back(ce_avg);
        pen_curve.push_back(lambda * pen_avg);
      }
      if (step == 1 || step % (steps / 5 > 0 ? steps / 5 : 1) == 0)
        fmt::print("step {:>5}: cross-entropy {:.4f}, penalty sum_i (1 - sum_t alpha_ti)^2 = {:.2f}\n", step, ce_avg,
                   pen_avg);
      bar.update(step, ce_avg);
    }
    bar.finish();
    line_chart({{"cross-entropy", xs, ce_curve}, {"lambda x penalty", xs, pen_curve}},
               {.title = "training loss (running average)", .x_label = "step", .y_label = "loss (log scale)",
                .log_y = true, .points = false})
        .save(opt.out_dir + "/loss_curves.svg");
    fmt::print("figure: {}/loss_curves.svg\n\n", opt.out_dir);

    fmt::print("== 4. Reading the trained attention, word by word\n\n");
    const std::vector<Caption> got = greedy_captions(model, {example});
    fmt::print("picture: {}\ncaption: \"{}\"\n\n", describe(example), words(got[0].tokens));
    walk_through(model, example, opt.out_dir, "example", true);
    const Scene second = caption_scene(show_gen, 2);
    walk_through(model, second, opt.out_dir, "example2", false);
    fmt::print("figures: {0}/example_t1_*.svg ... one per word (the picture with alpha_t laid over it in red),\n"
               "         {0}/example_heatmap.svg (alpha_ti, words by cells); the same for a 2-object picture as "
               "example2_*\n\n",
               opt.out_dir);

    fmt::print("== 5. Held-out pictures\n\n");
    const Evaluation ev = evaluate(model, eval_gen, eval_images);
    fmt::print("caption exact match on {} fresh pictures: {:.4f}\n", ev.images, ev.exact);
    fmt::print("wrong captions first go wrong at a colour word {} times, a kind word {} times, the end {} times\n",
               ev.wrong_colour, ev.wrong_kind, ev.wrong_end);
    fmt::print("pointing accuracy over {} correctly generated object words: {:.4f}\n"
               "(the cell with the largest alpha_ti holds part of the object the word names)\n\n",
               ev.words_pointed, ev.pointing);
    fmt::print("Xu et al. 2015 attend over a 14 x 14 x 512 VGG map (L = 196, D = 512); here L = 16, D = {}.\n\n", z.D);

    fmt::print("== 6. The computation graph\n\n");
    draw_graph(model, opt.out_dir);

    report.metric("caption_exact_match", ev.exact);
    report.metric("pointing_acc", ev.pointing);
    report.metric("final_cross_entropy", ce_avg);
    report.metric("final_penalty", pen_avg);
    fmt::print("== Targets\n");
    if (opt.quick) {
      // 600 steps learn the colours and the order; the kinds come later.
      report.at_least("caption_exact_match", ev.exact, 0.2);
      report.at_least("pointing_acc", ev.pointing, 0.7);
    } else {
      report.at_least("caption_exact_match", ev.exact, 0.90);
      report.at_least("pointing_acc", ev.pointing, 0.80);
    }
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "02_soft_attention_captioning: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
