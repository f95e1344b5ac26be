// The gradient exercises and their checker (`lumen exercise`): every reference solution passes,
// every untouched exercise reports "not implemented yet", and every wrong answer in
// tests/tools/exercises/ fails with the hint that names its mistake.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lessons/00_engine_tour/exercise_mul.h"
#include "lessons/00_engine_tour/exercise_tanh.h"
#include "lessons/01_seq2seq_bottleneck/exercise_gru_cell.h"
#include "lessons/01_seq2seq_bottleneck/exercise_rnn_cell.h"
#include "lessons/04_bahdanau_attention/exercise_additive_score.h"
#include "lessons/08_attention_layer_qkv/exercise_causal_attention.h"
#include "lessons/08_attention_layer_qkv/exercise_softmax.h"
#include "lessons/14_transformer_block/exercise_layer_norm.h"
#include "lessons/common/exercise_check.h"
#include "lessons/solutions/additive_score.h"
#include "lessons/solutions/causal_attention.h"
#include "lessons/solutions/gru_cell.h"
#include "lessons/solutions/layer_norm.h"
#include "lessons/solutions/mul.h"
#include "lessons/solutions/rnn_cell.h"
#include "lessons/solutions/softmax.h"
#include "lessons/solutions/tanh.h"
#include "tests/tools/exercises/wrong_additive_score.h"
#include "tests/tools/exercises/wrong_causal_attention.h"
#include "tests/tools/exercises/wrong_gru_cell.h"
#include "tests/tools/exercises/wrong_layer_norm.h"
#include "tests/tools/exercises/wrong_mul.h"
#include "tests/tools/exercises/wrong_rnn_cell.h"
#include "tests/tools/exercises/wrong_softmax.h"
#include "tests/tools/exercises/wrong_tanh.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

struct Versions {
  std::string name;
  ExerciseOp learner, solution;
};

template <class Learner, class Solution>
Versions versions() {
  return {Learner::name, bind_exercise_op<Learner>(), bind_exercise_op<Solution>()};
}

const std::vector<Versions>& all_versions() {
  static const std::vector<Versions> v = {
      versions<exercises::Tanh, solutions::Tanh>(),
      versions<exercises::Mul, solutions::Mul>(),
      versions<exercises::RnnCell, solutions::RnnCell>(),
      versions<exercises::GruCell, solutions::GruCell>(),
      versions<exercises::AdditiveScore, solutions::AdditiveScore>(),
      versions<exercises::Softmax, solutions::Softmax>(),
      versions<exercises::CausalAttention, solutions::CausalAttention>(),
      versions<exercises::LayerNorm, solutions::LayerNorm>(),
  };
  return v;
}

const ExerciseInfo& info(const std::string& name) {
  const ExerciseInfo* e = find_exercise(name);
  REQUIRE(e != nullptr);
  return *e;
}

// A wrong answer and the hints it must get: exactly these (kind, input) pairs; an empty input
// is a hint about backward as a whole. `value_failure`: some input fails on its values (not
// only on its shape), so the report must name a worst element.
struct WrongAnswer {
  std::string label;
  ExerciseOp op;
  std::set<std::pair<HintKind, std::string>> hints;
  bool value_failure;
};

template <class Op>
WrongAnswer wrong(std::string label, std::set<std::pair<HintKind, std::string>> hints, bool value_failure) {
  return {std::move(label), bind_exercise_op<Op>(), std::move(hints), value_failure};
}

using K = HintKind;

