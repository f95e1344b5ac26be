// The sequence models `lumen graph` draws: one RNN step, a GRU unrolled over three steps (one
// cluster per step), and one step of a Bahdanau attention decoder.
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/attention.h"
#include "nn/loss.h"
#include "nn/rnn.h"
#include "nn/seq2seq.h"
#include "tensor/random.h"
#include "tools/graph_models.h"

namespace lumen::tools {
namespace {

Var named_input(Tensor value, const char* name) {
  Var x(std::move(value));
  x.set_name(name);
  return x;
}

// A module registered under a name, so its parameters read "cell.weight_ih" in the picture.
template <class M>
class Named : public nn::Module {
 public:
  template <class Options>
  Named(const char* name, const Options& options, Generator& gen) : Module("Model"), inner(options, gen) {
    register_module(name, inner);
  }
  M inner;
};

// h_1 = tanh(W_ih x_1 + b_ih + W_hh h_0 + b_hh) for a batch of 2, with a sum as the "loss".
GraphExample rnn_step() {
  Generator gen(0);
  auto model = std::make_shared<Named<nn::RNNCell>>("cell", nn::RNNCellOptions{.input_size = 3, .hidden_size = 4}, gen);
  Var x = named_input(randn({2, 3}, DType::f32, gen), "x_1");
  Var h0 = named_input(randn({2, 4}, DType::f32, gen), "h_0");
  Var h1 = model->inner.forward(x, h0).set_name("h_1");
  return {{sum(h1).set_name("loss")}, model};
}

// Three GRU steps over x_1..x_3, each in its own cluster t1, t2, t3.
GraphExample gru_unrolled() {
  Generator gen(0);
  auto model = std::make_shared<Named<nn::GRUCell>>("gru", nn::GRUCellOptions{.input_size = 2, .hidden_size = 3}, gen);
  Var h = named_input(Tensor::zeros({1, 3}), "h_0");
  for (int t = 1; t <= 3; ++t) {
    NameScope step("t" + std::to_string(t));
    Var x = named_input(randn({1, 2}, DType::f32, gen), ("x_" + std::to_string(t)).c_str());
    h = model->inner.forward(x, h).set_name("h_" + std::to_string(t));
  }
  return {{sum(h).set_name("loss")}, model};
}

// One decoder step with Bahdanau attention over 4 encoder states h_i, as in lesson 04:
// e_ti = v^T tanh(W_s s_0 + W_h h_i), alpha_1 = softmax(e_1), c_1 = sum_i alpha_1i h_i,
// s_1 = GRU([emb(y_0); c_1], s_0), logits = W_o [s_1; c_1].
GraphExample bahdanau_step() {
  Generator gen(0);
  auto model = std::make_shared<Named<nn::Decoder>>(
      "decoder",
      nn::DecoderOptions{.vocab_size = 5, .embed_dim = 3, .hidden_size = 4, .context_dim = 4, .attn_dim = 3}, gen);
  nn::EncoderOutput enc;
  enc.h = named_input(randn({1, 4, 4}, DType::f32, gen), "h_i");
  enc.final.h = named_input(randn({1, 4}, DType::f32, gen), "h_final");
  nn::DecoderState state = model->inner.start(enc);
  state.s.h.set_name("s_0");
  nn::DecoderStepOutput out = model->inner.step(state, Tensor::from_vector(std::vector<int64_t>{1}, {1}));
  out.alpha_t.set_name("alpha_1");
  state.c.set_name("c_1");
  state.s.h.set_name("s_1");
  Tensor y_1 = Tensor::from_vector(std::vector<int64_t>{2}, {1});
  Var loss = nn::cross_entropy(out.logits, y_1).set_name("loss");
  return {{loss}, model};
}

}  // namespace

std::vector<GraphModel> sequence_graph_models() {
  return {
      {"rnn-step", "one RNNCell step: h_1 = tanh(W_ih x_1 + b_ih + W_hh h_0 + b_hh)", rnn_step},
      {"gru-unrolled", "a GRUCell unrolled over 3 steps, one cluster per step", gru_unrolled},
      {"bahdanau-step", "one decoder step with Bahdanau attention: score, softmax, context, GRU update, output",
       bahdanau_step},
  };
}

}  // namespace lumen::tools
