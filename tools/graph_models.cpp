#include "tools/graph_models.h"

#include "autograd/ops.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::tools {
namespace {

Var scalar_leaf(double v, const char* name, bool requires_grad = true) {
  Var x(Tensor::scalar(v, DType::f64), requires_grad);
  x.set_name(name);
  return x;
}

// micrograd's example: L = (a * b + c) * f, with the names Karpathy gives them.
GraphExample tiny_expression() {
  Var a = scalar_leaf(2.0, "a"), b = scalar_leaf(-3.0, "b"), c = scalar_leaf(10.0, "c"), f = scalar_leaf(-2.0, "f");
  Var e = (a * b).set_name("e");
  Var d = (e + c).set_name("d");
  Var L = (d * f).set_name("L");
  return {{L}, nullptr};
}

// A two-layer perceptron on a batch of 4 points with 3 classes, and its cross-entropy loss.
class Mlp : public nn::Module {
 public:
  explicit Mlp(Generator& gen)
      : Module("Mlp"), fc1_({.in = 2, .out = 8}, gen), fc2_({.in = 8, .out = 3}, gen) {
    register_module("fc1", fc1_);
    register_module("fc2", fc2_);
  }
  Var forward(const Var& x) const {
    auto scope = enter_scope();
    return fc2_.forward(tanh(fc1_.forward(x)));
  }

 private:
  nn::Linear fc1_, fc2_;
};

GraphExample mlp() {
  Generator gen(0);
  auto model = std::make_shared<Mlp>(gen);
  Var x(randn({4, 2}, DType::f32, gen));
  x.set_name("x");
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 2}, {4});
  Var loss = nn::cross_entropy(model->forward(x), y).set_name("loss");
  return {{loss}, model};
}

}  // namespace

std::vector<GraphModel> core_graph_models() {
  return {
      {"tiny-expression", "micrograd's L = (a*b + c) * f, with values and gradients", tiny_expression},
      {"mlp", "a 2-8-3 perceptron with tanh and cross-entropy", mlp},
  };
}

const std::vector<GraphModel>& graph_models() {
  static const std::vector<GraphModel> models = [] {
    std::vector<GraphModel> all = core_graph_models();
    for (auto* more : {sequence_graph_models, transformer_graph_models})
      for (GraphModel& m : more()) all.push_back(std::move(m));
    return all;
  }();
  return models;
}

const GraphModel* find_graph_model(const std::string& name) {
  for (const GraphModel& m : graph_models())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace lumen::tools
