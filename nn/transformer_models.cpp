#include "nn/transformer_models.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace lumen::nn {
namespace {

std::string dt(DType d) { return std::string(dtype_name(d)); }

// ids must be i64 [B, T] with 1 <= T <= max_len.
void check_ids(const char* who, const Tensor& ids, int64_t max_len, const char* what = "ids") {
  if (!ids.defined() || ids.dtype() != DType::i64 || ids.dim() != 2)
    throw ValueError(std::string(who) + ": " + what + " must be i64 [B, T], got " +
                     (ids.defined() ? dt(ids.dtype()) + " of shape " + shape_str(ids.shape()) : "undefined"));
  if (ids.size(1) > max_len)
    throw ValueError(std::string(who) + ": " + what + " of shape " + shape_str(ids.shape()) + " are longer than max_len " +
                     std::to_string(max_len));
}

void check_real(const char* who, const Tensor& real, const Tensor& ids) {
  if (!real.defined()) return;
  if (real.dtype() != DType::boolean || real.shape() != ids.shape())
    throw ValueError(std::string(who) + ": the real-token mask must be bool " + shape_str(ids.shape()) + ", got " +
                     dt(real.dtype()) + " of shape " + shape_str(real.shape()));
}

DropoutOptions drop(double p, Generator& gen) { return {.p = p, .seed = gen.next_u32()}; }

}  // namespace

// ---- BERT-style ------------------------------------------------------------------------------

EncoderOnly::EncoderOnly(const EncoderOnlyOptions& o, Generator& gen)
    : Module("EncoderOnly"),
      options_(o),
      tok_({.num = o.vocab_size, .dim = o.d_model, .dtype = o.dtype}, gen),
      pos_(o.positional, {.max_len = o.max_len, .dim = o.d_model, .dtype = o.dtype}, gen),
      emb_norm_({.dim = o.d_model, .dtype = o.dtype}),
      drop_(drop(o.dropout, gen)),
      encoder_({.block = {.d_model = o.d_model,
                          .heads = o.heads,
                          .ffn = o.ffn,
                          .dropout = o.dropout,
                          .activation = o.activation,
                          .norm_first = o.norm_first,
                          .dtype = o.dtype},
                .num_layers = o.num_layers,
                .final_norm = o.norm_first},
               gen),
      mlm_dense_({.in = o.d_model, .out = o.d_model, .dtype = o.dtype}, gen),
      mlm_norm_({.dim = o.d_model, .dtype = o.dtype}),
      mlm_out_({.in = o.d_model, .out = o.vocab_size, .dtype = o.dtype}, gen),
      pooler_({.in = o.d_model, .out = o.d_model, .dtype = o.dtype}, gen),
      classifier_({.in = o.d_model, .out = o.num_classes, .dtype = o.dtype}, gen) {
  register_module("tok", tok_);
  register_module("pos", pos_.module());
  register_module("emb_norm", emb_norm_);
  register_module("drop", drop_);
  register_module("encoder", encoder_);
  register_module("mlm_dense", mlm_dense_);
  register_module("mlm_norm", mlm_norm_);
  register_module("mlm_out", mlm_out_);
  register_module("pooler", pooler_);
  register_module("classifier", classifier_);
}

StackOutput EncoderOnly::encode(const Tensor& ids, const Tensor& real, bool need_weights) const {
  auto scope = enter_scope();
  check_ids("EncoderOnly", ids, options_.max_len);
  check_real("EncoderOnly", real, ids);
  // x [B, T, D] = LN(tok(ids) + pos), then bidirectional self-attention over the real tokens
  Var x = drop_.forward(emb_norm_.forward(pos_.forward(tok_.forward(ids))));
  return encoder_.forward(x, {.key_padding_mask = real, .need_weights = need_weights});
}

Var EncoderOnly::mlm_logits(const Var& H) const {
  auto scope = enter_scope();
  return mlm_out_.forward(mlm_norm_.forward(gelu(mlm_dense_.forward(H))));  // [B, T, V]
}

Var EncoderOnly::cls_logits(const Var& H) const {
  auto scope = enter_scope();
  Var h_cls = select(H, 1, 0);                                           // [B, D]
  return classifier_.forward(tanh(pooler_.forward(h_cls)));             // [B, C]
}

