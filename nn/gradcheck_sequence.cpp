// Gradient checks of the sequence modules (nn/rnn.h, nn/encoder.h, nn/attention.h,
// nn/seq2seq.h), with respect to their inputs AND their parameters.
//
// gradcheck differentiates a function of its inputs, but a module keeps its parameters inside.
// So each case turns a module into a function of (inputs..., parameters...): it loads the
// trailing inputs into the module's parameters, runs the module's own forward, and records one
// node over all the inputs whose backward differentiates the module's graph. The module runs
// exactly the code it runs in training; only its parameters arrive from outside.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/attention.h"
#include "nn/encoder.h"
#include "nn/gradcheck_modules.h"
#include "nn/rnn.h"
#include "nn/seq2seq.h"
#include "tensor/random.h"

namespace lumen::nn {
namespace {

using Vs = std::vector<Var>;
// The module's forward on its (non-parameter) inputs.
using ModuleForward = std::function<Var(const Vs& inputs)>;

// A function of (inputs..., parameters...) that runs `forward` with the module's parameters
// set to the trailing values.
VarFunction with_parameters(std::shared_ptr<Module> module, size_t n_inputs, ModuleForward forward) {
  return [module, n_inputs, forward](const Vs& all) -> Var {
    const Vs params = module->parameters();
    {
      NoGradGuard no_grad;
      for (size_t k = 0; k < params.size(); ++k) {
        Tensor memory = params[k].value();  // a handle: copy_ writes the parameter's own memory
        memory.copy_(all[n_inputs + k].value());
      }
    }
    // The module's own graph, from fresh leaves holding the inputs' values to its output.
    Vs wrt;
    for (size_t i = 0; i < n_inputs; ++i) wrt.push_back(Var(all[i].value(), all[i].requires_grad()));
    const Var inner = forward(wrt);
    wrt.insert(wrt.end(), params.begin(), params.end());
    // One node over every input: its backward is the inner graph's gradient with respect to
    // the leaves that stand for them (retained, in case backward runs twice).
    return record("module", inner.value(), all,
                  [inner, wrt](const Node&, const Var& g) -> Grads {
                    return grad({inner}, wrt, {g}, {.retain_graph = true, .allow_unused = true});
                  },
                  Saved{.inputs = false});
  };
}

// Inputs for a case: the given input tensors, then a copy of every parameter.
std::vector<Tensor> with_parameter_values(std::vector<Tensor> inputs, const Module& module) {
  for (const Var& p : module.parameters()) inputs.push_back(p.value().clone());
  return inputs;
}

class Builder {
 public:
  Builder() : gen_(7) {}
  Tensor randn_(const Shape& s) { return randn(s, DType::f64, gen_); }
  Generator& gen() { return gen_; }

  // A case over a module: `inputs` feed `forward`, the module's parameters follow them.
  template <class M>
  void add(const std::string& op, const std::string& shapes, std::shared_ptr<M> module, std::vector<Tensor> inputs,
           ModuleForward forward) {
    const size_t n = inputs.size();
    cases_.push_back({op, shapes, with_parameters(module, n, std::move(forward)),
                      with_parameter_values(std::move(inputs), *module), true});
  }
  std::vector<GradcheckCase> take() { return std::move(cases_); }

