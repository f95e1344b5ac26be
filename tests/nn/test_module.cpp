// Module: dotted names, registration, train/eval, summary, and graph clusters that follow the
// module tree.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

class Block : public Module {
 public:
  explicit Block(Generator& gen) : Module("Block"), fc_({.in = 4, .out = 4, .dtype = DType::f64}, gen) {
    register_module("fc", fc_);
    scale_ = register_parameter("scale", Tensor::ones({4}, DType::f64));
  }
  Var forward(const Var& x) const {
    auto scope = enter_scope();
    return tanh(fc_.forward(x)) * scale_;
  }

 private:
  Linear fc_;
  Var scale_;
};

class Net : public Module {
 public:
  explicit Net(Generator& gen) : Module("Net"), a_(gen), b_(gen), head_({.in = 4, .out = 2, .dtype = DType::f64}, gen) {
    register_module("a", a_);
    register_module("b", b_);
    register_module("head", head_);
  }
  Var forward(const Var& x) const {
    auto scope = enter_scope();
    return head_.forward(b_.forward(a_.forward(x)));
  }

 private:
  Block a_, b_;
  Linear head_;
};

}  // namespace

TEST_CASE("parameters have dotted paths in registration order, and Vars carry them", "[nn]") {
  Generator gen(0);
  Net net(gen);
  std::vector<std::string> names;
  for (auto& [name, p] : net.named_parameters()) {
    names.push_back(name);
    REQUIRE(p.name() == name);
    REQUIRE(p.requires_grad());
  }
  REQUIRE(names == std::vector<std::string>{"a.scale", "a.fc.weight", "a.fc.bias", "b.scale", "b.fc.weight",
                                            "b.fc.bias", "head.weight", "head.bias"});
  REQUIRE(net.num_parameters() == 2 * (4 + 16 + 4) + 8 + 2);
  REQUIRE(net.parameters().size() == 8);
}

TEST_CASE("train and eval reach every child, zero_grad clears every gradient", "[nn]") {
  Generator gen(0);
  Net net(gen);
  net.eval();
  for (auto& [path, m] : net.named_modules()) REQUIRE_FALSE(m->is_training());
  net.train();
  for (auto& [path, m] : net.named_modules()) REQUIRE(m->is_training());
  Var x(randn({3, 4}, DType::f64, gen));
  sum(net.forward(x)).backward();
  for (const Var& p : net.parameters()) REQUIRE(p.grad().defined());
  net.zero_grad();
  for (const Var& p : net.parameters()) REQUIRE_FALSE(p.grad().defined());
}

TEST_CASE("the summary is a tree with shapes and parameter counts", "[nn]") {
  Generator gen(0);
  Net net(gen);
  std::string s = net.summary();
  REQUIRE(s.find("Net (58 parameters)") == 0);
  REQUIRE(s.find("  a: Block (24 parameters)") != std::string::npos);
  REQUIRE(s.find("    fc: Linear (20 parameters)") != std::string::npos);
  REQUIRE(s.find("weight [4, 4] 16") != std::string::npos);
}

TEST_CASE("graph clusters follow the module tree", "[nn][graph]") {
  Generator gen(0);
  Net net(gen);
  Var x(randn({3, 4}, DType::f64, gen));
  x.set_name("x");
  Var y = sum(net.forward(x)).set_name("loss");
  REQUIRE(graph_scopes({y}) == std::vector<std::string>{"a", "a.fc", "b", "b.fc", "head"});
  std::string dot = to_dot({y});
  // Each module path is one cluster, and a.fc sits inside a.
  std::regex cluster("subgraph cluster_(\\w+) \\{");
  std::set<std::string> clusters;
  for (auto it = std::sregex_iterator(dot.begin(), dot.end(), cluster); it != std::sregex_iterator(); ++it)
    clusters.insert((*it)[1]);
  REQUIRE(clusters == std::set<std::string>{"a", "a_fc", "b", "b_fc", "head", "legend"});
  size_t a = dot.find("subgraph cluster_a {"), afc = dot.find("subgraph cluster_a_fc {"),
         b = dot.find("subgraph cluster_b {");
  REQUIRE(a < afc);
  REQUIRE(afc < b);
  // Parameters are drawn inside their module's cluster: a.fc.weight appears after a.fc opens
  // and before b opens.
  size_t w = dot.find("a.fc.weight\\n");
  REQUIRE(w > afc);
  REQUIRE(w < b);
  // Collapsing a module removes its inner nodes and parameters from the picture.
  std::string folded = to_dot({y}, {.collapse = {"a"}});
  REQUIRE(folded.find("a.fc.weight") == std::string::npos);
  REQUIRE(folded.find("b.fc.weight") != std::string::npos);
  REQUIRE(folded.find("subgraph cluster_a {") == std::string::npos);
}

TEST_CASE("registering a name twice is an error", "[nn]") {
  struct Twice : Module {
    Twice() : Module("Twice") {
      register_parameter("w", Tensor::zeros({1}));
      register_parameter("w", Tensor::zeros({1}));
    }
  };
  REQUIRE_THROWS_AS(Twice(), ValueError);
  REQUIRE_THROWS_WITH(Twice(), Catch::Contains("'w' registered twice"));
}
