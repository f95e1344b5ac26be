// Lesson 15: an encoder-only transformer (BERT). The notes' "encoder-only models: stack many
// self-attention layers on top of each other", with no mask: every token sees every other
// token, left and right. Such a model cannot be trained to predict the next token (it would see
// it), so BERT hides some tokens and asks for them back, the masked-token task, and puts a [CLS]
// token in front whose final state H_0 summarises the whole input for a classifier.
//
// The language is a small made-up one, generated here: two sentences per example,
//
//   [CLS] the black cat chases a brown dog . [SEP] two loud drums drown the old piano . [SEP]
//
// with agreement (a singular subject takes "chases", a plural one "chase"; "a" goes with one
// thing, "two" with several), an adjective that belongs to its noun, and one topic per
// sentence (animals, vehicles, kitchen, music). The [CLS] label asks BERT's next-sentence
// question in miniature: is sentence B about the same topic as sentence A?
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "nn/transformer_models.h"
#include "tensor/parallel.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

constexpr int64_t kIgnore = -100;

// ---- the language ------------------------------------------------------------------------------

// One topic: four nouns (singular, plural), the adjective each noun always takes, and three verbs
// (singular, plural).
struct Topic {
  const char* name;
  std::array<std::array<const char*, 2>, 4> nouns;
  std::array<const char*, 4> adjectives;
  std::array<std::array<const char*, 2>, 3> verbs;
};

const std::array<Topic, 4> kTopics = {{
    {"animals", {{{"cat", "cats"}, {"dog", "dogs"}, {"bird", "birds"}, {"fox", "foxes"}}},
     {"black", "brown", "blue", "red"}, {{{"chases", "chase"}, {"bites", "bite"}, {"hears", "hear"}}}},
    {"vehicles", {{{"car", "cars"}, {"truck", "trucks"}, {"bus", "buses"}, {"train", "trains"}}},
     {"fast", "heavy", "yellow", "long"}, {{{"passes", "pass"}, {"tows", "tow"}, {"hits", "hit"}}}},
    {"kitchen", {{{"cook", "cooks"}, {"chef", "chefs"}, {"baker", "bakers"}, {"waiter", "waiters"}}},
     {"busy", "famous", "tired", "polite"}, {{{"feeds", "feed"}, {"helps", "help"}, {"pays", "pay"}}}},
    {"music", {{{"drum", "drums"}, {"horn", "horns"}, {"piano", "pianos"}, {"violin", "violins"}}},
     {"loud", "bright", "old", "sweet"}, {{{"drowns", "drown"}, {"follows", "follow"}, {"tunes", "tune"}}}},
}};

// Token ids: the specials, the determiners and ".", then every topic's words.
enum Special : int64_t { kPad = 0, kCls = 1, kSep = 2, kMask = 3, kThe = 4, kA = 5, kTwo = 6, kDot = 7 };
constexpr int64_t kFirstWord = 8;

struct Vocabulary {
  std::vector<std::string> words = {"[PAD]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "two", "."};
  // ids per topic: noun[k][number], adjective[k], verb[k][number]
  struct TopicIds {
    std::array<std::array<int64_t, 2>, 4> noun;
    std::array<int64_t, 4> adjective;
    std::array<std::array<int64_t, 2>, 3> verb;
  };
  std::vector<TopicIds> topics;

  Vocabulary() {
    auto add = [&](const char* w) {
      words.emplace_back(w);
      return static_cast<int64_t>(words.size() - 1);
    };
    for (const Topic& t : kTopics) {
      TopicIds ids{};
      for (size_t k = 0; k < 4; ++k) ids.noun[k] = {add(t.nouns[k][0]), add(t.nouns[k][1])};
      for (size_t k = 0; k < 4; ++k) ids.adjective[k] = add(t.adjectives[k]);
      for (size_t k = 0; k < 3; ++k) ids.verb[k] = {add(t.verbs[k][0]), add(t.verbs[k][1])};
      topics.push_back(ids);
    }
  }
  int64_t size() const { return static_cast<int64_t>(words.size()); }
};

const Vocabulary& vocab() {
  static const Vocabulary v;
  return v;
}

// "DET ADJ NOUN VERB DET ADJ NOUN ." in one topic. The subject's number picks the verb's form;
// "the" goes with either number, "a" only with one, "two" only with several.
std::vector<int64_t> sentence(size_t topic, Generator& gen) {
  const Vocabulary::TopicIds& t = vocab().topics[topic];
  std::vector<int64_t> s;
  auto noun_phrase = [&](size_t number) {
    s.push_back(gen.below(2) ? kThe : (number == 0 ? kA : kTwo));
    const size_t k = gen.below(4);
    s.push_back(t.adjective[k]);
    s.push_back(t.noun[k][number]);
  };
  const size_t subject_number = gen.below(2);
  noun_phrase(subject_number);
  s.push_back(t.verb[gen.below(3)][subject_number]);
  noun_phrase(gen.below(2));
  s.push_back(kDot);
  return s;
}

constexpr int64_t kSentence = 8;
constexpr int64_t kSeqLen = 2 * kSentence + 3;  // [CLS] A [SEP] B [SEP]

struct Example {
  std::vector<int64_t> ids;  // kSeqLen tokens
  int64_t label;             // 1: B has A's topic, 0: another topic
};

Example make_example(Generator& gen) {
  const size_t topic_a = gen.below(4);
  const int64_t same = static_cast<int64_t>(gen.below(2));
  const size_t topic_b = same ? topic_a : (topic_a + 1 + gen.below(3)) % 4;
  Example e{{kCls}, same};
  std::vector<int64_t> a = sentence(topic_a, gen), b = sentence(topic_b, gen);
  e.ids.insert(e.ids.end(), a.begin(), a.end());
  e.ids.push_back(kSep);
  e.ids.insert(e.ids.end(), b.begin(), b.end());
  e.ids.push_back(kSep);
  return e;
}

std::string words_of(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : " ") + vocab().words[static_cast<size_t>(id)];
  return s;
}

