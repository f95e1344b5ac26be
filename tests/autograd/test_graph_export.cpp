// Graph export: labels, roles, clusters from name scopes, collapse, determinism, backward graph.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>

#include "autograd/engine.h"
#include "autograd/graph_export.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"

using namespace lumen;

namespace {
Var named_leaf(std::vector<double> v, Shape s, const char* name, bool grad = true) {
  Var x(Tensor::from_vector(v, s, DType::f64), grad);
  x.set_name(name);
  return x;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// A two-step "RNN": h_t = tanh(W * h_{t-1} + x_t), inside encoder.t1 and encoder.t2 scopes.
Var two_step_rnn(const Var& w, const Var& x1, const Var& x2) {
  Var h = named_leaf({0.0, 0.0}, {2}, "h0", false);
  {
    NameScope enc("encoder");
    {
      NameScope t("t1");
      h = tanh(w * h + x1);
    }
    {
      NameScope t("t2");
      h = tanh(w * h + x2);
    }
  }
  return sum(h).set_name("loss");
}
}  // namespace

TEST_CASE("a node shows op, shape, dtype and name, and leaves are coloured by role", "[autograd][graph]") {
  Var a = named_leaf({1, 2, 3}, {3}, "a");
  Var c = named_leaf({1, 1, 1}, {3}, "c", false);
  Var y = sum(a * c).set_name("y");
  std::string dot = to_dot({y});
  INFO(dot);
  REQUIRE(dot.find("mul\\n[3] f64") != std::string::npos);
  REQUIRE(dot.find("[label=\"sum") != std::string::npos);
  REQUIRE(dot.find("\\n[] f64\\ny\"") != std::string::npos);
  REQUIRE(dot.find("label=\"a\\n[3] f64\", shape=box, style=\"filled\", fillcolor=\"#FFE699\"") != std::string::npos);
  REQUIRE(dot.find("label=\"c\\n[3] f64\", shape=box, style=\"filled\", fillcolor=\"#BDD7EE\"") != std::string::npos);
  // Edges carry the input slot and shape.
  REQUIRE(dot.find("n0 -> n2 [label=\"0: [3]\"]") != std::string::npos);
  REQUIRE(dot.find("n1 -> n2 [label=\"1: [3]\"]") != std::string::npos);
  REQUIRE(dot.find("cluster_legend") != std::string::npos);
}

TEST_CASE("ids are n0, n1, ... in topological order, and exports are deterministic", "[autograd][graph]") {
  auto build = [] {
    Var a = named_leaf({1, 2}, {2}, "a");
    Var b = named_leaf({3, 4}, {2}, "b");
    return sum(tanh(a * b) + a);
  };
  std::string first = to_dot({build()}), second = to_dot({build()});
  REQUIRE(first == second);
  REQUIRE(to_json({build()}) == to_json({build()}));
  REQUIRE(first.find("0x") == std::string::npos);  // no pointers anywhere
  std::regex id("\n  n(\\d+) \\[label=");  // node lines, not edges
  int expected = 0;
  for (auto it = std::sregex_iterator(first.begin(), first.end(), id); it != std::sregex_iterator(); ++it)
    REQUIRE(std::stoi((*it)[1]) == expected++);
  REQUIRE(expected == 6);  // a, b, mul, tanh, add, sum
}

TEST_CASE("show_values prints values and, after a retained backward, gradients", "[autograd][graph]") {
  Var a = named_leaf({2.0}, {1}, "a");
  Var b = named_leaf({-3.0}, {1}, "b");
  Var L = sum(a * b).set_name("L");
  backward(L, Tensor(), {.retain_graph = true});
  std::string dot = to_dot({L}, {.show_values = true});
  REQUIRE(dot.find("a\\n[1] f64\\nvalue [2]\\ngrad [-3]") != std::string::npos);
  REQUIRE(dot.find("mul\\n[1] f64\\nvalue [-6]\\ngrad [1]") != std::string::npos);
}

TEST_CASE("clusters follow the name scopes, nested, with one cluster per time step", "[autograd][graph]") {
  Var w = named_leaf({0.5, -0.5}, {2}, "encoder.w");
  Var x1 = named_leaf({1, 2}, {2}, "x1", false), x2 = named_leaf({3, 4}, {2}, "x2", false);
  Var loss = two_step_rnn(w, x1, x2);
  std::string dot = to_dot({loss});
  REQUIRE(count(dot, "subgraph cluster_encoder {") == 1);
  REQUIRE(count(dot, "subgraph cluster_encoder_t1 {") == 1);
  REQUIRE(count(dot, "subgraph cluster_encoder_t2 {") == 1);
  // t1 and t2 are inside encoder: both open after encoder opens and before it closes.
  size_t enc = dot.find("subgraph cluster_encoder {");
  REQUIRE(dot.find("subgraph cluster_encoder_t1 {") > enc);
  // Time steps make the layout left to right.
  REQUIRE(dot.find("rankdir=LR") != std::string::npos);
  REQUIRE(graph_scopes({loss}) == std::vector<std::string>{"encoder", "encoder.t1", "encoder.t2"});
  // The JSON says the same.
  nlohmann::json j = nlohmann::json::parse(to_json({loss}));
  int in_t2 = 0;
  for (auto& n : j["nodes"])
    if (n["scope"] == "encoder.t2") ++in_t2;
  REQUIRE(in_t2 == 3);  // mul, add, tanh
}

TEST_CASE("collapse folds a scope into one node with its inputs and outputs", "[autograd][graph]") {
  Var w = named_leaf({0.5, -0.5}, {2}, "encoder.w");
  Var x1 = named_leaf({1, 2}, {2}, "x1", false), x2 = named_leaf({3, 4}, {2}, "x2", false);
  Var loss = two_step_rnn(w, x1, x2);
  std::string full = to_dot({loss});
  std::string folded = to_dot({loss}, {.collapse = {"encoder"}});
  REQUIRE(count(full, "tanh\\n") == 2);
  REQUIRE(count(folded, "tanh\\n") == 0);
  REQUIRE(count(folded, "mul\\n") == 0);
  REQUIRE(folded.find("encoder\\n(6 ops, collapsed)\\nin: [2], [2], [2]\\nout: [2]") != std::string::npos);
  REQUIRE(folded.find("shape=box3d") != std::string::npos);
  REQUIRE(count(folded, "subgraph cluster_encoder") == 0);
  // Collapsing only one step keeps the other.
  std::string one = to_dot({loss}, {.collapse = {"encoder.t1"}});
  REQUIRE(count(one, "tanh\\n") == 1);
  REQUIRE_THROWS_AS(to_dot({loss}, {.collapse = {"decoder"}}), ValueError);
  REQUIRE_THROWS_WITH(to_dot({loss}, {.collapse = {"decoder"}}), Catch::Contains("encoder.t1"));
}

TEST_CASE("the backward graph shows the broadcast reduction sum_to", "[autograd][graph]") {
  Var x = named_leaf({1, 2, 3, 4, 5, 6}, {2, 3}, "x");
  Var b = named_leaf({1, 2, 3}, {3}, "b");
  Var y = sum(x * b).set_name("y");
  std::string dot = to_dot({y}, {.backward = true});
  REQUIRE(dot.find("sum_to") != std::string::npos);
  REQUIRE(dot.find("grad of b") != std::string::npos);
  REQUIRE(dot.find("grad of x") != std::string::npos);
  // The export leaves .grad alone.
  REQUIRE_FALSE(x.grad().defined());
  REQUIRE_FALSE(b.grad().defined());
}

TEST_CASE("show_saved lists what each op keeps for backward", "[autograd][graph]") {
  Var x = named_leaf({1, 2, 3}, {3}, "x");
  Var y = sum(tanh(x));
  std::string dot = to_dot({y}, {.show_saved = true});
  REQUIRE(dot.find("tanh\\n[3] f64\\nsaves 1 tensor, 24 B") != std::string::npos);
}
