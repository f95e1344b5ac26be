// Lesson 06: the notes' worked example, "le chat noir" -> "the black cat", replayed with real
// numbers. Part 1 builds encoder and decoder states whose dot-product scores are exactly the
// notes' e_ti and prints every variable at t = 1, 2, 3, computing the softmax instead of copying
// it. Part 2 shows the two scoring recipes the notes mix (s_t and s_{t-1}). Part 3 trains a
// tiny Bahdanau model on a few dozen French-English phrases and looks at its alignment.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/attention.h"
#include "nn/clip.h"
#include "nn/linear.h"
#include "nn/optim.h"
#include "nn/seq2seq.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

std::string vec_str(const std::vector<double>& v, int digits = 4) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt::format("{:.{}f}", v[i], digits);
  return s + "]";
}

double round2(double x) { return std::round(x * 100.0) / 100.0; }

// ---- Part 1: the worked example with exact numbers -------------------------------------------

const std::vector<std::string> kSource = {"le", "chat", "noir"};
const std::vector<std::string> kEnglish = {"the", "black", "cat"};
// The notes' made-up scores e_ti and the weights they print for them ("approx.").
const std::vector<std::vector<double>> kNotesScores = {{2.1, 0.3, 0.2}, {0.1, 2.0, 2.4}, {0.1, 2.6, 0.8}};
const std::vector<std::vector<double>> kNotesAlpha = {{0.70, 0.16, 0.14}, {0.05, 0.39, 0.56}, {0.06, 0.79, 0.15}};

struct WorkedExample {
  Tensor h;               // f64 [1, 3, 4]: h_1, h_2, h_3
  std::vector<Tensor> s;  // s_0 .. s_3, each f64 [1, 4]
  Var W_o, b_o;           // the output layer: [3, 8] and [3]
};

// Four dimensions: the first three are "which source word", the fourth is the decoder's own
// bookkeeping (how far it has got). Every h_i is a unit vector along its own axis, so
// s_t . h_i reads off coordinate i of s_t: writing the notes' scores into s_t's first three
// coordinates makes the dot products equal them exactly (multiplying by 1 and adding 0 is exact
// in floating point). The fourth coordinate is invisible to the score, since every h_i has 0 there.
WorkedExample build_worked_example() {
  WorkedExample w;
  // x_i = emb(word): one axis per French word. The encoder chosen here forgets its past,
  // h_i = f_enc(h_{i-1}, x_i) = x_i, so the memory is orthonormal. A trained encoder mixes in
  // h_{i-1}; the notes' example does not depend on that.
  w.h = Tensor::from_vector(std::vector<double>{1, 0, 0, 0,  //
                                                0, 1, 0, 0,  //
                                                0, 0, 1, 0},
                            {1, 3, 4}, DType::f64);
  // s_0 from the encoder's final state, s_0 = h_3; then s_t carries the notes' scores and t.
  w.s.push_back(Tensor::from_vector(std::vector<double>{0, 0, 1, 0}, {1, 4}, DType::f64));
  for (int t = 0; t < 3; ++t) {
    const auto& e = kNotesScores[static_cast<size_t>(t)];
    w.s.push_back(Tensor::from_vector(std::vector<double>{e[0], e[1], e[2], double(t + 1)}, {1, 4}, DType::f64));
  }
  // o_t = W_o [s_t; c_t] + b_o over the English words {the, black, cat}. The s_t half is zero
  // and the c_t half is a dictionary scaled by 4: le -> the, chat -> cat, noir -> black, so
  // the word said is the one attention fetched.
  std::vector<double> W(3 * 8, 0.0);
  auto set = [&](int word, int src, double v) { W[static_cast<size_t>(word * 8 + 4 + src)] = v; };
  set(0, 0, 4.0);  // the   <- le
  set(1, 2, 4.0);  // black <- noir
  set(2, 1, 4.0);  // cat   <- chat
  w.W_o = Var(Tensor::from_vector(W, {3, 8}, DType::f64), true).set_name("W_o");
  w.b_o = Var(Tensor::zeros({3}, DType::f64), true).set_name("b_o");
  return w;
}

// softmax written out, as an independent check of the engine's.
std::vector<double> softmax_by_hand(const std::vector<double>& e) {
  double m = *std::max_element(e.begin(), e.end()), z = 0;
  std::vector<double> p;
  for (double x : e) z += std::exp(x - m);
  for (double x : e) p.push_back(std::exp(x - m) / z);
  return p;
}