struct Batch {
  Tensor ids;       // i64 [B, T]
  Tensor labels;    // i64 [B]
  Tensor maskable;  // bool [B, T]: the words (never [CLS] or [SEP])
};

Batch batch_of(const std::vector<Example>& ex) {
  const int64_t B = static_cast<int64_t>(ex.size());
  std::vector<int64_t> ids, labels;
  for (const Example& e : ex) {
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    labels.push_back(e.label);
  }
  Tensor maskable = Tensor::empty({B, kSeqLen}, DType::boolean);
  for (int64_t i = 0; i < B * kSeqLen; ++i) {
    const int64_t id = ids[static_cast<size_t>(i)];
    maskable.data<bool>()[i] = id != kCls && id != kSep;
  }
  return {Tensor::from_vector(ids, {B, kSeqLen}), Tensor::from_vector(labels, {B}), maskable};
}

Batch random_batch(Generator& gen, int64_t n) {
  std::vector<Example> ex;
  for (int64_t i = 0; i < n; ++i) ex.push_back(make_example(gen));
  return batch_of(ex);
}

// BERT's masking: 15% of the words are chosen; of those, 80% become [MASK], 10% a random word,
// 10% stay. The model must predict the original at every chosen position.
nn::MaskedTokens mask(const Batch& b, Generator& gen) {
  return nn::mask_tokens(b.ids,
                         {.mask_id = kMask, .vocab_size = vocab().size(), .first_random = kThe, .prob = 0.15,
                          .ignore_index = kIgnore},
                         gen, b.maskable);
}

// ---- evaluation --------------------------------------------------------------------------------

struct Scores {
  double mlm_acc = 0, cls_acc = 0, baseline = 0;
  int64_t masked = 0;
};

// The unigram baseline: always guess the word that is most often a masked target in training.
int64_t most_frequent_target(Generator& gen, int64_t batches) {
  std::vector<int64_t> count(static_cast<size_t>(vocab().size()), 0);
  for (int64_t i = 0; i < batches; ++i) {
    nn::MaskedTokens m = mask(random_batch(gen, 64), gen);
    const Tensor t = m.targets.contiguous();
    for (int64_t k = 0; k < t.numel(); ++k)
      if (t.data<int64_t>()[k] != kIgnore) ++count[static_cast<size_t>(t.data<int64_t>()[k])];
  }
  return std::max_element(count.begin(), count.end()) - count.begin();
}

Scores evaluate(const nn::EncoderOnly& model, const Batch& held_out, const nn::MaskedTokens& m, int64_t guess) {
  NoGradGuard no_grad;
  Scores s;
  // Masked-token accuracy: argmax over the vocabulary at every chosen position.
  const Tensor pred = argmax(model.forward_mlm(m.inputs).value(), 2).contiguous();  // [B, T]
  const Tensor tg = m.targets.contiguous();
  int64_t right = 0, base = 0;
  for (int64_t k = 0; k < tg.numel(); ++k) {
    const int64_t t = tg.data<int64_t>()[k];
    if (t == kIgnore) continue;
    ++s.masked;
    right += pred.data<int64_t>()[k] == t;
    base += t == guess;
  }
  s.mlm_acc = static_cast<double>(right) / static_cast<double>(s.masked);
  s.baseline = static_cast<double>(base) / static_cast<double>(s.masked);
  // [CLS] accuracy on the unmasked sentences.
  const Tensor cls = argmax(model.forward_cls(held_out.ids).value(), 1).contiguous();
  int64_t cls_right = 0;
  for (int64_t b = 0; b < cls.numel(); ++b)
    cls_right += cls.data<int64_t>()[b] == held_out.labels.contiguous().data<int64_t>()[b];
  s.cls_acc = static_cast<double>(cls_right) / static_cast<double>(cls.numel());
  return s;
}

