#include "nn/seq2seq.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/loss.h"

namespace lumen::nn {
namespace {

AttentionQuery resolve_query(const DecoderOptions& o) {
  if (o.query != AttentionQuery::automatic) return o.query;
  return o.attention == AttentionType::luong ? AttentionQuery::current_state : AttentionQuery::previous_state;
}

// Whether the state update reads a context at all, and its width.
int64_t cell_input_size(const DecoderOptions& o) {
  return o.embed_dim + (o.input_feeding ? o.context_dim : 0);
}

std::unique_ptr<Attention> make_attention(const DecoderOptions& o, Generator& gen) {
  const int64_t attn_dim = o.attn_dim > 0 ? o.attn_dim : o.hidden_size;
  switch (o.attention) {
    case AttentionType::none: return nullptr;
    case AttentionType::bahdanau:
      return std::make_unique<BahdanauAttention>(
          BahdanauAttentionOptions{.query_dim = o.hidden_size, .key_dim = o.context_dim, .attn_dim = attn_dim,
                                   .dtype = o.dtype},
          gen);
    case AttentionType::luong:
      return std::make_unique<LuongAttention>(
          LuongAttentionOptions{.score = o.luong_score, .query_dim = o.hidden_size, .key_dim = o.context_dim,
                                .attn_dim = attn_dim, .max_len = o.max_src_len, .dtype = o.dtype},
          gen);
  }
  throw ValueError("Decoder: unknown attention type");
}

Tensor index_rows(const Tensor& t, const Tensor& index) { return t.defined() ? lumen::index_select(t, 0, index) : t; }
Var index_rows(const Var& v, const Tensor& index) { return v.defined() ? index_select(v, 0, index) : v; }

void check_ids(const char* op, const Tensor& ids, int64_t dims) {
  if (!ids.defined() || ids.dtype() != DType::i64 || ids.dim() != dims)
    throw ShapeError(std::string(op) + ": token ids must be i64 with " + std::to_string(dims) + " dims, got " +
                     (ids.defined() ? std::string(dtype_name(ids.dtype())) + " " + shape_str(ids.shape())
                                    : std::string("an undefined tensor")));
}

void check_decode_options(const char* op, const DecodeOptions& o) {
  if (o.max_len <= 0) throw ValueError(std::string(op) + ": max_len must be > 0, got " + std::to_string(o.max_len));
}

// The encoder output of row b alone (for beam search, which decodes one source at a time).
EncoderOutput encoder_row(const EncoderOutput& enc, int64_t b) {
  Tensor index = Tensor::from_vector(std::vector<int64_t>{b}, {1});
  return {.h = index_rows(enc.h, index),
          .final = {index_rows(enc.final.h, index), index_rows(enc.final.c, index)},
          .mask = index_rows(enc.mask, index)};
}

}  // namespace

const char* attention_type_name(AttentionType type) {
  switch (type) {
    case AttentionType::none: return "none";
    case AttentionType::bahdanau: return "bahdanau";
    case AttentionType::luong: return "luong";
  }
  return "?";
}

DecoderState reorder(const DecoderState& st, const Tensor& index) {
  return {.s = {index_rows(st.s.h, index), index_rows(st.s.c, index)},
          .c = index_rows(st.c, index),
          .h = index_rows(st.h, index),
          .keys = index_rows(st.keys, index),
          .mask = index_rows(st.mask, index)};
}

// ---- Decoder ----------------------------------------------------------------------------------

Decoder::Decoder(const DecoderOptions& o, Generator& gen)
    : Module("Decoder"),
      options_(o),
      query_(resolve_query(o)),
      embedding_({.num = o.vocab_size, .dim = o.embed_dim, .padding_idx = o.padding_idx, .dtype = o.dtype}, gen),
      out_({.in = o.hidden_size + o.context_dim, .out = o.vocab_size, .dtype = o.dtype}, gen) {
  if (o.vocab_size <= 0 || o.embed_dim <= 0 || o.hidden_size <= 0 || o.context_dim <= 0)
    throw ValueError("Decoder: vocab_size, embed_dim, hidden_size and context_dim must be > 0, got " +
                     std::to_string(o.vocab_size) + ", " + std::to_string(o.embed_dim) + ", " +
                     std::to_string(o.hidden_size) + " and " + std::to_string(o.context_dim));
  register_module("embedding", embedding_);
  if (o.init_from_encoder) {
    init_ = std::make_unique<Linear>(LinearOptions{.in = o.context_dim, .out = o.hidden_size, .dtype = o.dtype}, gen);
    register_module("init", *init_);
  }
  attn_ = make_attention(o, gen);
  if (attn_) register_module("attn", *attn_);
  cell_ = make_cell(o.cell, {.input_size = cell_input_size(o), .hidden_size = o.hidden_size, .dtype = o.dtype}, gen);
  register_module("cell", *cell_);
  register_module("out", out_);
}

DecoderState Decoder::start(const EncoderOutput& enc) const {
  auto scope = enter_scope();
  return start_impl(enc);
}

DecoderState Decoder::start_impl(const EncoderOutput& enc) const {
  if (!enc.h.defined() || enc.h.dim() != 3 || enc.h.size(2) != options_.context_dim || !enc.final.h.defined() ||
      enc.final.h.shape() != Shape{enc.h.size(0), options_.context_dim})
    throw ShapeError("Decoder: encoder states of shape " +
                     (enc.h.defined() ? shape_str(enc.h.shape()) : std::string("(undefined)")) +
                     " and final state of shape " +
                     (enc.final.h.defined() ? shape_str(enc.final.h.shape()) : std::string("(undefined)")) +
                     " do not fit context_dim " + std::to_string(options_.context_dim) + " (need [B, S, " +
                     std::to_string(options_.context_dim) + "] and [B, " + std::to_string(options_.context_dim) + "])");
  const int64_t B = enc.h.size(0);
  DecoderState st;
  st.h = enc.h;
  st.mask = enc.mask;
  if (attn_) st.keys = attn_->precompute_keys(enc.h);  // W_h h_i: once per sequence
  st.s = cell_->zero_state(B);
  if (init_) st.s.h = tanh((*init_)(enc.final.h));  // s_0
  // Without attention the context is fixed: the encoder's final state. With attention, c_0 = 0
  // (read only by Luong-style input feeding).
  st.c = attn_ ? Var(Tensor::zeros({B, options_.context_dim}, options_.dtype)) : enc.final.h;
  return st;
}

DecoderStepOutput Decoder::step(DecoderState& st, const Tensor& y_prev) const {
  auto scope = enter_scope();
  return step_impl(st, y_prev);
}

DecoderStepOutput Decoder::step_impl(DecoderState& st, const Tensor& y_prev) const {
  check_ids("Decoder", y_prev, 1);
  Var emb = embedding_(y_prev);  // emb(y_{t-1}) [B, E]
  const bool score_first = attn_ && query_ == AttentionQuery::previous_state;
  const bool score_after = attn_ && query_ == AttentionQuery::current_state;

  Var c_t = st.c, alpha_t;
  if (score_first) {  // Bahdanau: e_ti = score(s_{t-1}, h_i), then the update reads c_t
    AttentionOutput a = attn_->forward(st.s.h, st.keys, st.h, st.mask);
    c_t = a.c_t;
    alpha_t = a.alpha_t;
  }
  // s_t = f_dec(s_{t-1}, [emb(y_{t-1}); c]) with c = c_t (Bahdanau), c_{t-1} (Luong input
  // feeding) or the fixed context (no attention).
  Var x = options_.input_feeding ? concat({emb, c_t}, 1) : emb;
  st.s = cell_->step(x, st.s);
  if (score_after) {  // Luong: e_ti = score(s_t, h_i)
    AttentionOutput a = attn_->forward(st.s.h, st.keys, st.h, st.mask);
    c_t = a.c_t;
    alpha_t = a.alpha_t;
  }
  st.c = c_t;
  return {out_(concat({st.s.h, c_t}, 1)), alpha_t};  // o_t = W_o [s_t; c_t] + b_o
}

DecoderOutput Decoder::forward(const EncoderOutput& enc, const Tensor& y_in) const {
  auto scope = enter_scope();
  check_ids("Decoder", y_in, 2);
  if (y_in.size(0) != enc.h.size(0))
    throw ShapeError("Decoder: targets of shape " + shape_str(y_in.shape()) + " and encoder states of shape " +
                     shape_str(enc.h.shape()) + " have different batch sizes");
  DecoderState st = start_impl(enc);
  const int64_t T = y_in.size(1);
  std::vector<Var> logits, alphas;
  for (int64_t t = 0; t < T; ++t) {
    NameScope step("t" + std::to_string(t + 1));
    DecoderStepOutput o = step_impl(st, y_in.select(1, t));
    logits.push_back(o.logits);
    if (o.alpha_t.defined()) alphas.push_back(o.alpha_t);
  }
  if (T == 0) return {Var(Tensor::zeros({y_in.size(0), 0, options_.vocab_size}, options_.dtype)), Var()};
  return {stack(logits, 1), alphas.empty() ? Var() : stack(alphas, 1)};
}

// ---- decoding ---------------------------------------------------------------------------------

Decoded greedy_decode(const Decoder& decoder, const EncoderOutput& enc, const DecodeOptions& o) {
  check_decode_options("greedy_decode", o);
  NoGradGuard no_grad;
  DecoderState st = decoder.start(enc);
  const int64_t B = enc.h.size(0), S = enc.h.size(1), L = o.max_len;
  Decoded out = empty_decoded(B, S, o, enc.h.dtype());
  int64_t* tokens = out.tokens.data<int64_t>();
  int64_t* lengths = out.lengths.data<int64_t>();
  double* scores = out.scores.data<double>();
  std::vector<bool> done(static_cast<size_t>(B), false);
  Tensor y = Tensor::full({B}, static_cast<double>(o.bos), DType::i64);
  for (int64_t t = 0; t < L; ++t) {
    DecoderStepOutput step = decoder.step(st, y);
    Tensor log_p = log_softmax(step.logits.value(), -1);  // [B, V]
    Tensor next = argmax(log_p, 1);                        // [B]
    // Rows that finished earlier keep pad and get no weights.
    Tensor finished = Tensor::zeros({B, 1}, DType::boolean);
    for (int64_t b = 0; b < B; ++b) finished.data<bool>()[b] = done[static_cast<size_t>(b)];
    if (step.alpha_t.defined()) out.alphas.select(1, t).copy_(masked_fill(step.alpha_t.value(), finished, 0.0));
    const std::vector<double> lp = log_p.to_vector();
    const int64_t V = log_p.size(1);
    int64_t* ny = next.data<int64_t>();
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[static_cast<size_t>(b)]) continue;
      tokens[b * L + t] = ny[b];
      scores[b] += lp[static_cast<size_t>(b * V + ny[b])];
      lengths[b] = t + 1;
      if (ny[b] == o.eos) done[static_cast<size_t>(b)] = true;
      all_done = all_done && done[static_cast<size_t>(b)];
    }
    if (all_done) break;
    y = next;
  }
  return out;
}

