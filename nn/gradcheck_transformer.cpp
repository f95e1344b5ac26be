// Gradient checks of the transformer modules (nn/attention_sdpa.h, nn/multihead.h,
// nn/transformer.h), with respect to their inputs and their parameters, for `lumen gradcheck`.
//
// gradcheck differentiates a function of the tensors it is given, while a module keeps its
// parameters inside. So a case hands gradcheck (inputs..., parameters...) and wraps the module:
// the trailing values are copied into the module's parameters, the module runs its ordinary
// forward, and one node over all the given tensors answers backward by differentiating that
// forward's graph (engine grad()) with respect to the inputs and the parameters.
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/gradcheck_modules.h"
#include "nn/multihead.h"
#include "nn/transformer.h"
#include "tensor/random.h"

namespace lumen::nn {
namespace {

using Vs = std::vector<Var>;
using ModuleForward = std::function<Var(const Vs& inputs)>;

// `forward` as a function of (inputs..., the module's parameters...).
VarFunction over_parameters(std::shared_ptr<Module> module, size_t n_inputs, ModuleForward forward) {
  return [module, n_inputs, forward](const Vs& all) -> Var {
    const Vs params = module->parameters();
    {
      NoGradGuard no_grad;
      for (size_t k = 0; k < params.size(); ++k) {
        Tensor p = params[k].value();
        p.copy_(all[n_inputs + k].value());
      }
    }
    // The module's own graph, from stand-ins for the inputs to its output.
    Vs wrt;
    for (size_t i = 0; i < n_inputs; ++i) wrt.push_back(Var(all[i].value(), all[i].requires_grad()));
    const Var inner = forward(wrt);
    wrt.insert(wrt.end(), params.begin(), params.end());
    std::vector<size_t> slots;  // which of `all` have a stand-in that requires grad
    Vs asked;
    for (size_t i = 0; i < wrt.size(); ++i)
      if (all[i].requires_grad()) {
        slots.push_back(i);
        asked.push_back(wrt[i]);
      }
    return record(
        "module", inner.value(), all,
        [inner, asked, slots, n = all.size()](const Node&, const Var& g) -> Grads {
          Grads out(n);
          Vs got = grad({inner}, asked, {g}, {.retain_graph = true, .allow_unused = true});
          for (size_t k = 0; k < slots.size(); ++k) out[slots[k]] = got[k];
          return out;
        },
        Saved{.inputs = false});
  };
}

class Builder {
 public:
  Builder() : gen_(2025) {}
  Tensor randn_(const Shape& s) { return randn(s, DType::f64, gen_); }
  Generator& gen() { return gen_; }

  // A case of a plain function (no parameters).
  void add(const std::string& op, const std::string& shapes, VarFunction f, std::vector<Tensor> inputs,
           bool smooth = true) {
    cases_.push_back({op, shapes, std::move(f), std::move(inputs), smooth});
  }
  // A case of a module: `inputs` feed `forward`; the parameters are checked too.
  void add_module(const std::string& op, const std::string& shapes, std::shared_ptr<Module> module,
                  std::vector<Tensor> inputs, ModuleForward forward, bool smooth = true) {
    const size_t n = inputs.size();
    for (const Var& p : module->parameters()) inputs.push_back(p.value().clone());
    cases_.push_back({op, shapes + " + params", over_parameters(std::move(module), n, std::move(forward)),
                      std::move(inputs), smooth});
  }
  std::vector<GradcheckCase> take() { return std::move(cases_); }

