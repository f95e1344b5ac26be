#pragma once
// Positional encodings: attention itself ignores order (permute the tokens and the outputs are
// permuted the same way), so each token's vector gets its position added in.
//
// Sinusoidal (Vaswani et al. 2017, section 3.5): fixed, nothing to learn, any length:
//   PE(pos, 2i)   = sin(pos / 10000^(2i/d))
//   PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
// Each pair of dims is a rotation at its own frequency, so PE(pos + k) is a linear function of
// PE(pos): relative offsets are easy to read off.
//
// Learned (BERT, GPT): one trainable vector per position, like an Embedding of positions
// (PyTorch: nn.Embedding(max_len, d), hence the parameter name `weight`).
#include <cstdint>
#include <memory>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

// The table PE [max_len, dim] (dim may be odd: the last column is then a sin).
Tensor sinusoidal_encoding(int64_t max_len, int64_t dim, DType dtype = DType::f32);

struct PositionalEncodingOptions {
  int64_t max_len;  // the longest sequence (positions 0 .. max_len-1)
  int64_t dim;      // d_model
  DType dtype = DType::f32;
};

// Adds PE to x; the table is a buffer "pe" (saved with the weights, never trained).
class SinusoidalPositionalEncoding : public Module {
 public:
  explicit SinusoidalPositionalEncoding(const PositionalEncodingOptions& options);
  // x [B, T, dim] -> x + PE[offset : offset + T] (offset: the position of x's first token)
  Var forward(const Var& x, int64_t offset = 0) const;
  const Tensor& table() const { return pe_; }  // [max_len, dim]
  const PositionalEncodingOptions& options() const { return options_; }

 private:
  PositionalEncodingOptions options_;
  Tensor pe_;
};

// Adds a learned vector per position: weight [max_len, dim] ~ N(0, 1), as nn.Embedding.
class LearnedPositionalEncoding : public Module {
 public:
  explicit LearnedPositionalEncoding(const PositionalEncodingOptions& options, Generator& gen = default_generator());
  // x [B, T, dim] -> x + weight[offset : offset + T]
  Var forward(const Var& x, int64_t offset = 0) const;
  const Var& weight() const { return weight_; }
  const PositionalEncodingOptions& options() const { return options_; }

 private:
  PositionalEncodingOptions options_;
  Var weight_;
};

enum class PositionalKind { learned, sinusoidal };

// Either kind, for models that let the user choose: it holds one of the two modules, and the
// model registers module() under its own name ("pos"), so the learned table is "pos.weight".
class AnyPositionalEncoding {
 public:
  AnyPositionalEncoding(PositionalKind kind, const PositionalEncodingOptions& options,
                        Generator& gen = default_generator());
  Var forward(const Var& x, int64_t offset = 0) const;
  Module& module();
  PositionalKind kind() const { return learned_ ? PositionalKind::learned : PositionalKind::sinusoidal; }

 private:
  std::unique_ptr<LearnedPositionalEncoding> learned_;
  std::unique_ptr<SinusoidalPositionalEncoding> sinusoidal_;
};

}  // namespace lumen::nn