struct StepResult {
  std::vector<double> e, alpha, c, o;
  int64_t word;
  Var o_var;  // for the graph
};

// One decoder step of the toy: attention with the dot score, then the prediction. The query
// is s_t itself (the worked example) or s_(t-1) (Bahdanau's order, part 2).
StepResult toy_step(const WorkedExample& w, const nn::LuongAttention& dot, int query_index, int t) {
  // The inputs require grad only so that autograd records the step for the graph.
  Var h(w.h, true);
  h.set_name("h_i");
  Var s(w.s[static_cast<size_t>(t)], true);
  s.set_name(fmt::format("s_{}", t));
  Var q = s;
  if (query_index != t) {
    q = Var(w.s[static_cast<size_t>(query_index)], true);
    q.set_name(fmt::format("s_{}", query_index));
  }
  nn::AttentionOutput a;
  {
    NameScope scope("attention");
    a = dot.forward(q, h);  // e_ti = q . h_i, alpha_t = softmax(e_t), c_t = sum_i alpha_ti h_i
    a.alpha_t.set_name(fmt::format("alpha_{}", t));
    a.c_t.set_name(fmt::format("c_{}", t));
  }
  NameScope scope("output");
  Var o = nn::linear(concat({s, a.c_t}, 1), w.W_o, w.b_o);  // o_t = W_o [s_t; c_t] + b_o
  o.set_name(fmt::format("o_{}", t));
  StepResult r;
  r.e = dot.scores(q, h).value().to_vector();
  r.alpha = a.alpha_t.value().to_vector();
  r.c = a.c_t.value().to_vector();
  r.o = o.value().to_vector();
  r.word = std::max_element(r.o.begin(), r.o.end()) - r.o.begin();
  r.o_var = o;
  return r;
}

struct Part1 {
  std::vector<std::vector<double>> alpha;
  double max_score_err = 0;    // |s_t . h_i - notes' e_ti|
  double max_softmax_err = 0;  // engine softmax vs the hand-written one
  int differing = 0;           // rounded weights that disagree with the notes'
  bool predicts_the_black_cat = true;
  bool t1_rounds_to_76_13_11 = false;
};