MaskedTokens mask_tokens(const Tensor& ids, const MaskTokensOptions& o, Generator& gen, const Tensor& real) {
  if (!ids.defined() || ids.dtype() != DType::i64)
    throw ValueError("mask_tokens: ids must be i64, got " + (ids.defined() ? dt(ids.dtype()) : std::string("undefined")));
  if (real.defined() && (real.dtype() != DType::boolean || real.shape() != ids.shape()))
    throw ValueError("mask_tokens: real must be bool of the ids' shape " + shape_str(ids.shape()));
  if (!(o.prob >= 0.0 && o.prob <= 1.0) || o.first_random < 0 || o.first_random >= o.vocab_size)
    throw ValueError("mask_tokens: need 0 <= prob <= 1 and 0 <= first_random < vocab_size, got prob = " +
                     std::to_string(o.prob) + ", first_random = " + std::to_string(o.first_random) +
                     ", vocab_size = " + std::to_string(o.vocab_size));
  Tensor inputs = ids.clone();
  Tensor targets = Tensor::full(ids.shape(), static_cast<double>(o.ignore_index), DType::i64);
  Tensor r = real.defined() ? real.contiguous() : Tensor();
  int64_t* in = inputs.data<int64_t>();
  int64_t* tg = targets.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (r.defined() && !r.data<bool>()[i]) continue;
    if (gen.uniform() >= o.prob) continue;
    tg[i] = in[i];
    const double u = gen.uniform();
    if (u < 0.8)
      in[i] = o.mask_id;
    else if (u < 0.9)
      in[i] = o.first_random + static_cast<int64_t>(gen.below(static_cast<uint64_t>(o.vocab_size - o.first_random)));
  }
  return {inputs, targets};
}

// ---- GPT-style -------------------------------------------------------------------------------

DecoderOnly::DecoderOnly(const DecoderOnlyOptions& o, Generator& gen)
    : Module("DecoderOnly"),
      options_(o),
      tok_({.num = o.vocab_size, .dim = o.d_model, .dtype = o.dtype}, gen),
      pos_(o.positional, {.max_len = o.max_len, .dim = o.d_model, .dtype = o.dtype}, gen),
      drop_(drop(o.dropout, gen)) {
  if (o.num_layers < 0) throw ValueError("DecoderOnly: num_layers must be >= 0, got " + std::to_string(o.num_layers));
  const TransformerBlockOptions block{.d_model = o.d_model,
                                      .heads = o.heads,
                                      .ffn = o.ffn,
                                      .dropout = o.dropout,
                                      .activation = o.activation,
                                      .norm_first = o.norm_first,
                                      .bias = o.bias,
                                      .dtype = o.dtype};
  for (int64_t i = 0; i < o.num_layers; ++i) blocks_.push_back(std::make_unique<TransformerEncoderBlock>(block, gen));
  register_module("tok", tok_);
  register_module("pos", pos_.module());
  register_module("drop", drop_);
  register_module("blocks", blocks_);
  if (o.norm_first) register_module("ln_f", *(ln_f_ = std::make_unique<LayerNorm>(LayerNormOptions{.dim = o.d_model, .dtype = o.dtype})));
  if (!o.tie_embeddings)
    register_module("head", *(head_ = std::make_unique<Linear>(
                                  LinearOptions{.in = o.d_model, .out = o.vocab_size, .bias = o.bias, .dtype = o.dtype}, gen)));
}

Var DecoderOnly::embed(const Tensor& ids, int64_t offset) const {
  return drop_.forward(pos_.forward(tok_.forward(ids), offset));  // [B, T, D]
}

Var DecoderOnly::logits(const Var& h) const {
  Var x = ln_f_ ? ln_f_->forward(h) : h;
  if (head_) return head_->forward(x);                // [B, T, V]
  return matmul(x, transpose(tok_.weight(), 0, 1));  // tied: scores against every token's embedding
}

Var DecoderOnly::forward(const Tensor& ids) const {
  auto scope = enter_scope();
  check_ids("DecoderOnly", ids, options_.max_len);
  Var h = embed(ids, 0);
  {
    auto list_scope = blocks_.scope();
    for (size_t i = 0; i < blocks_.size(); ++i) h = blocks_[i].forward(h, {.causal = true}).out;
  }
  return logits(h);
}