Decoded beam_search(const Decoder& decoder, const EncoderOutput& enc, int64_t width, const DecodeOptions& o) {
  check_decode_options("beam_search", o);
  if (width <= 0) throw ValueError("beam_search: width must be > 0, got " + std::to_string(width));
  NoGradGuard no_grad;
  const int64_t B = enc.h.size(0), S = enc.h.size(1);
  Decoded out = empty_decoded(B, S, o, enc.h.dtype());
  // One source at a time: its active hypotheses are the rows of the decoder's batch.
  for (int64_t b = 0; b < B; ++b) {
    DecoderState st = decoder.start(encoder_row(enc, b));
    Beam beam(width, o);
    for (int64_t t = 0; t < o.max_len && !beam.done(); ++t) {
      std::vector<int64_t> last;
      for (const Hypothesis& h : beam.active()) last.push_back(h.tokens.empty() ? o.bos : h.tokens.back());
      DecoderStepOutput step = decoder.step(st, Tensor::from_vector(last, {static_cast<int64_t>(last.size())}));
      const std::vector<int64_t> parents = beam.advance(log_softmax(step.logits.value(), -1),
                                                        step.alpha_t.defined() ? step.alpha_t.value() : Tensor());
      if (!beam.done()) st = reorder(st, Tensor::from_vector(parents, {static_cast<int64_t>(parents.size())}));
    }
    write_row(out, b, beam.best());
  }
  return out;
}