std::vector<WrongAnswer> wrong_answers() {
  return {
      wrong<wrong::TanhSign>("tanh: 1 - y^2 written y^2 - 1", {{K::sign, "x"}}, true),
      wrong<wrong::TanhTwice>("tanh: a stray factor 2", {{K::factor_two, "x"}}, true),
      wrong<wrong::TanhWithInput>("tanh: 1 - x^2", {{K::other, "x"}}, true),
      wrong<wrong::TanhNoChainRule>("tanh: dL/dy not multiplied in", {}, true),

      wrong<wrong::MulNotSummed>("mul: not summed", {{K::broadcast_not_summed, "a"}, {K::broadcast_not_summed, "b"}},
                                 false),
      wrong<wrong::MulAveraged>("mul: averaged", {{K::broadcast_not_summed, "a"}, {K::broadcast_not_summed, "b"}},
                                true),
      wrong<wrong::MulSign>("mul: sign", {{K::sign, "a"}, {K::sign, "b"}}, true),
      wrong<wrong::MulSwapped>("mul: operands swapped", {{K::other, "a"}, {K::other, "b"}}, true),

      wrong<wrong::RnnTransposedWeight>("rnn_cell: dW_xh transposed", {{K::transposed, "W_xh"}}, true),
      wrong<wrong::RnnBiasNotSummed>("rnn_cell: db not summed", {{K::broadcast_not_summed, "b"}}, false),
      wrong<wrong::RnnSign>("rnn_cell: sign",
                            {{K::sign, "x"}, {K::sign, "h"}, {K::sign, "W_xh"}, {K::sign, "W_hh"}, {K::sign, "b"}},
                            true),
      wrong<wrong::RnnNoTanhDerivative>("rnn_cell: no tanh'",
                                        {{K::missing_term, "x"},
                                         {K::missing_term, "h"},
                                         {K::missing_term, "W_xh"},
                                         {K::missing_term, "W_hh"},
                                         {K::missing_term, "b"}},
                                        true),
      wrong<wrong::RnnMatmulWithoutTranspose>("rnn_cell: dz W_xh", {{K::transposed, ""}}, true),

      wrong<wrong::GruNoDirectPath>("gru_cell: no direct path", {{K::missing_term, "h"}}, true),
      wrong<wrong::GruBiasNotSummed>("gru_cell: db not summed", {{K::broadcast_not_summed, "b"}}, false),
      wrong<wrong::GruTransposedWeight>("gru_cell: dW_h transposed", {{K::transposed, "W_h"}}, false),
      wrong<wrong::GruUpdateGateSign>("gru_cell: update gate sign", {}, true),

      wrong<wrong::AdditiveNotSummedOverT>("additive_score: s not summed over T", {{K::broadcast_not_summed, "s"}},
                                           false),
      wrong<wrong::AdditiveVNotSummed>("additive_score: v not summed", {{K::broadcast_not_summed, "v"}}, false),
      wrong<wrong::AdditiveTransposedWeight>("additive_score: dW_h transposed", {{K::transposed, "W_h"}}, true),
      wrong<wrong::AdditiveSign>("additive_score: sign",
                                 {{K::sign, "s"}, {K::sign, "h"}, {K::sign, "W_s"}, {K::sign, "W_h"}}, true),

      wrong<wrong::SoftmaxDiagonal>("softmax: diagonal only", {{K::diagonal_only, "x"}}, true),
      wrong<wrong::SoftmaxSign>("softmax: sign", {{K::sign, "x"}}, true),
      wrong<wrong::SoftmaxNoKeepdim>("softmax: no keepdim", {{K::dropped_axis, ""}}, true),

      wrong<wrong::AttentionDiagonal>("causal_attention: diagonal only",
                                      {{K::diagonal_only, "Q"}, {K::diagonal_only, "K"}}, true),
      wrong<wrong::AttentionUntransposedP>("causal_attention: P dO", {{K::transposed, "V"}}, true),
      wrong<wrong::AttentionUntransposedScores>("causal_attention: dS Q", {{K::transposed, "K"}}, true),
      wrong<wrong::AttentionSign>("causal_attention: sign", {{K::sign, "Q"}, {K::sign, "K"}}, true),
      wrong<wrong::AttentionMissingScale>("causal_attention: no 1/sqrt(d)", {{K::scale, "Q"}, {K::scale, "K"}}, true),

      wrong<wrong::LayerNormConstantStats>("layer_norm: constant stats", {{K::missing_term, "x"}}, true),
      wrong<wrong::LayerNormGammaNotSummed>("layer_norm: dgamma not summed", {{K::broadcast_not_summed, "gamma"}},
                                            false),
      wrong<wrong::LayerNormBetaAveraged>("layer_norm: dbeta averaged", {{K::broadcast_not_summed, "beta"}}, true),
      wrong<wrong::LayerNormSign>("layer_norm: sign", {{K::sign, "x"}}, true),
  };
}

}  // namespace

TEST_CASE("the catalogue lists eight exercises next to their lessons", "[exercise]") {
  const std::vector<ExerciseInfo>& catalog = exercise_catalog();
  std::vector<std::string> names;
  for (const ExerciseInfo& e : catalog) {
    names.push_back(e.name);
    CHECK(std::filesystem::exists(std::string(LUMEN_SOURCE_DIR) + "/" + e.file));
    CHECK(e.file.rfind("lessons/" + e.lesson + "/exercise_", 0) == 0);
    CHECK(std::filesystem::exists(std::string(LUMEN_SOURCE_DIR) + "/lessons/solutions/" + e.name + ".h"));
    CHECK(e.inputs.size() == e.summed.size());
  }
  CHECK(names == std::vector<std::string>{"tanh", "mul", "rnn_cell", "gru_cell", "additive_score", "softmax",
                                          "causal_attention", "layer_norm"});
  CHECK(find_exercise("softmax") == &catalog[5]);
  CHECK(find_exercise("nope") == nullptr);
}