 private:
  Generator gen_;
  std::vector<GradcheckCase> cases_;
};

constexpr DType f64 = DType::f64;

}  // namespace

std::vector<GradcheckCase> sequence_gradcheck_cases() {
  Builder b;

  // ---- cells: one step, B = 2 ----
  {
    auto cell = std::make_shared<RNNCell>(RNNCellOptions{.input_size = 3, .hidden_size = 4, .dtype = f64}, b.gen());
    b.add("RNNCell", "x [2, 3], h [2, 4], params", cell, {b.randn_({2, 3}), b.randn_({2, 4})},
          [cell](const Vs& v) { return cell->forward(v[0], v[1]); });
  }
  {
    auto cell = std::make_shared<GRUCell>(GRUCellOptions{.input_size = 3, .hidden_size = 3, .dtype = f64}, b.gen());
    // x given as a transposed view: the cell must not care about strides.
    b.add("GRUCell", "x [3, 2]^T, h [2, 3], params", cell, {b.randn_({3, 2}).mT(), b.randn_({2, 3})},
          [cell](const Vs& v) { return cell->forward(v[0], v[1]); });
  }
  {
    auto cell = std::make_shared<LSTMCell>(LSTMCellOptions{.input_size = 3, .hidden_size = 2, .dtype = f64}, b.gen());
    b.add("LSTMCell", "x [2, 3], h, c [2, 2], params", cell,
          {b.randn_({2, 3}), b.randn_({2, 2}), b.randn_({2, 2})}, [cell](const Vs& v) {
            CellState s = cell->forward(v[0], {v[1], v[2]});
            return concat({s.h, s.c}, 1);
          });
  }

  // ---- a bidirectional encoder over a padded batch ----
  {
    auto enc = std::make_shared<Encoder>(
        EncoderOptions{.input_size = 2, .hidden_size = 2, .cell = CellType::gru, .bidirectional = true, .dtype = f64},
        b.gen());
    Tensor lengths = Tensor::from_vector(std::vector<int64_t>{3, 2}, {2});
    b.add("Encoder", "bi-GRU x [2, 3, 2] len {3, 2}, params", enc, {b.randn_({2, 3, 2})},
          [enc, lengths](const Vs& v) {
            EncoderOutput o = enc->forward(v[0], lengths);
            return concat({flatten(o.h), flatten(o.final.h)}, 0);
          });
  }
  {
    auto enc = std::make_shared<Encoder>(
        EncoderOptions{.input_size = 2, .hidden_size = 2, .cell = CellType::lstm, .dtype = f64}, b.gen());
    Tensor lengths = Tensor::from_vector(std::vector<int64_t>{2, 3}, {2});
    b.add("Encoder", "LSTM x [2, 3, 2] len {2, 3}, params", enc, {b.randn_({2, 3, 2})},
          [enc, lengths](const Vs& v) {
            EncoderOutput o = enc->forward(v[0], lengths);
            return concat({flatten(o.h), flatten(o.final.h), flatten(o.final.c)}, 0);
          });
  }

  // ---- attention: c_t and alpha_t, with one padded position ----
  Tensor mask = Tensor::zeros({2, 3}, DType::boolean);
  for (int64_t i : {0, 1, 2, 3, 4}) mask.data<bool>()[i] = true;  // row 1 has 2 real positions
  {
    auto attn = std::make_shared<BahdanauAttention>(
        BahdanauAttentionOptions{.query_dim = 2, .key_dim = 3, .attn_dim = 2, .dtype = f64}, b.gen());
    b.add("BahdanauAttention", "s [2, 2], h [2, 3, 3], mask, params", attn, {b.randn_({2, 2}), b.randn_({2, 3, 3})},
          [attn, mask](const Vs& v) {
            AttentionOutput o = attn->forward(v[0], v[1], mask);
            return concat({o.c_t, o.alpha_t}, 1);
          });
  }
  for (LuongScore score : {LuongScore::dot, LuongScore::general, LuongScore::concat, LuongScore::location}) {
    const int64_t Q = score == LuongScore::dot ? 3 : 2;
    auto attn = std::make_shared<LuongAttention>(
        LuongAttentionOptions{.score = score, .query_dim = Q, .key_dim = 3, .attn_dim = 2, .max_len = 4, .dtype = f64},
        b.gen());
    b.add("LuongAttention",
          std::string(luong_score_name(score)) + " s [2, " + std::to_string(Q) + "], h [2, 3, 3], params",
          attn, {b.randn_({2, Q}), b.randn_({2, 3, 3})}, [attn, mask](const Vs& v) {
            AttentionOutput o = attn->forward(v[0], v[1], mask);
            return concat({o.c_t, o.alpha_t}, 1);
          });
  }
  {
    auto attn = std::make_shared<SoftAttention>(
        SoftAttentionOptions{.feature_dim = 3, .hidden_dim = 2, .attn_dim = 2, .dtype = f64}, b.gen());
    b.add("SoftAttention", "h [2, 2], a [2, 4, 3], params", attn, {b.randn_({2, 2}), b.randn_({2, 4, 3})},
          [attn](const Vs& v) {
            AttentionOutput o = attn->forward(v[0], v[1]);
            return concat({o.c_t, o.alpha_t}, 1);
          });
  }

  // ---- a whole encoder-decoder, unrolled over 5 target steps ----
  {
    auto model = std::make_shared<Seq2Seq>(Seq2SeqOptions{.src_vocab = 5,
                                                          .tgt_vocab = 5,
                                                          .embed_dim = 2,
                                                          .hidden_size = 2,
                                                          .attn_dim = 2,
                                                          .padding_idx = 0,
                                                          .dtype = f64},
                                           b.gen());
    Tensor src = Tensor::from_vector(std::vector<int64_t>{1, 3, 2, 4, 2, 0}, {2, 3});
    Tensor lengths = Tensor::from_vector(std::vector<int64_t>{3, 2}, {2});
    Tensor y_in = Tensor::from_vector(std::vector<int64_t>{1, 2, 4, 3, 3, 1, 4, 4, 2, 2}, {2, 5});
    b.add("Seq2Seq", "src [2, 3], tgt [2, 5], params", model, {},
          [model, src, lengths, y_in](const Vs&) { return model->forward(src, lengths, y_in).logits; });
  }
  return b.take();
}

}  // namespace lumen::nn