Part1 part1_worked_example(const LessonOptions& opt, const WorkedExample& w, const nn::LuongAttention& dot) {
  fmt::print("== 1. The worked example with exact numbers: \"le chat noir\" -> \"the black cat\"\n\n");
  fmt::print("Encoder (x_i = emb(word); this encoder forgets its past, so h_i = f_enc(h_(i-1), x_i) = x_i):\n");
  for (int i = 0; i < 3; ++i) {
    std::vector<double> h_i = w.h.select(1, i).to_vector();
    fmt::print("  x_{} = emb(\"{}\") = {}   h_{} = {}\n", i + 1, kSource[static_cast<size_t>(i)], vec_str(h_i, 0),
               i + 1, vec_str(h_i, 0));
  }
  fmt::print("The h_i are orthonormal, so the dot score e_ti = s_t . h_i reads coordinate i of s_t.\n");
  fmt::print("s_0 = h_3 (initialised from the encoder's final state) = {}\n", vec_str(w.s[0].to_vector(), 1));
  fmt::print("Output layer: o_t = W_o [s_t; c_t] + b_o, a dictionary on c_t (le->the, chat->cat, noir->black)\n\n");

  Part1 r;
  for (int t = 1; t <= 3; ++t) {
    const size_t ti = static_cast<size_t>(t - 1);
    StepResult st = toy_step(w, dot, t, t);
    std::vector<double> by_hand = softmax_by_hand(st.e);
    for (size_t i = 0; i < 3; ++i) {
      r.max_score_err = std::max(r.max_score_err, std::abs(st.e[i] - kNotesScores[ti][i]));
      r.max_softmax_err = std::max(r.max_softmax_err, std::abs(st.alpha[i] - by_hand[i]));
    }
    std::vector<double> rounded;
    std::string flags;
    for (size_t i = 0; i < 3; ++i) {
      rounded.push_back(round2(st.alpha[i]));
      bool same = std::abs(rounded[i] - kNotesAlpha[ti][i]) < 1e-9;
      r.differing += !same;
      flags +=
          fmt::format("{}{}", i ? ", " : "", same ? "same" : fmt::format("{:+.2f}", rounded[i] - kNotesAlpha[ti][i]));
    }
    // c_t as the notes write it (their rounded weights) next to the exact one.
    std::vector<double> c_notes(4, 0.0);
    for (size_t i = 0; i < 3; ++i) c_notes[i] = kNotesAlpha[ti][i];

    fmt::print("-- t = {} (say \"{}\")  y_(t-1) = {}\n", t, kEnglish[ti], t == 1 ? "<bos>" : kEnglish[ti - 1]);
    fmt::print("  s_{}     = f_dec(s_{}, emb(y_{}), c_{}) = {}\n", t, t - 1, t - 1, t - 1,
               vec_str(w.s[static_cast<size_t>(t)].to_vector(), 1));
    fmt::print("  e_{}i    = s_{} . h_i         = {}   (notes: {})\n", t, t, vec_str(st.e, 1),
               vec_str(kNotesScores[ti], 1));
    fmt::print("  alpha_{} = softmax(e_{})       = {}\n", t, t, vec_str(st.alpha, 4));
    fmt::print("            rounded            = {}   notes: {}   {}\n", vec_str(rounded, 2),
               vec_str(kNotesAlpha[ti], 2), rounded == kNotesAlpha[ti] ? "agree" : "DIFFER (" + flags + ")");
    fmt::print("            sum                = {:.17g}\n", st.alpha[0] + st.alpha[1] + st.alpha[2]);
    fmt::print("  c_{}     = sum_i alpha_{}i h_i  = {}   (with the notes' weights: {})\n", t, t, vec_str(st.c, 4),
               vec_str(c_notes, 2));
    fmt::print("  o_{}     = W_o [s_{}; c_{}] + b_o = {} over (the, black, cat) -> \"{}\"\n\n", t, t, t,
               vec_str(st.o, 3), kEnglish[static_cast<size_t>(st.word)]);
    r.alpha.push_back(st.alpha);
    r.predicts_the_black_cat = r.predicts_the_black_cat && st.word == t - 1;
    if (t == 1) {
      r.t1_rounds_to_76_13_11 = rounded == std::vector<double>{0.76, 0.13, 0.11};
      std::string dot_text = to_dot({st.o_var}, {.show_values = true,
                                                 .title = "t = 1: e = s_1 . h_i, alpha = softmax(e), c = sum alpha h, "
                                                          "o = W_o [s_1; c_1] + b_o"});
      render(dot_text, opt.out_dir + "/worked_example_t1.dot");
      render(dot_text, opt.out_dir + "/worked_example_t1.svg");
    }
  }
  fmt::print("The notes' weights are not softmax of the notes' scores: {} of the 9 rounded weights differ.\n",
             r.differing);
  fmt::print("softmax([2.1, 0.3, 0.2]) = [0.76, 0.13, 0.11]; the notes' [0.70, 0.16, 0.14] would need scores\n");
  const auto& a = kNotesAlpha[0];
  fmt::print("  2.1 + log([0.70, 0.16, 0.14] / 0.70) = [2.1, {:.2f}, {:.2f}], not [2.1, 0.3, 0.2].\n",
             2.1 + std::log(a[1] / a[0]), 2.1 + std::log(a[2] / a[0]));
  fmt::print("The story is unchanged: the weights still peak at le, then noir (with some chat), then chat.\n");
  fmt::print("graph of step t = 1 with every value: {}/worked_example_t1.svg\n\n", opt.out_dir);
  return r;
}

// ---- Part 2: score with s_t (the worked example) or s_(t-1) (the notes' Part 1) ----------------