TEST_CASE("every reference solution passes", "[exercise][gradcheck]") {
  for (const Versions& v : all_versions()) {
    INFO(v.name);
    ExerciseResult r = check_exercise(info(v.name), v.solution);
    INFO(r.report);
    CHECK(r.status == ExerciseStatus::passed);
    CHECK(r.hints().empty());
    CHECK(r.cases.size() >= 3);
    CHECK(r.worst_rel_err < 1e-7);  // the CS231n "right" band in f64
    CHECK(r.report.find("PASS: " + v.name) != std::string::npos);
    for (const CaseCheck& c : r.cases)
      for (const InputCheck& ic : c.inputs) CHECK((ic.checked && ic.passed));
  }
}

TEST_CASE("every untouched exercise reports not implemented yet", "[exercise]") {
  // This checks the exercise files as shipped: once you solve one, this case tells you so.
  for (const Versions& v : all_versions()) {
    INFO(v.name);
    const ExerciseInfo& e = info(v.name);
    ExerciseResult r = check_exercise(e, v.learner, {.source_dir = "/src"});
    INFO(r.report);
    CHECK(r.status == ExerciseStatus::todo);
    CHECK(r.report.find("not implemented yet") != std::string::npos);
    CHECK(r.report.find("/src/" + e.file) != std::string::npos);
    CHECK(r.report.find("FAIL: " + v.name) != std::string::npos);
    CHECK(r.report.find("PASS") == std::string::npos);
  }
}

TEST_CASE("every wrong answer fails with the hint that names its mistake", "[exercise][gradcheck]") {
  std::set<std::string> covered;
  for (const WrongAnswer& w : wrong_answers()) {
    INFO(w.label);
    ExerciseResult r = check_exercise(info(w.op.name), w.op);
    INFO(r.report);
    CHECK(r.status == ExerciseStatus::failed);
    CHECK(r.report.find("FAIL: " + w.op.name) != std::string::npos);
    CHECK(r.report.find("PASS") == std::string::npos);

    std::set<std::pair<HintKind, std::string>> got;
    for (const Hint& h : r.hints()) got.insert({h.kind, h.input});
    CHECK(got == w.hints);
    for (const auto& [kind, input] : w.hints)
      CHECK(r.report.find(std::string("hint [") + hint_kind_name(kind) + "]") != std::string::npos);

    // Every input that failed on its values is reported with its worst element.
    bool named_worst = false;
    for (const CaseCheck& c : r.cases)
      for (const InputCheck& ic : c.inputs) {
        if (!ic.checked || ic.passed) continue;
        REQUIRE(!ic.worst_index.empty());
        CHECK(ic.worst_index.size() == ic.shape.size());
        CHECK(ic.max_rel_err > 1e-2);  // the "wrong" band
        CHECK(r.report.find(shape_str(Dims(ic.worst_index))) != std::string::npos);
        named_worst = true;
      }
    CHECK(named_worst == w.value_failure);
    if (!w.value_failure) CHECK(r.report.find("gradient has shape") != std::string::npos);
    covered.insert(w.op.name);
  }
  // At least three wrong answers for each exercise.
  for (const ExerciseInfo& e : exercise_catalog()) {
    int n = 0;
    for (const WrongAnswer& w : wrong_answers()) n += w.op.name == e.name;
    INFO(e.name);
    CHECK(n >= 3);
  }
  CHECK(covered.size() == exercise_catalog().size());
}

TEST_CASE("the hints confirm a fix when the fix would make the gradient right", "[exercise]") {
  // A transposed or unsummed gradient of the wrong shape: the hint says whether transposing or
  // summing it would give the right gradient.
  ExerciseResult rnn = check_exercise(info("rnn_cell"), bind_exercise_op<wrong::RnnTransposedWeight>());
  CHECK(rnn.report.find("Transposed, your gradient would be right") != std::string::npos);
  ExerciseResult ln = check_exercise(info("layer_norm"), bind_exercise_op<wrong::LayerNormGammaNotSummed>());
  CHECK(ln.report.find("Summed that way, your gradient would be right") != std::string::npos);
  ExerciseResult add = check_exercise(info("additive_score"), bind_exercise_op<wrong::AdditiveNotSummedOverT>());
  CHECK(add.report.find("Summed over dim 1, your gradient would be right") != std::string::npos);
  // A missing 1/sqrt(d) is named as such.
  ExerciseResult attn = check_exercise(info("causal_attention"), bind_exercise_op<wrong::AttentionMissingScale>());
  CHECK(attn.report.find("sqrt(2)") != std::string::npos);
  CHECK(attn.report.find("sqrt(3)") != std::string::npos);
  // A backward whose matmul does not fit is reported with the error.
  ExerciseResult mm = check_exercise(info("rnn_cell"), bind_exercise_op<wrong::RnnMatmulWithoutTranspose>());
  CHECK(mm.report.find("backward threw ShapeError: matmul") != std::string::npos);
}

