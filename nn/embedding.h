#pragma once
// Embedding: a table of learned vectors, one row per token id (PyTorch's weight [num, dim]).
#include <cstdint>
#include <optional>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

struct EmbeddingOptions {
  int64_t num;  // how many ids (rows)
  int64_t dim;  // length of each vector
  // The id that means "no token here": its row starts at zero and never receives a gradient,
  // so it stays zero. Negative values count from the end, as in PyTorch.
  std::optional<int64_t> padding_idx = std::nullopt;
  DType dtype = DType::f32;
};

class Embedding : public Module {
 public:
  // weight ~ N(0, 1) as in PyTorch, with the padding row set to zero.
  explicit Embedding(const EmbeddingOptions& options, Generator& gen = default_generator());

  // ids [*] (i64, each in [0, num)) -> [*, dim]
  Var forward(const Tensor& ids) const;
  Var operator()(const Tensor& ids) const { return forward(ids); }

  const Var& weight() const { return weight_; }
  const EmbeddingOptions& options() const { return options_; }
  // The padding row in [0, num), or -1 for none.
  int64_t padding_idx() const { return padding_idx_; }

 private:
  EmbeddingOptions options_;
  int64_t padding_idx_ = -1;
  Var weight_;  // [num, dim]
};

}  // namespace lumen::nn