// Accuracy per kind of word: what the context can and cannot tell.
void accuracy_by_slot(const nn::EncoderOnly& model, const nn::MaskedTokens& m) {
  NoGradGuard no_grad;
  const Tensor pred = argmax(model.forward_mlm(m.inputs).value(), 2).contiguous();
  const Tensor tg = m.targets.contiguous();
  const std::array<const char*, kSentence> slot = {"determiner", "adjective", "noun",       "verb",
                                                   "determiner", "adjective", "noun",       "."};
  std::vector<std::string> kinds = {"determiner", "adjective", "noun", "verb", "."};
  std::vector<int64_t> right(kinds.size(), 0), total(kinds.size(), 0);
  for (int64_t k = 0; k < tg.numel(); ++k) {
    const int64_t t = tg.data<int64_t>()[k];
    if (t == kIgnore) continue;
    const int64_t pos = k % kSeqLen;
    const int64_t in_sentence = pos <= kSentence ? pos - 1 : pos - kSentence - 2;
    const size_t kind = std::find(kinds.begin(), kinds.end(), slot[static_cast<size_t>(in_sentence)]) - kinds.begin();
    ++total[kind];
    right[kind] += pred.data<int64_t>()[k] == t;
  }
  fmt::print("masked-token accuracy by kind of word (what the context can tell):\n");
  const std::array<const char*, 5> why = {
      "'the' fits either number, so half the time two answers are right: ~0.5 at best",
      "each noun has its own adjective: near 1 when the noun is visible",
      "the adjective names the noun, the determiner or the verb its number",
      "three verbs per topic fit; the subject's number picks the form: ~1/3 at best",
      "always '.'",
  };
  for (size_t i = 0; i < kinds.size(); ++i)
    fmt::print("  {:<11} {:.3f}  ({} masked)  {}\n", kinds[i],
               total[i] ? static_cast<double>(right[i]) / static_cast<double>(total[i]) : 0.0, total[i], why[i]);
  fmt::print("\n");
}

// ---- figures -----------------------------------------------------------------------------------

void attention_maps(const nn::EncoderOnly& model, const std::vector<int64_t>& ids, const std::string& dir) {
  NoGradGuard no_grad;
  nn::StackOutput s = model.encode(Tensor::from_vector(ids, {1, kSeqLen}), Tensor(), true);
  std::vector<std::string> labels;
  for (int64_t id : ids) labels.push_back(vocab().words[static_cast<size_t>(id)]);
  for (size_t l = 0; l < s.self_alphas.size(); ++l) {
    const Tensor a = s.self_alphas[l].value().select(0, 0);  // [H, T, T]
    for (int64_t h = 0; h < a.size(0); ++h)
      heatmap(rows_of(a.select(0, h)), labels, labels,
              {.title = fmt::format("alpha_ij, block {}, head {} (no mask: every row sees every token)", l, h),
               .x_label = "key j (looked at)",
               .y_label = "query i (looking)",
               .show_values = false,
               .cell = 30})
          .save(fmt::format("{}/attention_block{}_head{}.svg", dir, l, h));
  }
  // What [CLS] reads in the last block, averaged over the heads.
  const Tensor last = s.self_alphas.back().value().select(0, 0).select(1, 0);  // [H, T]
  const std::vector<double> w = mean(last, {0}).to_vector();
  fmt::print("alpha_0j: where [CLS] looks in the last block (mean over heads):\n  ");
  for (size_t j = 0; j < ids.size(); ++j) fmt::print("{}:{:.2f} ", labels[j], w[j]);
  fmt::print("\n");
}

