// Part (b): visual question answering in miniature. "what color is the circle ?" about one of
// lesson 02's scenes. The question, read by a GRU, is the query; the CNN's 4 x 4 grid of
// features a_i is the memory; Show, Attend and Tell's f_att scores each cell:
//
//   q = GRU(question)                    the query (the notes' s_t)
//   e_i = v^T tanh(W_h q + W_a a_i)      alpha = softmax(e),  z = sum_i alpha_i a_i
//   p(answer) = softmax(W_o z + b_o)     the answer sees the image only through z
//
// Colours repeat within a scene, so a model that does not look at the right object cannot be
// sure of the answer; the attention map shows where it looked.
#include "lessons/07_alignment_heatmaps_dates/vqa.h"

#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "lessons/common/progress.h"
#include "lessons/common/shapes.h"
#include "lessons/common/svg.h"
#include "nn/attention.h"
#include "nn/clip.h"
#include "nn/conv.h"
#include "nn/encoder.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace lumen::lessons {

namespace {

// Question words: "what color is the <kind> ?"; 0 is padding.
const std::vector<std::string> kWords = {"<pad>", "what", "color", "is", "the", "circle", "square", "triangle", "?"};
constexpr int64_t kQuestionLen = 6;
constexpr int64_t kFirstKindWord = 5;

struct VqaBatch {
  std::vector<Scene> scenes;
  std::vector<int> asked;  // index of the object asked about, in each scene
  Tensor images;           // f32 [B, 3, 32, 32]
  Tensor questions;        // i64 [B, 6]
  Tensor answers;          // i64 [B]: the colour
};

std::string question_text(ShapeKind k) { return "what color is the " + kind_name(k) + " ?"; }

VqaBatch make_batch(std::vector<Scene> scenes, std::vector<int> asked) {
  VqaBatch b;
  std::vector<int64_t> q, a;
  for (size_t r = 0; r < scenes.size(); ++r) {
    const SceneObject& o = scenes[r].objects[static_cast<size_t>(asked[r])];
    for (int64_t w : {1, 2, 3, 4}) q.push_back(w);
    q.push_back(kFirstKindWord + static_cast<int64_t>(o.kind));
    q.push_back(8);
    a.push_back(static_cast<int64_t>(o.colour));
  }
  const int64_t B = static_cast<int64_t>(scenes.size());
  b.images = scenes_tensor(scenes);
  b.questions = Tensor::from_vector(q, {B, kQuestionLen});
  b.answers = Tensor::from_vector(a, {B});
  b.scenes = std::move(scenes);
  b.asked = std::move(asked);
  return b;
}

// A scene, then which of its objects the question asks about.
VqaBatch random_batch(Generator& gen, int64_t B) {
  std::vector<Scene> scenes;
  std::vector<int> asked;
  for (int64_t r = 0; r < B; ++r) {
    scenes.push_back(random_scene(gen));
    asked.push_back(static_cast<int>(gen.below(scenes.back().objects.size())));
  }
  return make_batch(std::move(scenes), std::move(asked));
}

struct Sizes {
  int64_t D = 64;  // features per cell a_i
  int64_t Q = 32;  // the question's GRU state q
  int64_t A = 32;  // hidden units of f_att
};

class VqaModel : public nn::Module {
 public:
  VqaModel(const Sizes& z, Generator& gen)
      : Module("VqaModel"),
        conv1_({.in = 3, .out = 32, .kernel = 3, .stride = 2, .padding = 1}, gen),
        conv2_({.in = 32, .out = 64, .kernel = 3, .stride = 2, .padding = 1}, gen),
        conv3_({.in = 64, .out = z.D, .kernel = 3, .stride = 2, .padding = 1}, gen),
        question_({.input_size = 16, .hidden_size = z.Q, .vocab_size = static_cast<int64_t>(kWords.size()),
                   .padding_idx = 0},
                  gen),
        attn_({.feature_dim = z.D, .hidden_dim = z.Q, .attn_dim = z.A}, gen),
        out_({.in = z.D, .out = kShapeColours}, gen) {
    register_module("cnn1", conv1_);
    register_module("cnn2", conv2_);
    register_module("cnn3", conv3_);
    register_module("question", question_);
    register_module("attn", attn_);
    register_module("answer", out_);
  }

  struct Output {
    Var logits, alpha;  // [B, 3], [B, 16]
  };

  Output forward(const VqaBatch& b) const {
    const int64_t B = b.images.size(0);
    // Three 3 x 3 convolutions with stride 2: each a_i sees its own 8 x 8 cell and a rim of its
    // neighbours, enough to tell a shape's kind from the cell holding most of it.
    Var f = relu(conv1_(Var(b.images)));  // [B, 32, 16, 16]
    f = relu(conv2_(f));                  // [B, 64, 8, 8]
    f = relu(conv3_(f));                  // [B, D, 4, 4]
    // Cell (row r, column c) becomes location i = 4r + c, as in shapes.h.
    Var a = contiguous(transpose(reshape(f, {B, f.size(1), kSceneCells}), 1, 2));  // [B, L, D]
    Var q = question_.forward(b.questions).final.h;                                // [B, Q]
    nn::AttentionOutput att = attn_.forward(q, a);                                  // z [B, D], alpha [B, L]
    return {out_(att.c_t), att.alpha_t};
  }