std::vector<Var> DecoderOnly::attention_weights(const Tensor& ids) const {
  auto scope = enter_scope();
  check_ids("DecoderOnly", ids, options_.max_len);
  std::vector<Var> alphas;
  Var h = embed(ids, 0);
  auto list_scope = blocks_.scope();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    BlockOutput b = blocks_[i].forward(h, {.causal = true, .need_weights = true});
    h = b.out;
    alphas.push_back(b.self_alpha);
  }
  return alphas;
}

Var DecoderOnly::forward_cached(const Tensor& ids, GenerationCache& cache) const {
  NoGradGuard no_grad;
  auto scope = enter_scope();
  check_ids("DecoderOnly", ids, options_.max_len);
  if (cache.layers.empty()) cache.layers.resize(blocks_.size());
  if (cache.layers.size() != blocks_.size())
    throw ValueError("DecoderOnly: the cache has " + std::to_string(cache.layers.size()) + " layers for " +
                     std::to_string(blocks_.size()) + " blocks");
  const int64_t offset = cache.length();
  if (offset + ids.size(1) > options_.max_len)
    throw ValueError("DecoderOnly: positions up to " + std::to_string(offset + ids.size(1) - 1) +
                     " do not fit max_len = " + std::to_string(options_.max_len));
  // The new tokens' positions continue after the cached ones; their queries see every cached
  // key (causal, aligned to the end).
  Var h = embed(ids, offset);
  {
    auto list_scope = blocks_.scope();
    for (size_t i = 0; i < blocks_.size(); ++i)
      h = blocks_[i].forward(h, {.causal = true, .cache = &cache.layers[i]}).out;
  }
  return logits(h);
}

Tensor next_token(const Tensor& logits, const GenerateOptions& o) {
  if (!logits.defined() || logits.dim() != 2 || !is_floating(logits.dtype()))
    throw ValueError("next_token: logits must be floating [B, V], got " +
                     (logits.defined() ? dt(logits.dtype()) + " of shape " + shape_str(logits.shape()) : "undefined"));
  if (o.greedy) return argmax(logits, 1);
  if (!(o.temperature > 0.0))
    throw ValueError("next_token: temperature must be > 0 for sampling, got " + std::to_string(o.temperature));
  const int64_t B = logits.size(0), V = logits.size(1);
  const int64_t k = o.top_k > 0 ? std::min(o.top_k, V) : V;
  Generator& gen = o.gen ? *o.gen : default_generator();
  // The k best tokens of every row, best first, then softmax(z / temperature) over them (in
  // double) and one uniform draw through the cumulative sum.
  TopK best = topk(logits, k, 1);
  const std::vector<double> z = best.values.to_vector();
  const int64_t* idx = best.indices.contiguous().data<int64_t>();
  Tensor out = Tensor::empty({B}, DType::i64);
  for (int64_t b = 0; b < B; ++b) {
    const double* zb = z.data() + b * k;
    std::vector<double> p(static_cast<size_t>(k));
    double total = 0;
    for (int64_t j = 0; j < k; ++j) total += p[static_cast<size_t>(j)] = std::exp((zb[j] - zb[0]) / o.temperature);
    double u = gen.uniform() * total;
    int64_t pick = k - 1;
    for (int64_t j = 0; j < k; ++j) {
      u -= p[static_cast<size_t>(j)];
      if (u < 0) {
        pick = j;
        break;
      }
    }
    out.data<int64_t>()[b] = idx[b * k + pick];
  }
  return out;
}