void draw_graphs(const nn::EncoderOnly& model, const std::string& dir) {
  Generator gen(7);
  Batch b = random_batch(gen, 1);
  nn::MaskedTokens m = mask(b, gen);
  nn::StackOutput s = model.encode(m.inputs);
  Var loss = (nn::cross_entropy(model.mlm_logits(s.out), m.targets, {.ignore_index = kIgnore}) +
              nn::cross_entropy(model.cls_logits(s.out), b.labels))
                 .set_name("loss");
  std::vector<std::string> blocks;
  for (const std::string& sc : graph_scopes({loss})) {
    const size_t at = sc.find("blocks.");
    if (at != std::string::npos && sc.find('.', at + 7) == std::string::npos) blocks.push_back(sc);
  }
  const std::string full = to_dot({loss}, {.rankdir = "TB", .title = "BERT in miniature: every op, one cluster per block"});
  render(full, dir + "/graph.dot");
  render(full, dir + "/graph.svg");
  const std::string folded = to_dot(
      {loss}, {.collapse = blocks, .rankdir = "TB", .title = "BERT in miniature: each block folded into one box"});
  render(folded, dir + "/graph_collapsed.dot");
  render(folded, dir + "/graph_collapsed.svg");
  fmt::print("graphs: {0}/graph.svg (blocks as clusters), {0}/graph_collapsed.svg (", dir);
  for (size_t i = 0; i < blocks.size(); ++i) fmt::print("{}{}", i ? ", " : "", blocks[i]);
  fmt::print(" folded)\n\n");
}