// ---- Seq2Seq ----------------------------------------------------------------------------------

Seq2Seq::Seq2Seq(const Seq2SeqOptions& o, Generator& gen)
    : Module("Seq2Seq"),
      options_(o),
      encoder_({.input_size = o.embed_dim,
                .hidden_size = o.hidden_size,
                .cell = o.cell,
                .bidirectional = o.bidirectional,
                .vocab_size = o.src_vocab,
                .padding_idx = o.padding_idx,
                .dtype = o.dtype},
               gen),
      decoder_({.vocab_size = o.tgt_vocab,
                .embed_dim = o.embed_dim,
                .hidden_size = o.decoder_hidden > 0 ? o.decoder_hidden : o.hidden_size,
                .context_dim = o.hidden_size * (o.bidirectional ? 2 : 1),
                .cell = o.cell,
                .attention = o.attention,
                .luong_score = o.luong_score,
                .query = o.query,
                .input_feeding = o.input_feeding,
                .attn_dim = o.attn_dim,
                .max_src_len = o.max_src_len,
                .padding_idx = o.padding_idx,
                .dtype = o.dtype},
               gen) {
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
}

DecoderOutput Seq2Seq::forward(const Tensor& src, const Tensor& src_lengths, const Tensor& y_in) const {
  auto scope = enter_scope();
  return decoder_.forward(encoder_.forward(src, src_lengths), y_in);
}