Tensor DecoderOnly::generate(const Tensor& prompt, const GenerateOptions& o) const {
  NoGradGuard no_grad;
  check_ids("DecoderOnly::generate", prompt, options_.max_len, "prompt");
  const int64_t T0 = prompt.size(1);
  if (T0 == 0 || o.max_new_tokens < 0 || T0 + o.max_new_tokens > options_.max_len)
    throw ValueError("DecoderOnly::generate: a prompt of " + std::to_string(T0) + " tokens (at least 1) and " +
                     std::to_string(o.max_new_tokens) + " new ones must fit max_len = " +
                     std::to_string(options_.max_len));
  Tensor seq = prompt.contiguous();
  GenerationCache cache;
  Tensor last;  // [B, V]: the logits after the last token of seq
  if (o.use_cache && o.max_new_tokens > 0) last = forward_cached(seq, cache).value().select(1, T0 - 1);
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    if (!o.use_cache) last = forward(seq).value().select(1, seq.size(1) - 1);
    Tensor next = next_token(last, o).unsqueeze(1);  // [B, 1]
    seq = concat({seq, next}, 1);
    if (o.use_cache && step + 1 < o.max_new_tokens) last = forward_cached(next, cache).value().select(1, 0);
  }
  return seq;
}

// ---- the original transformer ----------------------------------------------------------------

EncoderDecoder::EncoderDecoder(const EncoderDecoderOptions& o, Generator& gen)
    : Module("EncoderDecoder"),
      options_(o),
      src_emb_({.num = o.src_vocab, .dim = o.d_model, .dtype = o.dtype}, gen),
      tgt_emb_({.num = o.tgt_vocab, .dim = o.d_model, .dtype = o.dtype}, gen),
      src_pos_(o.positional, {.max_len = o.max_len, .dim = o.d_model, .dtype = o.dtype}, gen),
      tgt_pos_(o.positional, {.max_len = o.max_len, .dim = o.d_model, .dtype = o.dtype}, gen),
      drop_(drop(o.dropout, gen)),
      encoder_({.block = {.d_model = o.d_model,
                          .heads = o.heads,
                          .ffn = o.ffn,
                          .dropout = o.dropout,
                          .activation = o.activation,
                          .norm_first = o.norm_first,
                          .dtype = o.dtype},
                .num_layers = o.num_encoder_layers,
                .final_norm = o.norm_first},
               gen),
      decoder_({.block = encoder_.options().block, .num_layers = o.num_decoder_layers, .final_norm = o.norm_first},
               gen),
      out_({.in = o.d_model, .out = o.tgt_vocab, .dtype = o.dtype}, gen) {
  register_module("src_emb", src_emb_);
  register_module("tgt_emb", tgt_emb_);
  register_module("src_pos", src_pos_.module());
  register_module("tgt_pos", tgt_pos_.module());
  register_module("drop", drop_);
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
  register_module("out", out_);
}

Var EncoderDecoder::embed(const Embedding& emb, const AnyPositionalEncoding& pos, const Tensor& ids) const {
  Var x = emb.forward(ids);  // [B, T, D]
  if (options_.scale_embeddings) x = x * std::sqrt(static_cast<double>(options_.d_model));
  return drop_.forward(pos.forward(x));
}

Var EncoderDecoder::encode(const Tensor& src, const Tensor& src_real) const {
  auto scope = enter_scope();
  check_ids("EncoderDecoder", src, options_.max_len, "src");
  check_real("EncoderDecoder", src_real, src);
  return encoder_.forward(embed(src_emb_, src_pos_, src), {.key_padding_mask = src_real}).out;
}

Var EncoderDecoder::decode(const Tensor& tgt_in, const Var& memory, const Tensor& src_real, const Tensor& tgt_real,
                           StackOutput* weights) const {
  auto scope = enter_scope();
  check_ids("EncoderDecoder", tgt_in, options_.max_len, "tgt_in");
  check_real("EncoderDecoder", tgt_real, tgt_in);
  StackOutput s = decoder_.forward(embed(tgt_emb_, tgt_pos_, tgt_in), memory,
                                   {.key_padding_mask = tgt_real, .causal = true, .need_weights = weights != nullptr},
                                   {.key_padding_mask = src_real, .need_weights = weights != nullptr});
  Var logits = out_.forward(s.out);  // [B, T, tgt_vocab]
  if (weights) *weights = std::move(s);
  return logits;
}

Var EncoderDecoder::forward(const Tensor& src, const Tensor& tgt_in, const Tensor& src_real,
                            const Tensor& tgt_real) const {
  return decode(tgt_in, encode(src, src_real), src_real, tgt_real);
}

