#include "nn/encoder.h"

#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace lumen::nn {

Tensor length_mask(const Tensor& lengths, int64_t T) {
  if (!lengths.defined() || lengths.dtype() != DType::i64 || lengths.dim() != 1)
    throw ValueError("length_mask: lengths must be i64 [B], got " +
                     (lengths.defined() ? std::string(dtype_name(lengths.dtype())) + " " + shape_str(lengths.shape())
                                        : std::string("an undefined tensor")));
  const std::vector<double> ls = lengths.to_vector();
  for (size_t b = 0; b < ls.size(); ++b)
    if (ls[b] < 0 || ls[b] > static_cast<double>(T))
      throw ValueError("length_mask: lengths[" + std::to_string(b) + "] = " + std::to_string(static_cast<int64_t>(ls[b])) +
                       " is outside [0, " + std::to_string(T) + "]");
  // positions [1, T] < lengths [B, 1] -> [B, T]
  return lt(Tensor::arange(T).unsqueeze(0), lengths.unsqueeze(1));
}

Encoder::Encoder(const EncoderOptions& options, Generator& gen) : Module("Encoder"), options_(options) {
  if (options.vocab_size > 0) {
    embedding_ = std::make_unique<Embedding>(
        EmbeddingOptions{.num = options.vocab_size, .dim = options.input_size, .padding_idx = options.padding_idx,
                         .dtype = options.dtype},
        gen);
    register_module("embedding", *embedding_);
  }
  const RNNCellOptions cell{.input_size = options.input_size, .hidden_size = options.hidden_size, .dtype = options.dtype};
  fwd_ = make_cell(options.cell, cell, gen);
  register_module("fwd", *fwd_);
  if (options.bidirectional) {
    bwd_ = make_cell(options.cell, cell, gen);
    register_module("bwd", *bwd_);
  }
}

EncoderOutput Encoder::forward(const Var& x, const Tensor& lengths) const {
  auto scope = enter_scope();
  if (!x.defined() || x.dim() != 3 || x.size(2) != options_.input_size)
    throw ShapeError("Encoder: input x of shape " + (x.defined() ? shape_str(x.shape()) : std::string("(undefined)")) +
                     " does not fit input_size " + std::to_string(options_.input_size) + " (need x [B, T, " +
                     std::to_string(options_.input_size) + "])");
  // select is a view; its backward places the step's gradient back into x's shape.
  return run([&](int64_t t) { return select(x, 1, t); }, x.size(0), x.size(1), lengths);
}

EncoderOutput Encoder::forward(const Tensor& ids, const Tensor& lengths) const {
  auto scope = enter_scope();
  if (!embedding_)
    throw ValueError("Encoder: token ids need an embedding; construct the encoder with vocab_size > 0");
  if (!ids.defined() || ids.dtype() != DType::i64 || ids.dim() != 2)
    throw ShapeError("Encoder: token ids must be i64 [B, T], got " +
                     (ids.defined() ? std::string(dtype_name(ids.dtype())) + " " + shape_str(ids.shape())
                                    : std::string("an undefined tensor")));
  // Embedding one step at a time keeps the backward cheap: each step's gradient goes straight
  // into the [V, E] table, instead of into a [B, T, E] tensor that is zero but for one column.
  return run([&](int64_t t) { return embedding_->forward(ids.select(1, t)); }, ids.size(0), ids.size(1), lengths);
}

template <class InputAt>
EncoderOutput Encoder::run(const InputAt& x_at, int64_t B, int64_t T, const Tensor& lengths) const {
  Tensor mask;  // [B, T] bool
  bool padded = false;
  if (lengths.defined()) {
    if (lengths.dim() != 1 || lengths.size(0) != B)
      throw ShapeError("Encoder: lengths of shape " + shape_str(lengths.shape()) + " do not fit a batch of " +
                       std::to_string(B) + " sequences (need i64 [" + std::to_string(B) + "])");
    mask = length_mask(lengths, T);
    padded = amin(lengths).item() < static_cast<double>(T);
  }
  // Past a row's length the cell still runs (the batch moves in lockstep) but its result is
  // dropped: the state is carried unchanged. valid [B, 1] broadcasts over H.
  auto carry = [&](int64_t t, const CellState& next, const CellState& prev) -> CellState {
    if (!padded) return next;
    const Tensor valid = mask.select(1, t).unsqueeze(1);
    return {where(valid, next.h, prev.h), next.c.defined() ? where(valid, next.c, prev.c) : Var()};
  };

  std::vector<Var> h_fwd(static_cast<size_t>(T)), h_bwd;
  CellState s = fwd_->zero_state(B);
  for (int64_t t = 0; t < T; ++t) {
    NameScope step("t" + std::to_string(t + 1));
    s = carry(t, fwd_->step(x_at(t), s), s);
    h_fwd[static_cast<size_t>(t)] = s.h;  // h_i(fwd) [B, H]
  }
  EncoderOutput out{.h = stack(h_fwd, 1), .final = s, .mask = mask};  // h [B, T, H]

  if (bwd_) {
    // Starts from zeros and carries them through each row's padding, so every row really
    // starts at its own last token.
    h_bwd.resize(static_cast<size_t>(T));
    s = bwd_->zero_state(B);
    for (int64_t t = T - 1; t >= 0; --t) {
      NameScope step("t" + std::to_string(t + 1));
      s = carry(t, bwd_->step(x_at(t), s), s);
      h_bwd[static_cast<size_t>(t)] = s.h;  // h_i(bwd) [B, H]
    }
    out.h = concat({out.h, stack(h_bwd, 1)}, 2);  // [B, T, 2H]
    out.final.h = concat({out.final.h, s.h}, 1);  // [B, 2H]
    if (s.c.defined()) out.final.c = concat({out.final.c, s.c}, 1);
  }
  // The forward direction carried its state into the padding; there h_i must be zero.
  if (padded) out.h = masked_fill(out.h, logical_not(mask).unsqueeze(2), 0.0);
  return out;
}

}  // namespace lumen::nn