 private:
  Generator gen_;
  std::vector<GradcheckCase> cases_;
};

constexpr DType f64 = DType::f64;

TransformerBlockOptions small_block(bool norm_first, Activation act = Activation::gelu) {
  return {.d_model = 4, .heads = 2, .ffn = 6, .dropout = 0.0, .activation = act, .norm_first = norm_first, .dtype = f64};
}

Tensor lengths(std::vector<int64_t> l) {
  const int64_t n = static_cast<int64_t>(l.size());
  return Tensor::from_vector(std::move(l), {n});
}

}  // namespace

std::vector<GradcheckCase> transformer_gradcheck_cases() {
  Builder b;

  // ---- scaled dot-product attention (the fused op; the weights path is Var ops) ----
  b.add("ScaledDotProductAttention", "causal Q [2, 2, 4, 3], K^T, V [2, 2, 4, 2]",
        [](const Vs& v) { return sdpa_fused(v[0], v[1], v[2], Tensor(), true); },
        {b.randn_({2, 2, 4, 3}), b.randn_({2, 2, 3, 4}).mT(), b.randn_({2, 2, 4, 2})});
  {
    // key padding, with batch entry 1 seeing only its first key
    Tensor mask = padding_mask(lengths_mask(lengths({5, 1}), 5));
    b.add("ScaledDotProductAttention", "Q [2, 1, 3, 2] x K, V [2, 1, 5, 2], padding",
          [mask](const Vs& v) { return sdpa_fused(v[0], v[1], v[2], mask); },
          {b.randn_({2, 1, 3, 2}), b.randn_({2, 1, 5, 2}), b.randn_({2, 1, 5, 2})});
    b.add("ScaledDotProductAttention", "weights path: alpha and Z, padding + causal",
          [mask](const Vs& v) {
            SdpaOutput o = sdpa_unfused(v[0], v[1], v[2], mask, {.causal = true, .need_weights = true});
            return concat({flatten(o.Z), flatten(o.alpha)}, 0);
          },
          {b.randn_({2, 1, 3, 2}), b.randn_({2, 1, 5, 2}), b.randn_({2, 1, 5, 2})});
  }
  b.add("ScaledDotProductAttention", "packed heads: qkv [2, 3, 12], 2 heads, causal",
        [](const Vs& v) { return multi_head_sdpa(v[0], 2, Tensor(), true); }, {b.randn_({2, 3, 12})});

  // ---- multi-head attention: self, cross with padding, and the weights path ----
  {
    auto mha = std::make_shared<MultiHeadAttention>(MultiHeadAttentionOptions{.embed_dim = 4, .num_heads = 2, .dtype = f64},
                                                    b.gen());
    b.add_module("MultiHeadAttention", "self, causal, x [2, 3, 4], H 2", mha, {b.randn_({2, 3, 4})},
                 [mha](const Vs& v) { return mha->self_attention(v[0], {.causal = true}).Z; });
    Tensor real = lengths_mask(lengths({4, 2}), 4);
    b.add_module("MultiHeadAttention", "cross, q [2, 3, 4], memory [2, 4, 4], padding", mha,
                 {b.randn_({2, 3, 4}), b.randn_({2, 4, 4})}, [mha, real](const Vs& v) {
                   return mha->forward(v[0], v[1], v[1], {.key_padding_mask = real}).Z;
                 });
    b.add_module("MultiHeadAttention", "weights path: Z and alpha, separate k, v", mha,
                 {b.randn_({1, 3, 4}), b.randn_({1, 2, 4}), b.randn_({1, 2, 4})}, [mha](const Vs& v) {
                   MultiHeadAttentionOutput o = mha->forward(v[0], v[1], v[2], {.need_weights = true});
                   return concat({flatten(o.Z), flatten(o.alpha)}, 0);
                 });
  }

  // ---- feed-forward ----
  {
    auto ff = std::make_shared<FeedForward>(
        FeedForwardOptions{.dim = 4, .hidden = 6, .activation = Activation::gelu, .dtype = f64}, b.gen());
    b.add_module("FeedForward", "GELU, x [2, 3, 4]", ff, {b.randn_({2, 3, 4})},
                 [ff](const Vs& v) { return ff->forward(v[0]); });
    auto ff_relu = std::make_shared<FeedForward>(
        FeedForwardOptions{.dim = 3, .hidden = 5, .activation = Activation::relu, .dtype = f64}, b.gen());
    b.add_module("FeedForward", "ReLU, x [4, 3]^T view", ff_relu, {b.randn_({3, 4}).mT()},
                 [ff_relu](const Vs& v) { return ff_relu->forward(v[0]); }, false);
  }

  // ---- blocks: post-norm and pre-norm ----
  for (bool pre : {false, true}) {
    const std::string kind = pre ? "pre-norm" : "post-norm";
    auto enc = std::make_shared<TransformerEncoderBlock>(small_block(pre), b.gen());
    Tensor real = lengths_mask(lengths({3, 2}), 3);
    b.add_module("TransformerEncoderBlock", kind + ", x [2, 3, 4], padding", enc, {b.randn_({2, 3, 4})},
                 [enc, real](const Vs& v) { return enc->forward(v[0], {.key_padding_mask = real}).out; });
    auto dec = std::make_shared<TransformerDecoderBlock>(small_block(pre), b.gen());
    b.add_module("TransformerDecoderBlock", kind + ", x [2, 3, 4], memory [2, 2, 4]", dec,
                 {b.randn_({2, 3, 4}), b.randn_({2, 2, 4})},
                 [dec](const Vs& v) { return dec->forward(v[0], v[1]).out; });
  }
  {
    auto stack = std::make_shared<TransformerEncoder>(
        TransformerStackOptions{.block = small_block(true), .num_layers = 2, .final_norm = true}, b.gen());
    b.add_module("TransformerEncoder", "2 pre-norm blocks, causal, x [1, 3, 4]", stack, {b.randn_({1, 3, 4})},
                 [stack](const Vs& v) { return stack->forward(v[0], {.causal = true}).out; });
  }
  return b.take();
}

}  // namespace lumen::nn