Var Seq2Seq::loss(const Tensor& src, const Tensor& src_lengths, const Tensor& y_in, const Tensor& y_out,
                  int64_t ignore_index) const {
  check_ids("Seq2Seq::loss", y_out, 2);
  if (y_out.shape() != y_in.shape())
    throw ShapeError("Seq2Seq::loss: decoder inputs of shape " + shape_str(y_in.shape()) + " and targets of shape " +
                     shape_str(y_out.shape()) + " differ");
  DecoderOutput out = forward(src, src_lengths, y_in);
  return cross_entropy(out.logits, y_out, {.ignore_index = ignore_index});  // logits [B, T, V]
}

Decoded Seq2Seq::greedy_decode(const Tensor& src, const Tensor& src_lengths, const DecodeOptions& options) const {
  NoGradGuard no_grad;
  return nn::greedy_decode(decoder_, encoder_.forward(src, src_lengths), options);
}

Decoded Seq2Seq::beam_search(const Tensor& src, const Tensor& src_lengths, int64_t width,
                             const DecodeOptions& options) const {
  NoGradGuard no_grad;
  return nn::beam_search(decoder_, encoder_.forward(src, src_lengths), width, options);
}

// ---- helpers ----------------------------------------------------------------------------------

Tensor shift_right(const Tensor& y, int64_t bos) {
  check_ids("shift_right", y, 2);
  const int64_t B = y.size(0), T = y.size(1);
  Tensor out = Tensor::full({B, T}, static_cast<double>(bos), DType::i64);
  if (T > 1) out.slice(1, 1, T).copy_(y.slice(1, 0, T - 1));
  return out;
}

Tensor sequence_correct(const Tensor& pred, const Tensor& target, int64_t pad) {
  check_ids("sequence_correct", pred, 2);
  check_ids("sequence_correct", target, 2);
  if (pred.size(0) != target.size(0))
    throw ShapeError("sequence_correct: predictions of shape " + shape_str(pred.shape()) + " and targets of shape " +
                     shape_str(target.shape()) + " have different batch sizes");
  const int64_t B = target.size(0), T = target.size(1), Tp = pred.size(1);
  const std::vector<double> p = pred.to_vector(), y = target.to_vector();
  Tensor out = Tensor::zeros({B}, DType::boolean);
  for (int64_t b = 0; b < B; ++b) {
    bool right = true;
    for (int64_t t = 0; t < T && right; ++t) {
      const double want = y[static_cast<size_t>(b * T + t)];
      if (want == static_cast<double>(pad)) continue;
      right = t < Tp && p[static_cast<size_t>(b * Tp + t)] == want;
    }
    out.data<bool>()[b] = right;
  }
  return out;
}

double sequence_accuracy(const Tensor& pred, const Tensor& target, int64_t pad) {
  const Tensor right = sequence_correct(pred, target, pad);
  if (right.numel() == 0) return 0.0;
  int64_t n = 0;
  for (int64_t b = 0; b < right.numel(); ++b) n += right.data<bool>()[b] ? 1 : 0;
  return static_cast<double>(n) / static_cast<double>(right.numel());
}

double token_accuracy(const Tensor& pred, const Tensor& target, int64_t pad) {
  check_ids("token_accuracy", pred, 2);
  check_ids("token_accuracy", target, 2);
  if (pred.size(0) != target.size(0))
    throw ShapeError("token_accuracy: predictions of shape " + shape_str(pred.shape()) + " and targets of shape " +
                     shape_str(target.shape()) + " have different batch sizes");
  const int64_t B = target.size(0), T = target.size(1), Tp = pred.size(1);
  const std::vector<double> p = pred.to_vector(), y = target.to_vector();
  int64_t total = 0, right = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const double want = y[static_cast<size_t>(b * T + t)];
      if (want == static_cast<double>(pad)) continue;
      ++total;
      if (t < Tp && p[static_cast<size_t>(b * Tp + t)] == want) ++right;
    }
  return total > 0 ? static_cast<double>(right) / static_cast<double>(total) : 0.0;
}

}  // namespace lumen::nn