bool part2_query_variants(const WorkedExample& w, const nn::LuongAttention& dot) {
  fmt::print("== 2. Which state asks the question: s_t or s_(t-1)?\n\n");
  fmt::print("The worked example scores with the updated state, e_ti = score(s_t, h_i) (Luong's order:\n");
  fmt::print("update, then attend). The notes' Part 1 scores with the previous one, e_tj = score(s_(t-1), h_j)\n");
  fmt::print("(Bahdanau's order: attend, then update with c_t). Same states s_0..s_3, same W_o, both recipes:\n\n");
  fmt::print("{:<26} {:>3} {:>8} {:<24} {:<26} {}\n", "recipe", "t", "query", "e_t", "alpha_t", "says");
  std::string luong_out, bahdanau_out;
  for (int variant = 0; variant < 2; ++variant) {
    for (int t = 1; t <= 3; ++t) {
      const int q = variant == 0 ? t : t - 1;
      StepResult st = toy_step(w, dot, q, t);
      const std::string& word = kEnglish[static_cast<size_t>(st.word)];
      (variant == 0 ? luong_out : bahdanau_out) += (t > 1 ? " " : "") + word;
      fmt::print("{:<26} {:>3} {:>8} {:<24} {:<26} {}\n", variant == 0 ? "score(s_t, h_i)" : "score(s_(t-1), h_i)", t,
                 fmt::format("s_{}", q), vec_str(st.e, 1), vec_str(st.alpha, 3), word);
    }
  }
  fmt::print("\nscore(s_t, h_i) says \"{}\"; score(s_(t-1), h_i) says \"{}\": every word one step late.\n", luong_out,
             bahdanau_out);
  fmt::print("The recipes are different models, not two spellings of one. In Bahdanau's form the state\n");
  fmt::print("s_(t-1) must already hold the plan for word t, before that word's update; training learns\n");
  fmt::print("exactly that, and the model of part 3 is a Bahdanau model.\n\n");
  return luong_out == "the black cat" && bahdanau_out != luong_out;
}

// ---- Part 3: a tiny model trained on French-English phrases ---------------------------------

struct Phrase {
  std::vector<std::string> fr, en;
};

struct Noun {
  const char* fr;
  const char* en;
  bool feminine;
};
struct Adjective {
  const char* masc;
  const char* fem;
  const char* en;
  bool before_noun;  // petit, grand: the same order as English
};

// 8 nouns x (4 colours after the noun + 2 sizes before it) + 8 bare nouns = 56 phrases.
std::vector<Phrase> make_phrases() {
  const std::vector<Noun> nouns = {{"chat", "cat", false},    {"chien", "dog", false},  {"livre", "book", false},
                                   {"oiseau", "bird", false}, {"voiture", "car", true}, {"maison", "house", true},
                                   {"fleur", "flower", true}, {"table", "table", true}};
  const std::vector<Adjective> adjectives = {{"noir", "noire", "black", false},    {"rouge", "rouge", "red", false},
                                             {"blanc", "blanche", "white", false}, {"vert", "verte", "green", false},
                                             {"petit", "petite", "small", true},   {"grand", "grande", "big", true}};
  std::vector<Phrase> out;
  for (const Noun& n : nouns) {
    const std::string det = n.feminine ? "la" : "le";
    out.push_back({{det, n.fr}, {"the", n.en}});
    for (const Adjective& a : adjectives) {
      const std::string adj = n.feminine ? a.fem : a.masc;
      if (a.before_noun)
        out.push_back({{det, adj, n.fr}, {"the", a.en, n.en}});
      else
        out.push_back({{det, n.fr, adj}, {"the", a.en, n.en}});
    }
  }
  return out;
}

// Held out of training, to see whether the model generalises to unseen combinations.
bool is_held_out(const Phrase& p) {
  static const std::vector<std::vector<std::string>> held = {
      {"la", "fleur", "verte"}, {"le", "livre", "blanc"}, {"le", "chien", "rouge"}, {"la", "table", "noire"}};
  return std::find(held.begin(), held.end(), p.fr) != held.end();
}

struct Vocab {
  std::vector<std::string> words;
  std::map<std::string, int64_t> ids;
  explicit Vocab(std::vector<std::string> specials) : words(std::move(specials)) {
    for (size_t i = 0; i < words.size(); ++i) ids[words[i]] = static_cast<int64_t>(i);
  }
  int64_t id(const std::string& w) {
    auto it = ids.find(w);
    if (it != ids.end()) return it->second;
    words.push_back(w);
    return ids[w] = static_cast<int64_t>(words.size() - 1);
  }
};

constexpr int64_t kPad = 0, kBos = 1, kEos = 2;

struct Batch {
  Tensor src, src_lengths, y_in, y_out;  // [B, 3], [B], [B, 4], [B, 4]
};