namespace {

void check_decode(const char* who, const DecodeOptions& o, int64_t max_len) {
  if (o.max_len < 0 || o.max_len > max_len)
    throw ValueError(std::string(who) + ": max_len must be in [0, " + std::to_string(max_len) + "], got " +
                     std::to_string(o.max_len));
}

// Rows of the last block's cross-attention at target position t, averaged over heads: [n, S].
Tensor cross_weights_at(const StackOutput& w, int64_t t) {
  if (w.cross_alphas.empty()) return Tensor();
  return mean(w.cross_alphas.back().value().select(2, t), {1});  // [n, H, T, S] -> [n, S]
}

}  // namespace

Decoded EncoderDecoder::greedy_decode(const Tensor& src, const Tensor& src_real, const DecodeOptions& o) const {
  NoGradGuard no_grad;
  check_decode("EncoderDecoder::greedy_decode", o, options_.max_len);
  const Var memory = encode(src, src_real);
  const int64_t B = src.size(0), S = src.size(1), L = o.max_len;
  Decoded out = empty_decoded(B, S, o, options_.dtype);
  int64_t* tokens = out.tokens.data<int64_t>();
  std::vector<bool> done(static_cast<size_t>(B), false);
  Tensor ys = Tensor::full({B, 1}, static_cast<double>(o.bos), DType::i64);  // the decoder's input so far
  for (int64_t t = 0; t < L; ++t) {
    // The whole prefix again: position t's prediction reads every earlier one.
    StackOutput w;
    Tensor log_p = log_softmax(decode(ys, memory, src_real, Tensor(), &w).value().select(1, t), -1);  // [B, V]
    Tensor next = argmax(log_p, 1);                                                                   // [B]
    Tensor alpha = cross_weights_at(w, t);                                                            // [B, S]
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[static_cast<size_t>(b)]) {
        next.data<int64_t>()[b] = o.pad;  // finished rows keep reading padding
        continue;
      }
      const int64_t y = next.data<int64_t>()[b];
      tokens[b * L + t] = y;
      out.scores.data<double>()[b] += log_p.at({b, y});
      out.lengths.data<int64_t>()[b] = t + 1;
      if (alpha.defined()) out.alphas.select(0, b).select(0, t).copy_(alpha.select(0, b));
      done[static_cast<size_t>(b)] = y == o.eos;
      all_done = all_done && done[static_cast<size_t>(b)];
    }
    if (all_done) break;
    ys = concat({ys, next.unsqueeze(1)}, 1);
  }
  return out;
}

Decoded EncoderDecoder::beam_search(const Tensor& src, const Tensor& src_real, int64_t width,
                                    const DecodeOptions& o) const {
  NoGradGuard no_grad;
  check_decode("EncoderDecoder::beam_search", o, options_.max_len);
  if (width <= 0) throw ValueError("EncoderDecoder::beam_search: width must be > 0, got " + std::to_string(width));
  const Var memory = encode(src, src_real);
  const int64_t B = src.size(0), S = src.size(1), D = options_.d_model;
  Decoded out = empty_decoded(B, S, o, options_.dtype);
  for (int64_t b = 0; b < B; ++b) {
    const Tensor mem_b = memory.value().slice(0, b, b + 1);                             // [1, S, D]
    const Tensor real_b = src_real.defined() ? src_real.slice(0, b, b + 1) : Tensor();  // [1, S]
    Beam beam(width, o);
    for (int64_t t = 0; t < o.max_len && !beam.done(); ++t) {
      // Every active hypothesis as one row of the decoder's batch: [n, t + 1] after BOS. The
      // decoder has no state to carry, so the whole prefix is read again.
      const int64_t n = static_cast<int64_t>(beam.active().size());
      std::vector<int64_t> ys;
      for (const Hypothesis& h : beam.active()) {
        ys.push_back(o.bos);
        ys.insert(ys.end(), h.tokens.begin(), h.tokens.end());
      }
      StackOutput w;
      const Var logits = decode(Tensor::from_vector(ys, {n, t + 1}), Var(mem_b.expand({n, S, D})),
                                real_b.defined() ? real_b.expand({n, S}) : Tensor(), Tensor(), &w);
      beam.advance(log_softmax(logits.value().select(1, t), -1), cross_weights_at(w, t));  // [n, V], [n, S]
    }
    write_row(out, b, beam.best());
  }
  return out;
}

}  // namespace lumen::nn