namespace {

// A forward changed by the learner, and a backward returning too few gradients.
struct ChangedForward : wrong::TanhForward {
  static Tensor forward(Context& ctx, const Tensor& x) { return wrong::TanhForward::forward(ctx, x) * 1.5; }
  static std::vector<Tensor> backward(Context&, const Tensor& grad) { return {grad}; }
};
struct TooFewGradients : wrong::MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return {sum_to(grad * ctx.saved_tensors()[1], ctx.saved_tensors()[0].shape())};
  }
};
struct MissingGradient : wrong::MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return {sum_to(grad * ctx.saved_tensors()[1], ctx.saved_tensors()[0].shape()), Tensor()};
  }
};

}  // namespace

TEST_CASE("the checker reports a changed forward and a wrong number of gradients", "[exercise]") {
  ExerciseResult f = check_exercise(info("tanh"), bind_exercise_op<ChangedForward>());
  CHECK(f.status == ExerciseStatus::failed);
  CHECK(f.report.find("forward differs from the reference") != std::string::npos);

  ExerciseResult n = check_exercise(info("mul"), bind_exercise_op<TooFewGradients>());
  CHECK(n.status == ExerciseStatus::failed);
  CHECK(n.report.find("backward returned 1 gradients for 2 inputs") != std::string::npos);

  // One gradient left out: that input fails, the other is still checked and passes.
  ExerciseResult m = check_exercise(info("mul"), bind_exercise_op<MissingGradient>());
  CHECK(m.status == ExerciseStatus::failed);
  CHECK(m.report.find("no gradient returned") != std::string::npos);
  REQUIRE(!m.cases.empty());
  CHECK(m.cases[0].inputs[0].checked);
  CHECK(m.cases[0].inputs[0].passed);
  CHECK_FALSE(m.cases[0].inputs[1].checked);

  // An exercise whose forward takes a different number of inputs.
  ExerciseResult a = check_exercise(info("mul"), bind_exercise_op<solutions::Tanh>());
  CHECK(a.status == ExerciseStatus::failed);
  CHECK(a.report.find("forward takes 1 tensors, but the exercise passes 2") != std::string::npos);
}

// ---- `lumen exercise`, run as the built binary ---------------------------------------------------

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool tool_built() {
  if (std::filesystem::exists(std::string(LUMEN_BINARY_DIR) + "/tools/lumen")) return true;
  WARN("tools/lumen is not built (LUMEN_BUILD_LESSONS=OFF?); skipping");
  return false;
}

Run run_exercise(const std::string& args) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "lumen-test-exercise";
  std::filesystem::create_directories(dir);
  std::string cmd = std::string(LUMEN_BINARY_DIR) + "/tools/lumen exercise " + args + " >" +
                    (dir / "out.txt").string() + " 2>" + (dir / "err.txt").string();
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"), slurp(dir / "err.txt")};
}

}  // namespace

TEST_CASE("lumen exercise --list prints one line per exercise: name, lesson, status", "[exercise][tools]") {
  if (!tool_built()) return;
  Run r = run_exercise("--list --no-rebuild");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  std::istringstream lines(r.out);
  std::string line;
  size_t k = 0;
  while (std::getline(lines, line)) {
    REQUIRE(k < exercise_catalog().size());
    std::istringstream fields(line);
    std::string name, lesson, status, extra;
    fields >> name >> lesson >> status;
    CHECK(!(fields >> extra));
    CHECK(name == exercise_catalog()[k].name);
    CHECK(lesson == exercise_catalog()[k].lesson);
    CHECK(status == "todo");  // the exercise files as shipped
    ++k;
  }
  CHECK(k == exercise_catalog().size());

  Run s = run_exercise("--list --solution --no-rebuild");
  CHECK(s.code == 0);
  CHECK(s.out.find("todo") == std::string::npos);
  CHECK(s.out.find("failed") == std::string::npos);
  CHECK(s.out.find("layer_norm") != std::string::npos);
}

TEST_CASE("lumen exercise NAME exits 0 on PASS, 1 on FAIL or TODO, 2 on bad usage", "[exercise][tools]") {
  if (!tool_built()) return;
  Run todo = run_exercise("tanh --no-rebuild");
  CHECK(todo.code == 1);
  CHECK(todo.out.find("not implemented yet") != std::string::npos);
  CHECK(todo.out.find("lessons/00_engine_tour/exercise_tanh.h") != std::string::npos);

  Run pass = run_exercise("softmax --solution --no-rebuild");
  CHECK(pass.code == 0);
  CHECK(pass.out.find("PASS: softmax") != std::string::npos);
  CHECK(pass.out.find("worst element") != std::string::npos);

  Run unknown = run_exercise("nope --no-rebuild");
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("no exercise named 'nope'") != std::string::npos);

  Run nothing = run_exercise("--no-rebuild");
  CHECK(nothing.code == 2);
  CHECK(nothing.err.find("--list") != std::string::npos);
}