Batch make_batch(const std::vector<Phrase>& phrases, Vocab& fr, Vocab& en) {
  const int64_t B = static_cast<int64_t>(phrases.size()), S = 3, T = 4;
  std::vector<int64_t> src(static_cast<size_t>(B * S), kPad), len, y_in(static_cast<size_t>(B * T), kPad),
      y_out(static_cast<size_t>(B * T), kPad);
  for (int64_t b = 0; b < B; ++b) {
    const Phrase& p = phrases[static_cast<size_t>(b)];
    for (size_t i = 0; i < p.fr.size(); ++i) src[static_cast<size_t>(b * S) + i] = fr.id(p.fr[i]);
    len.push_back(static_cast<int64_t>(p.fr.size()));
    y_in[static_cast<size_t>(b * T)] = kBos;
    for (size_t t = 0; t < p.en.size(); ++t) {
      y_out[static_cast<size_t>(b * T) + t] = en.id(p.en[t]);
      y_in[static_cast<size_t>(b * T) + t + 1] = en.id(p.en[t]);
    }
    y_out[static_cast<size_t>(b * T) + p.en.size()] = kEos;
  }
  return {Tensor::from_vector(src, {B, S}), Tensor::from_vector(len, {B}), Tensor::from_vector(y_in, {B, T}),
          Tensor::from_vector(y_out, {B, T})};
}

struct Translation {
  std::vector<std::string> words;          // without <eos>
  std::vector<std::vector<double>> alpha;  // one row per emitted token (incl. <eos>), over the source
};

std::vector<Translation> translate(const nn::Seq2Seq& model, const Batch& batch, const Vocab& en) {
  nn::Decoded d =
      model.greedy_decode(batch.src, batch.src_lengths, {.bos = kBos, .eos = kEos, .max_len = 4, .pad = kPad});
  std::vector<Translation> out;
  const int64_t B = batch.src.size(0), L = d.tokens.size(1), S = batch.src.size(1);
  const std::vector<double> tok = d.tokens.to_vector(), len = d.lengths.to_vector(), al = d.alphas.to_vector(),
                            src_len = batch.src_lengths.to_vector();
  for (int64_t b = 0; b < B; ++b) {
    Translation tr;
    for (int64_t t = 0; t < static_cast<int64_t>(len[static_cast<size_t>(b)]); ++t) {
      int64_t id = static_cast<int64_t>(tok[static_cast<size_t>(b * L + t)]);
      if (id != kEos) tr.words.push_back(en.words[static_cast<size_t>(id)]);
      std::vector<double> row;
      for (int64_t i = 0; i < static_cast<int64_t>(src_len[static_cast<size_t>(b)]); ++i)
        row.push_back(al[static_cast<size_t>((b * L + t) * S + i)]);
      tr.alpha.push_back(row);
    }
    out.push_back(tr);
  }
  return out;
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) s += (i ? " " : "") + w[i];
  return s;
}