// The model's top guesses at each [MASK] of one example.
void show_guesses(const nn::EncoderOnly& model, const std::vector<int64_t>& ids, const std::vector<int64_t>& hide) {
  NoGradGuard no_grad;
  std::vector<int64_t> in = ids;
  for (int64_t p : hide) in[static_cast<size_t>(p)] = kMask;
  fmt::print("  {}\n", words_of(in));
  const Tensor probs = softmax(model.forward_mlm(Tensor::from_vector(in, {1, kSeqLen})).value(), -1).select(0, 0);
  for (int64_t p : hide) {
    TopK best = topk(probs.select(0, p), 3, 0);
    const std::vector<double> pv = best.values.to_vector(), iv = best.indices.to_vector();
    fmt::print("    position {:>2} (was '{}'):", p, vocab().words[static_cast<size_t>(ids[static_cast<size_t>(p)])]);
    for (size_t k = 0; k < 3; ++k) fmt::print("  {} {:.2f}", vocab().words[static_cast<size_t>(iv[k])], pv[k]);
    fmt::print("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "15_encoder_only_bert",
                                         "encoder-only transformer: masked tokens and a [CLS] classifier");
  // A small model: a thread team per op costs more than it saves. --threads N overrides.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    Generator init_gen(opt.seed * 1000 + 151), data_gen(opt.seed * 1000 + 152), eval_gen(opt.seed * 1000 + 153);
    const int64_t steps = opt.steps_or(600, 250);
    constexpr int64_t kBatch = 64;

    fmt::print("== 1. The language\n\n");
    fmt::print("{} words in 4 topics; a sentence is DET ADJ NOUN VERB DET ADJ NOUN '.'; an example is two\n"
               "sentences, [CLS] A [SEP] B [SEP], {} tokens. Label 1 when B has A's topic (half the examples).\n",
               vocab().size(), kSeqLen);
    Generator show_gen(opt.seed * 1000 + 154);
    for (int i = 0; i < 3; ++i) {
      Example e = make_example(show_gen);
      fmt::print("  {}   label {}\n", words_of(e.ids), e.label);
    }
    Generator mask_show(opt.seed * 1000 + 156);
    Batch shown = random_batch(show_gen, 1);
    nn::MaskedTokens ms = mask(shown, mask_show);
    fmt::print("masked for training (15% of the words; 80% [MASK], 10% a random word, 10% kept):\n  {}\n\n",
               words_of(std::vector<int64_t>(ms.inputs.data<int64_t>(), ms.inputs.data<int64_t>() + kSeqLen)));

    fmt::print("== 2. The model\n\n");
    nn::EncoderOnly model({.vocab_size = vocab().size(), .max_len = kSeqLen, .d_model = 64, .heads = 4, .ffn = 256,
                           .num_layers = 2, .num_classes = 2, .dropout = 0.0, .activation = nn::Activation::relu},
                          init_gen);
    fmt::print("X = LayerNorm(tok(ids) + pos): [B, {}, 64]; 2 post-norm blocks of unmasked self-attention\n"
               "(4 heads: Q = X W_Q, K = X W_K, V = X W_V, alpha = softmax(Q K^T / sqrt(16)), Z = alpha V) and FFN;\n"
               "H = the last block's output. Two heads read H:\n"
               "  masked tokens: logits_i = W_out LayerNorm(gelu(W_d h_i)), one per position, over {} words\n"
               "  [CLS]:         logits = W_c tanh(W_p h_0), h_0 the state of the [CLS] token\n"
               "{} parameters\n\n",
               kSeqLen, vocab().size(), model.num_parameters());

    fmt::print("== 3. Training: L = L_masked + L_cls ({} steps of {} examples)\n\n", steps, kBatch);
    nn::AdamW opt_w(model.parameters(), {.lr = 2e-3, .weight_decay = 0.01});
    nn::WarmupCosineLR sched({.base_lr = 2e-3, .warmup_steps = std::clamp<int64_t>(steps - 1, 0, 60), .total_steps = steps, .min_lr = 2e-4});
    ProgressBar bar("BERT", steps, !opt.quiet);
    std::vector<double> xs, mlm_curve, cls_curve;
    double run_mlm = 0, run_cls = 0;
    for (int64_t step = 1; step <= steps; ++step) {
      Batch b = random_batch(data_gen, kBatch);
      nn::MaskedTokens m = mask(b, data_gen);
      sched.apply(opt_w);
      opt_w.zero_grad();
      nn::StackOutput s = model.encode(m.inputs);  // H [B, T, D]
      Var l_mlm = nn::cross_entropy(model.mlm_logits(s.out), m.targets, {.ignore_index = kIgnore});
      Var l_cls = nn::cross_entropy(model.cls_logits(s.out), b.labels);
      Var loss = l_mlm + l_cls;
      loss.backward();
      nn::clip_grad_norm(model.parameters(), 1.0);
      opt_w.step();
      const double a = l_mlm.value().item(), c = l_cls.value().item();
      run_mlm = step == 1 ? a : 0.95 * run_mlm + 0.05 * a;
      run_cls = step == 1 ? c : 0.95 * run_cls + 0.05 * c;
      bar.update(step, run_mlm + run_cls);
      if (step % 10 == 0 || step == steps) {
        xs.push_back(static_cast<double>(step));
        mlm_curve.push_back(run_mlm);
        cls_curve.push_back(run_cls);
      }
    }
    bar.finish();
    fmt::print("final running losses: masked tokens {:.3f}, [CLS] {:.3f}\n", run_mlm, run_cls);
    line_chart({{"masked-token loss", xs, mlm_curve}, {"[CLS] loss", xs, cls_curve}},
               {.title = "training losses (running average)", .x_label = "step", .y_label = "cross-entropy (nats)",
                .points = false})
        .save(opt.out_dir + "/loss_curves.svg");
    fmt::print("figure: {}/loss_curves.svg\n\n", opt.out_dir);

    fmt::print("== 4. Held-out examples\n\n");
    const int64_t guess = most_frequent_target(eval_gen, 50);
    const int64_t held = opt.quick ? 1000 : 4000;
    Batch test = random_batch(eval_gen, held);
    nn::MaskedTokens test_masked = mask(test, eval_gen);
    Scores sc = evaluate(model, test, test_masked, guess);
    fmt::print("{} fresh examples, {} masked positions.\n", held, sc.masked);
    fmt::print("unigram baseline: always guess '{}', the most frequent masked word in training: {:.3f}\n",
               vocab().words[static_cast<size_t>(guess)], sc.baseline);
    fmt::print("masked-token accuracy: {:.3f} ({:+.3f} over the baseline)\n", sc.mlm_acc, sc.mlm_acc - sc.baseline);
    fmt::print("[CLS] accuracy (same topic?), on the unmasked examples: {:.3f}\n\n", sc.cls_acc);
    accuracy_by_slot(model, test_masked);

    fmt::print("The model's guesses at hidden words (top 3 with probabilities):\n");
    Generator ex_gen(opt.seed * 1000 + 155);
    Example ex = make_example(ex_gen);
    show_guesses(model, ex.ids, {1, 3, 4, 12});
    fmt::print("  (position 3, the noun: its adjective gives it away; position 4, the verb: the topic and\n"
               "  the subject's number leave three choices)\n\n");

    fmt::print("== 5. Attention\n\n");
    attention_maps(model, ex.ids, opt.out_dir);
    fmt::print("heatmaps: {}/attention_block{{0,1}}_head{{0..3}}.svg, tokens on both axes\n\n", opt.out_dir);
    draw_graphs(model, opt.out_dir);

    report.metric("mlm_acc", sc.mlm_acc);
    report.metric("mlm_unigram_baseline", sc.baseline);
    report.metric("cls_acc", sc.cls_acc);
    fmt::print("== Targets\n");
    report.at_least("mlm_acc_over_baseline", sc.mlm_acc - sc.baseline, opt.quick ? 0.1 : 0.2);
    report.at_least("cls_acc", sc.cls_acc, opt.quick ? 0.7 : 0.95);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "15_encoder_only_bert: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