 private:
  nn::Conv2d conv1_, conv2_, conv3_;
  nn::Encoder question_;
  nn::SoftAttention attn_;
  nn::Linear out_;
};

struct Scores {
  double acc = 0, pointing = 0, chance = 0;
};

Scores score(const VqaModel& m, Generator& gen, int64_t n) {
  NoGradGuard no_grad;
  int64_t right = 0, pointed = 0;
  std::vector<int64_t> answer_count(kShapeColours, 0);
  for (int64_t done = 0; done < n; done += 250) {
    VqaBatch b = random_batch(gen, std::min<int64_t>(250, n - done));
    VqaModel::Output o = m.forward(b);
    const std::vector<double> pred = argmax(o.logits.value(), 1).to_vector(),
                              cell = argmax(o.alpha.value(), 1).to_vector(), gold = b.answers.to_vector();
    for (size_t r = 0; r < b.scenes.size(); ++r) {
      right += pred[r] == gold[r];
      answer_count[static_cast<size_t>(gold[r])] += 1;
      pointed += object_in_cell(b.scenes[r].objects[static_cast<size_t>(b.asked[r])], static_cast<int>(cell[r]));
    }
  }
  const double N = static_cast<double>(n);
  return {static_cast<double>(right) / N, static_cast<double>(pointed) / N,
          static_cast<double>(*std::max_element(answer_count.begin(), answer_count.end())) / N};
}

}  // namespace

VqaResult run_vqa(const LessonOptions& opt) {
  const int64_t steps = opt.steps_or(1200, 200), batch = 64, eval_n = opt.quick ? 300 : 1000;
  Generator init_gen(opt.seed + 10), data(opt.seed + 11), eval_gen(opt.seed + 12);
  Sizes z;
  VqaModel model(z, init_gen);
  fmt::print("Questions \"what color is the circle/square/triangle ?\" about lesson 02's scenes (2-3 shapes, colours\n"
             "may repeat). A GRU reads the question into q; a CNN (3 convolutions 3 x 3, stride 2, 3 -> 32 -> 64 -> 64\n"
             "channels) gives a 4 x 4 grid of a_i; e_i = v^T tanh(W_h q + W_a a_i), alpha = softmax(e),\n"
             "z = sum_i alpha_i a_i, answer = W_o z.\n"
             "{} parameters; {} steps of {} questions.\n",
             model.num_parameters(), steps, batch);

  nn::Adam adam(model.parameters(), {.lr = 3e-3});
  nn::CosineLR schedule({.base_lr = 3e-3, .total_steps = std::max<int64_t>(steps, 1), .min_lr = 1e-4});
  ProgressBar bar("vqa", steps, !opt.quiet);
  double running = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    VqaBatch b = random_batch(data, batch);
    schedule.apply(adam);
    adam.zero_grad();
    Var loss = nn::cross_entropy(model.forward(b).logits, b.answers);
    backward(loss);
    nn::clip_grad_norm(adam.params(), 1.0);
    adam.step();
    running = step == 1 ? loss.item() : 0.95 * running + 0.05 * loss.item();
    bar.update(step, running);
  }
  bar.finish();
  model.eval();
  const Scores s = score(model, eval_gen, eval_n);
  fmt::print("final running loss {:.4f}\non {} fresh questions: answer accuracy {:.4f} (always the most common answer: "
             "{:.4f}),\npointing accuracy {:.4f} (the cell with the largest alpha_i holds the shape asked about)\n",
             running, eval_n, s.acc, s.chance, s.pointing);

  // One scene of three shapes, asked about each: the attention should move with the question.
  Generator show_gen(opt.seed + 13);
  Scene scene = random_scene(show_gen, 3);
  std::vector<Scene> scenes;
  std::vector<int> asked;
  for (int k = 0; k < 3; ++k) scenes.push_back(scene), asked.push_back(k);
  for (int k = 0; k < 2; ++k) {
    scenes.push_back(random_scene(show_gen));
    asked.push_back(static_cast<int>(show_gen.below(scenes.back().objects.size())));
  }
  VqaBatch b = make_batch(scenes, asked);
  VqaModel::Output o;
  {
    NoGradGuard no_grad;
    o = model.forward(b);
  }
  const std::vector<double> pred = argmax(o.logits.value(), 1).to_vector();
  for (size_t r = 0; r < scenes.size(); ++r) {
    const SceneObject& obj = scenes[r].objects[static_cast<size_t>(asked[r])];
    std::vector<double> alpha = o.alpha.value().select(0, static_cast<int64_t>(r)).to_vector();
    const int cell = static_cast<int>(std::max_element(alpha.begin(), alpha.end()) - alpha.begin());
    const std::string answer = colour_name(static_cast<ShapeColour>(static_cast<int>(pred[r])));
    const std::string caption = fmt::format("{} -> {} (truth {}; argmax cell {} {} the {})", question_text(obj.kind),
                                            answer, colour_name(obj.colour), cell,
                                            object_in_cell(obj, cell) ? "holds" : "misses", kind_name(obj.kind));
    fmt::print("  {}\n", caption);
    // The figure's caption is the question and answer only: the image is 320 pixels wide.
    attention_overlay(scene_rgb_hwc(scenes[r]), kSceneSize, kSceneSize, alpha, kSceneGrid, kSceneGrid,
                      fmt::format("{} -> {}", question_text(obj.kind), answer), 10)
        .save(fmt::format("{}/vqa_attention_{}.svg", opt.out_dir, r + 1));
  }
  fmt::print("figures: {}/vqa_attention_1.svg .. _{}.svg (1-3: one scene, three questions)\n\n", opt.out_dir,
             scenes.size());
  return {s.acc, s.pointing, s.chance};
}

}  // namespace lumen::lessons