int64_t argmax_of(const std::vector<double>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

struct Part3 {
  double train_acc = 0, held_out_acc = 0;
  bool black_attends_noir = false, cat_attends_chat = false;
  double crossed_fraction = 0;  // swapped training phrases whose adjective and noun both align
  double final_loss = 0;
};

Part3 part3_train(const LessonOptions& opt) {
  fmt::print("== 3. A tiny Bahdanau model trained on French-English phrases\n\n");
  std::vector<Phrase> all = make_phrases(), train, held;
  for (const Phrase& p : all) (is_held_out(p) ? held : train).push_back(p);
  Vocab fr({"<pad>"}), en({"<pad>", "<bos>", "<eos>"});
  Batch train_batch = make_batch(train, fr, en), held_batch = make_batch(held, fr, en);
  fmt::print("{} phrases: {} for training, {} held out. French puts colours after the noun and\n", all.size(),
             train.size(), held.size());
  fmt::print("sizes before it, so some phrases swap word order and some do not:\n");
  for (size_t i = 0; i < 6; ++i) fmt::print("  {:<22} -> {}\n", join(train[i].fr), join(train[i].en));
  fmt::print("  ...  ({} French words, {} English words)\n\n", fr.words.size() - 1, en.words.size() - 3);

  Generator gen(opt.seed);
  nn::Seq2Seq model({.src_vocab = static_cast<int64_t>(fr.words.size()),
                     .tgt_vocab = static_cast<int64_t>(en.words.size()),
                     .embed_dim = 16,
                     .hidden_size = 24,
                     .attention = nn::AttentionType::bahdanau,
                     .padding_idx = kPad},
                    gen);
  fmt::print("model: bidirectional GRU encoder (24 per direction), GRU decoder, additive attention\n");
  fmt::print("  e_ti = v^T tanh(W_s s_(t-1) + W_h h_i), {} parameters\n\n", model.num_parameters());

  const int64_t steps = opt.steps_or(300, 100);
  nn::Adam adam(model.parameters(), {.lr = 1e-2});
  ProgressBar bar("train", steps, !opt.quiet);
  Part3 r;
  std::string log;  // printed after the bar, so the two do not interleave
  for (int64_t step = 1; step <= steps; ++step) {
    adam.zero_grad();
    Var loss = model.loss(train_batch.src, train_batch.src_lengths, train_batch.y_in, train_batch.y_out, kPad);
    loss.backward();
    nn::clip_grad_norm(model.parameters(), 1.0);
    adam.step();
    r.final_loss = loss.item();
    bar.update(step, r.final_loss);
    if (step % 50 == 0 || step == steps) {
      std::vector<Translation> tr = translate(model, train_batch, en);
      int right = 0;
      for (size_t b = 0; b < train.size(); ++b) right += tr[b].words == train[b].en;
      log += fmt::format("step {:>4}: loss {:.4f}, {} of {} training phrases translated right\n", step, r.final_loss,
                         right, train.size());
    }
  }
  bar.finish();
  fmt::print("{}", log);

  std::vector<Translation> tr = translate(model, train_batch, en);
  int right = 0, swapped = 0, crossed = 0;
  for (size_t b = 0; b < train.size(); ++b) {
    right += tr[b].words == train[b].en;
    const Phrase& p = train[b];
    // A colour phrase: "det noun adj" -> "the adj noun": the crossed alignment is adj<-adj, noun<-noun.
    if (p.fr.size() == 3 && tr[b].alpha.size() >= 3 && p.fr[1] != "petit" && p.fr[1] != "petite" &&
        p.fr[1] != "grand" && p.fr[1] != "grande") {
      ++swapped;
      crossed += argmax_of(tr[b].alpha[1]) == 2 && argmax_of(tr[b].alpha[2]) == 1;
    }
  }
  r.train_acc = static_cast<double>(right) / static_cast<double>(train.size());
  r.crossed_fraction = swapped ? static_cast<double>(crossed) / swapped : 0.0;

  std::vector<Translation> ho = translate(model, held_batch, en);
  int held_right = 0;
  fmt::print("\nHeld-out phrases (never seen in training):\n");
  for (size_t b = 0; b < held.size(); ++b) {
    held_right += ho[b].words == held[b].en;
    fmt::print("  {:<22} -> {:<20} {}\n", join(held[b].fr), join(ho[b].words),
               ho[b].words == held[b].en ? "right" : "wrong (want " + join(held[b].en) + ")");
  }
  r.held_out_acc = static_cast<double>(held_right) / static_cast<double>(held.size());

  fmt::print("\nAlignments (rows: English output, columns: French source):\n");
  auto show = [&](const std::vector<std::string>& src, const std::string& file) -> Translation {
    Batch one = make_batch({Phrase{src, {}}}, fr, en);
    Translation t = translate(model, one, en)[0];
    std::vector<std::string> rows = t.words;
    if (rows.size() < t.alpha.size()) rows.push_back("<eos>");
    fmt::print("\n  {} -> {}\n  {:<8}", join(src), join(t.words), "");
    for (const auto& w : src) fmt::print("{:>8}", w);
    fmt::print("\n");
    for (size_t k = 0; k < t.alpha.size(); ++k) {
      fmt::print("  {:<8}", rows[k]);
      for (double a : t.alpha[k]) fmt::print("{:>8.3f}", a);
      fmt::print("\n");
    }
    heatmap(t.alpha, rows, src,
            {.title = "alpha_t for \"" + join(src) + "\"",
             .x_label = "source (French)",
             .y_label = "output (English)",
             .cell = 52})
        .save(opt.out_dir + "/" + file);
    return t;
  };
  Translation le_chat_noir = show({"le", "chat", "noir"}, "heatmap_le_chat_noir.svg");
  show({"la", "voiture", "rouge"}, "heatmap_la_voiture_rouge.svg");
  show({"le", "petit", "chat"}, "heatmap_le_petit_chat.svg");

  // The crossed alignment: output 2 ("black") peaks at source 3 ("noir"), output 3 ("cat") at source 2 ("chat").
  const bool right_words = le_chat_noir.words == std::vector<std::string>{"the", "black", "cat"};
  r.black_attends_noir = right_words && argmax_of(le_chat_noir.alpha[1]) == 2;
  r.cat_attends_chat = right_words && argmax_of(le_chat_noir.alpha[2]) == 1;
  // A model trained for a few steps (a small --steps) may stop before its third word.
  auto peak = [&](size_t k) -> std::string {
    return k < le_chat_noir.alpha.size() ? kSource[static_cast<size_t>(argmax_of(le_chat_noir.alpha[k]))]
                                         : "(no such output)";
  };
  fmt::print("\n\"black\" attends most to \"{}\", \"cat\" to \"{}\": {} alignment\n", peak(1), peak(2),
             r.black_attends_noir && r.cat_attends_chat ? "a crossed" : "NOT the crossed");
  fmt::print("crossed on {} of {} colour phrases in training; \"le petit chat\" stays on the diagonal.\n", crossed,
             swapped);
  fmt::print("heatmaps: {}/heatmap_le_chat_noir.svg (and _la_voiture_rouge, _le_petit_chat)\n", opt.out_dir);

  // One decoder step of the trained model, t = 2 of "le chat noir" (the step that says
  // "black"), with the encoder and the GRU cells folded so the attention stays readable.
  Batch one = make_batch({Phrase{{"le", "chat", "noir"}, {}}}, fr, en);
  nn::EncoderOutput enc = model.encode(one.src, one.src_lengths);
  nn::DecoderState state = model.decoder().start(enc);
  {
    NameScope t1("t1");
    model.decoder().step(state, Tensor::from_vector(std::vector<int64_t>{kBos}, {1}));
  }
  NameScope t2("t2");
  nn::DecoderStepOutput black =
      model.decoder().step(state, Tensor::from_vector(std::vector<int64_t>{en.id("the")}, {1}));
  Var logits = black.logits;
  logits.set_name("o_2");
  std::vector<std::string> fold;
  for (const std::string& scope : graph_scopes({logits}))
    if (scope == "encoder" || scope.ends_with(".cell") || scope == "decoder.init") fold.push_back(scope);
  std::string dot_text = to_dot({logits}, {.show_values = true,
                                           .collapse = fold,
                                           .title = "the trained model at t = 2 of \"le chat noir\" (says \"black\"); "
                                                    "encoder and GRU cells folded"});
  render(dot_text, opt.out_dir + "/model_graph.dot");
  render(dot_text, opt.out_dir + "/model_graph.svg");
  fmt::print("graph of the model: {}/model_graph.svg\n\n", opt.out_dir);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt =
      parse_lesson_flags(argc, argv, "06_worked_example_le_chat_noir", "the worked example, le chat noir");
  // Every tensor here is tiny (52 phrases of 3 words): starting threads for each op costs more
  // than the op, several times over on a busy machine. --threads N still overrides this.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    WorkedExample w = build_worked_example();
    nn::LuongAttention dot({.score = nn::LuongScore::dot, .query_dim = 4, .key_dim = 4, .dtype = DType::f64});
    Part1 p1 = part1_worked_example(opt, w, dot);
    bool variants_ok = part2_query_variants(w, dot);
    Part3 p3 = part3_train(opt);

    report.metric("alpha", p1.alpha);
    report.metric("black_attends_noir", p3.black_attends_noir);
    report.metric("cat_attends_chat", p3.cat_attends_chat);

    fmt::print("== Targets\n");
    report.at_most("score_err", p1.max_score_err, 0.0);
    report.at_most("softmax_vs_by_hand", p1.max_softmax_err, 1e-15);
    report.check("softmax_computed", p1.t1_rounds_to_76_13_11,
                 "softmax([2.1, 0.3, 0.2]) rounds to [0.76, 0.13, 0.11], not the notes' [0.70, 0.16, 0.14]");
    report.at_least("rounded_weights_differing_from_notes", p1.differing, 1);
    report.check("toy_says_the_black_cat", p1.predicts_the_black_cat, "the toy decoder says \"the black cat\"");
    report.check("query_variants", variants_ok, "scoring with s_(t-1) instead of s_t shifts the words by one step");
    report.at_least("train_seq_acc", p3.train_acc, opt.quick ? 0.9 : 1.0);
    report.check("black_attends_noir", p3.black_attends_noir, "alpha for \"black\" peaks at \"noir\"");
    report.check("cat_attends_chat", p3.cat_attends_chat, "alpha for \"cat\" peaks at \"chat\"");
    report.at_least("crossed_fraction", p3.crossed_fraction, opt.quick ? 0.6 : 0.8);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "06_worked_example_le_chat_noir: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
