#include "nn/transformer.h"

#include <string>

#include "autograd/ops.h"

namespace lumen::nn {
namespace {

void check_block_options(const char* who, const TransformerBlockOptions& o) {
  if (o.d_model <= 0 || o.heads <= 0 || o.ffn <= 0 || o.d_model % o.heads != 0)
    throw ValueError(std::string(who) + ": need d_model > 0 divisible by heads > 0 and ffn > 0, got d_model = " +
                     std::to_string(o.d_model) + ", heads = " + std::to_string(o.heads) +
                     ", ffn = " + std::to_string(o.ffn));
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw ValueError(std::string(who) + ": dropout must be in [0, 1), got " + std::to_string(o.dropout));
}

MultiHeadAttentionOptions attention_options(const TransformerBlockOptions& o) {
  return {.embed_dim = o.d_model, .num_heads = o.heads, .bias = o.bias, .dropout = o.dropout, .dtype = o.dtype};
}
LinearOptions up(const TransformerBlockOptions& o) {
  return {.in = o.d_model, .out = o.ffn, .bias = o.bias, .dtype = o.dtype};
}
LinearOptions down(const TransformerBlockOptions& o) {
  return {.in = o.ffn, .out = o.d_model, .bias = o.bias, .dtype = o.dtype};
}
LayerNormOptions norm(const TransformerBlockOptions& o) {
  return {.dim = o.d_model, .eps = o.layer_norm_eps, .dtype = o.dtype};
}
// Each dropout draws its masks from a generator of its own, seeded from the model's.
DropoutOptions drop(double p, Generator& gen) { return {.p = p, .seed = gen.next_u32()}; }

void check_stack_options(const char* who, const TransformerStackOptions& o) {
  if (o.num_layers < 0)
    throw ValueError(std::string(who) + ": num_layers must be >= 0, got " + std::to_string(o.num_layers));
}

}  // namespace

// ---- feed-forward ------------------------------------------------------------------------------

const char* activation_name(Activation a) { return a == Activation::relu ? "relu" : "gelu"; }

Var activate(const Var& x, Activation a) { return a == Activation::relu ? relu(x) : gelu(x); }

Var feed_forward(const Var& x, const Linear& linear1, const Linear& linear2, Activation act, const Dropout& dropout) {
  // x [*, D] -> [*, F] -> [*, D]
  return linear2.forward(dropout.forward(activate(linear1.forward(x), act)));
}

FeedForward::FeedForward(const FeedForwardOptions& options, Generator& gen)
    : Module("FeedForward"),
      options_(options),
      linear1_({.in = options.dim, .out = options.hidden, .bias = options.bias, .dtype = options.dtype}, gen),
      linear2_({.in = options.hidden, .out = options.dim, .bias = options.bias, .dtype = options.dtype}, gen),
      dropout_(drop(options.dropout, gen)) {
  register_module("linear1", linear1_);
  register_module("dropout", dropout_);
  register_module("linear2", linear2_);
}

Var FeedForward::forward(const Var& x) const {
  auto scope = enter_scope();
  return feed_forward(x, linear1_, linear2_, options_.activation, dropout_);
}

// ---- blocks ------------------------------------------------------------------------------------

TransformerEncoderBlock::TransformerEncoderBlock(const TransformerBlockOptions& options, Generator& gen)
    : Module("TransformerEncoderBlock"),
      options_((check_block_options("TransformerEncoderBlock", options), options)),
      self_attn_(attention_options(options), gen),
      linear1_(up(options), gen),
      linear2_(down(options), gen),
      norm1_(norm(options)),
      norm2_(norm(options)),
      dropout_(drop(options.dropout, gen)),
      dropout1_(drop(options.dropout, gen)),
      dropout2_(drop(options.dropout, gen)) {
  register_module("self_attn", self_attn_);
  register_module("linear1", linear1_);
  register_module("dropout", dropout_);
  register_module("linear2", linear2_);
  register_module("norm1", norm1_);
  register_module("norm2", norm2_);
  register_module("dropout1", dropout1_);
  register_module("dropout2", dropout2_);
}

BlockOutput TransformerEncoderBlock::forward(const Var& x, const AttentionArgs& args) const {
  auto scope = enter_scope();
  BlockOutput o;
  auto attend = [&](const Var& h) {
    MultiHeadAttentionOutput a = self_attn_.self_attention(h, args);
    o.self_alpha = a.alpha;
    return dropout1_.forward(a.Z);
  };
  auto ffn = [&](const Var& h) {
    return dropout2_.forward(feed_forward(h, linear1_, linear2_, options_.activation, dropout_));
  };
  if (options_.norm_first) {
    Var h = x + attend(norm1_.forward(x));   // x + SA(LN(x))
    o.out = h + ffn(norm2_.forward(h));      // h + FFN(LN(h))
  } else {
    Var h = norm1_.forward(x + attend(x));   // LN(x + SA(x))
    o.out = norm2_.forward(h + ffn(h));      // LN(h + FFN(h))
  }
  return o;
}

TransformerDecoderBlock::TransformerDecoderBlock(const TransformerBlockOptions& options, Generator& gen)
    : Module("TransformerDecoderBlock"),
      options_((check_block_options("TransformerDecoderBlock", options), options)),
      self_attn_(attention_options(options), gen),
      multihead_attn_(attention_options(options), gen),
      linear1_(up(options), gen),
      linear2_(down(options), gen),
      norm1_(norm(options)),
      norm2_(norm(options)),
      norm3_(norm(options)),
      dropout_(drop(options.dropout, gen)),
      dropout1_(drop(options.dropout, gen)),
      dropout2_(drop(options.dropout, gen)),
      dropout3_(drop(options.dropout, gen)) {
  register_module("self_attn", self_attn_);
  register_module("multihead_attn", multihead_attn_);
  register_module("linear1", linear1_);
  register_module("dropout", dropout_);
  register_module("linear2", linear2_);
  register_module("norm1", norm1_);
  register_module("norm2", norm2_);
  register_module("norm3", norm3_);
  register_module("dropout1", dropout1_);
  register_module("dropout2", dropout2_);
  register_module("dropout3", dropout3_);
}

BlockOutput TransformerDecoderBlock::forward(const Var& x, const Var& memory, const AttentionArgs& self_args,
                                             const AttentionArgs& cross_args) const {
  auto scope = enter_scope();
  BlockOutput o;
  auto self_attend = [&](const Var& h) {
    MultiHeadAttentionOutput a = self_attn_.self_attention(h, self_args);
    o.self_alpha = a.alpha;
    return dropout1_.forward(a.Z);
  };
  auto cross_attend = [&](const Var& h) {
    MultiHeadAttentionOutput a = multihead_attn_.forward(h, memory, memory, cross_args);
    o.cross_alpha = a.alpha;
    return dropout2_.forward(a.Z);
  };
  auto ffn = [&](const Var& h) {
    return dropout3_.forward(feed_forward(h, linear1_, linear2_, options_.activation, dropout_));
  };
  if (options_.norm_first) {
    Var h = x + self_attend(norm1_.forward(x));
    h = h + cross_attend(norm2_.forward(h));
    o.out = h + ffn(norm3_.forward(h));
  } else {
    Var h = norm1_.forward(x + self_attend(x));
    h = norm2_.forward(h + cross_attend(h));
    o.out = norm3_.forward(h + ffn(h));
  }
  return o;
}

// ---- stacks ------------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const TransformerStackOptions& options, Generator& gen)
    : Module("TransformerEncoder"), options_(options) {
  check_stack_options("TransformerEncoder", options);
  for (int64_t i = 0; i < options.num_layers; ++i)
    blocks_.push_back(std::make_unique<TransformerEncoderBlock>(options.block, gen));
  register_module("blocks", blocks_);
  if (options.final_norm) register_module("norm", *(norm_ = std::make_unique<LayerNorm>(norm(options.block))));
}

StackOutput TransformerEncoder::forward(const Var& x, const AttentionArgs& args, std::vector<KVCache>* caches) const {
  auto scope = enter_scope();
  if (args.cache)
    throw ValueError("TransformerEncoder: pass one KV cache per block through `caches`, not AttentionArgs::cache");
  if (caches && caches->empty()) caches->resize(blocks_.size());
  if (caches && caches->size() != blocks_.size())
    throw ValueError("TransformerEncoder: " + std::to_string(caches->size()) + " KV caches for " +
                     std::to_string(blocks_.size()) + " blocks");
  StackOutput o;
  Var h = x;
  {
    auto list_scope = blocks_.scope();
    for (size_t i = 0; i < blocks_.size(); ++i) {
      AttentionArgs a = args;
      if (caches) a.cache = &(*caches)[i];
      BlockOutput b = blocks_[i].forward(h, a);
      h = b.out;
      if (args.need_weights) o.self_alphas.push_back(b.self_alpha);
    }
  }
  o.out = norm_ ? norm_->forward(h) : h;
  return o;
}

TransformerDecoder::TransformerDecoder(const TransformerStackOptions& options, Generator& gen)
    : Module("TransformerDecoder"), options_(options) {
  check_stack_options("TransformerDecoder", options);
  for (int64_t i = 0; i < options.num_layers; ++i)
    blocks_.push_back(std::make_unique<TransformerDecoderBlock>(options.block, gen));
  register_module("blocks", blocks_);
  if (options.final_norm) register_module("norm", *(norm_ = std::make_unique<LayerNorm>(norm(options.block))));
}

StackOutput TransformerDecoder::forward(const Var& x, const Var& memory, const AttentionArgs& self_args,
                                        const AttentionArgs& cross_args) const {
  auto scope = enter_scope();
  if (self_args.cache || cross_args.cache)
    throw ValueError("TransformerDecoder: KV caches go to single blocks; a stack would share one between its blocks");
  StackOutput o;
  Var h = x;
  {
    auto list_scope = blocks_.scope();
    for (size_t i = 0; i < blocks_.size(); ++i) {
      BlockOutput b = blocks_[i].forward(h, memory, self_args, cross_args);
      h = b.out;
      if (self_args.need_weights) o.self_alphas.push_back(b.self_alpha);
      if (cross_args.need_weights) o.cross_alphas.push_back(b.cross_alpha);
    }
  }
  o.out = norm_ ? norm_->forward(h) : h;
  return o;
}

}  // namespace lumen::nn
