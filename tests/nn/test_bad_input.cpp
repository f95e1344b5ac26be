// Bad input to the nn layer, in one place: ids out of range in Embedding and cross_entropy,
// inputs that do not fit a layer, an optimizer given a parameter twice, and a checkpoint loaded
// into a module of another shape. Each case checks the exception's type and that its message
// names the op (or module) and the offending shapes or values; a failed load changes nothing.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"

using namespace lumen;
using namespace lumen::nn;
namespace fs = std::filesystem;

namespace {

// A scratch file name for this process, removed when the test ends.
struct ScratchFile {
  std::string path;
  explicit ScratchFile(const std::string& name)
      : path((fs::temp_directory_path() / ("lumen_bad_input_" + std::to_string(::getpid()) + "_" + name)).string()) {}
  ~ScratchFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

Tensor ids(std::vector<int64_t> values) {
  const auto n = static_cast<int64_t>(values.size());
  return Tensor::from_vector(values, {n});
}

}  // namespace

TEST_CASE("bad input: Embedding and cross_entropy with ids too large and negative", "[nn][bad_input]") {
  Generator gen(1);
  Embedding emb({.num = 5, .dim = 3}, gen);
  Var logits(Tensor::zeros({3, 4}), true);
  for (int64_t bad : {int64_t{5}, int64_t{77}, int64_t{-1}, int64_t{-6}, std::numeric_limits<int64_t>::max()}) {
    const std::string v = std::to_string(bad);
    INFO("id " << v);
    REQUIRE_ERROR(emb.forward(ids({0, bad})), IndexError, "embedding", "id " + v, "[5, 3]");
    REQUIRE_ERROR(cross_entropy(logits, ids({0, bad, 1})), IndexError, "cross_entropy", "target " + v, "C = 4");
  }
  // ignore_index is the one value outside [0, C) that is allowed.
  REQUIRE(std::isfinite(cross_entropy(logits, ids({0, -100, 1})).item()));
  REQUIRE_ERROR(cross_entropy(logits, ids({0, 1})), ShapeError, "cross_entropy", "[3, 4]", "[2]");
  REQUIRE_ERROR(cross_entropy(logits, Tensor::zeros({3}, DType::f32)), DTypeError, "cross_entropy", "f32");
  REQUIRE_ERROR(cross_entropy(logits, ids({0, 1, 2}), {.label_smoothing = 1.5}), ValueError, "cross_entropy",
                "label_smoothing");
  REQUIRE_ERROR(Embedding({.num = 5, .dim = 3, .padding_idx = 5}), ValueError, "Embedding", "padding_idx 5");
  REQUIRE_ERROR(Embedding({.num = 5, .dim = 3, .padding_idx = -6}), ValueError, "Embedding", "padding_idx -6");
}

TEST_CASE("bad input: inputs that do not fit a layer name the layer and both shapes", "[nn][bad_input]") {
  Generator gen(2);
  Linear fc({.in = 4, .out = 2}, gen);
  REQUIRE_ERROR(fc.forward(Var(Tensor::zeros({3, 5}))), ShapeError, "linear", "[3, 5]", "[2, 4]");
  REQUIRE_ERROR(fc.forward(Var(Tensor::zeros({4}, DType::f64))), DTypeError, "linear", "f64", "f32");
  REQUIRE_ERROR(fc.forward(Var(Tensor::zeros({}))), ShapeError, "linear", "[]");
  LayerNorm ln({.dim = 4});
  REQUIRE_ERROR(ln.forward(Var(Tensor::zeros({2, 3}))), ShapeError, "LayerNorm", "[2, 3]", "4");
  REQUIRE_ERROR(mse_loss(Var(Tensor::zeros({3})), Var(Tensor::zeros({3, 1}))), ShapeError, "mse_loss", "[3]",
                "[3, 1]");
  REQUIRE_ERROR(Linear({.in = -1, .out = 2}), ValueError, "Linear", "-1");
  REQUIRE_ERROR(Linear({.in = 1, .out = 2, .dtype = DType::i64}), DTypeError, "Linear", "i64");
  // Attention: a mask of the wrong shape, and a query that does not fit the memory.
  BahdanauAttention attn({.query_dim = 3, .key_dim = 4, .attn_dim = 5}, gen);
  Var s(Tensor::zeros({2, 3})), h(Tensor::zeros({2, 6, 4}));
  REQUIRE_ERROR(attn.forward(s, h, Tensor::ones({2, 5}, DType::boolean)), ShapeError, "BahdanauAttention", "mask",
                "[2, 5]", "[2, 6, 4]");
  REQUIRE_ERROR(attn.forward(Var(Tensor::zeros({3, 3})), h), ShapeError, "BahdanauAttention", "[3, 3]",
                "[2, 6, 4]");
}

TEST_CASE("numerical safety: a fully masked attention row gives zeros and zero gradient", "[nn][bad_input]") {
  // Row 0 attends to its first two positions; row 1 has no real position at all.
  Var e(Tensor::from_vector(std::vector<double>{1e4, -1e4, 3.0, 0.5, 2.0, -7.0}, {2, 3}, DType::f64), true);
  Tensor mask = Tensor::from_vector(std::vector<double>{1, 1, 0, 0, 0, 0}, {2, 3}, DType::boolean);
  Var alpha = masked_softmax(e, mask);
  REQUIRE(alpha.value().to_vector() == std::vector<double>{1, 0, 0, 0, 0, 0});
  backward(sum(mul(alpha, Var(Tensor::arange(0, 6, 1, DType::f64).reshape({2, 3})))));
  for (double g : e.grad().to_vector()) REQUIRE(g == 0.0);  // saturated row 0, empty row 1
}

TEST_CASE("bad input: an optimizer given a parameter twice names it and both entries", "[nn][bad_input]") {
  Generator gen(3);
  Linear fc({.in = 3, .out = 2}, gen);
  std::vector<Var> params = fc.parameters();
  std::vector<Var> twice = {params[0], params[1], params[0]};
  REQUIRE_ERROR(SGD(twice, {.lr = 0.1}), ValueError, "SGD", "'weight'", "[2, 3]", "twice", "#0", "#2");
  REQUIRE_ERROR(Adam(twice), ValueError, "Adam", "'weight'", "twice");
  REQUIRE_ERROR(AdamW(twice), ValueError, "AdamW", "'weight'", "twice");
  // An alias (a copy of the handle) is the same parameter.
  Var alias = params[1];
  REQUIRE_ERROR(SGD({params[1], alias}, {.lr = 0.1}), ValueError, "SGD", "'bias'", "#0", "#1");
  // The other malformed lists.
  REQUIRE_ERROR(SGD({}, {.lr = 0.1}), ValueError, "SGD", "empty");
  REQUIRE_ERROR(SGD({Var(Tensor::zeros({2}, DType::i64))}, {.lr = 0.1}), DTypeError, "SGD", "i64");
  REQUIRE_ERROR(SGD({mul(params[0], 2.0)}, {.lr = 0.1}), ValueError, "SGD", "leaf");
  REQUIRE_ERROR(SGD(params, {.lr = -1.0}), ValueError, "SGD", "lr", "-1");
  REQUIRE_ERROR(Adam(params, {.lr = std::nan("")}), ValueError, "Adam", "lr");
  REQUIRE_ERROR(Adam(params, {.beta1 = 1.5}), ValueError, "Adam", "beta1");
  // A gradient of another dtype is caught at step(), before any update.
  SGD sgd(params, {.lr = 0.1});
  const std::vector<double> before = params[0].value().to_vector();
  params[0].set_grad(Tensor::ones({2, 3}, DType::f64));
  REQUIRE_ERROR(sgd.step(), DTypeError, "SGD", "'weight'", "f32", "f64");
  REQUIRE(params[0].value().to_vector() == before);
}

TEST_CASE("bad input: loading a checkpoint into a module of another shape changes nothing",
          "[nn][bad_input]") {
  Generator gen(4);
  ScratchFile file("linear_3_4.safetensors");
  Linear small({.in = 3, .out = 4}, gen);
  save(small, file.path);

  SECTION("another shape: names the parameter, both shapes and the file") {
    Linear other({.in = 3, .out = 5}, gen);
    const std::vector<double> before = other.parameters()[0].value().to_vector();
    REQUIRE_ERROR(load(other, file.path), CheckpointError, file.path, "'weight'", "[5, 3]", "[4, 3]");
    REQUIRE(other.parameters()[0].value().to_vector() == before);
  }
  SECTION("another dtype") {
    Linear wide({.in = 3, .out = 4, .dtype = DType::f64}, gen);
    REQUIRE_ERROR(load(wide, file.path), CheckpointError, file.path, "'weight'", "F64", "F32");
  }
  SECTION("names missing or unexpected") {
    Linear no_bias({.in = 3, .out = 4, .bias = false}, gen);
    REQUIRE_ERROR(load(no_bias, file.path), CheckpointError, file.path, "not in the module: bias");
    Embedding emb({.num = 4, .dim = 3}, gen);
    REQUIRE_ERROR(load(emb, file.path), CheckpointError, file.path, "Embedding", "not in the module: bias");
  }
  SECTION("a file that is not there, or not a checkpoint") {
    REQUIRE_ERROR(load(small, file.path + ".missing"), CheckpointError, ".missing", "cannot open");
    ScratchFile junk("junk.safetensors");
    {
      std::FILE* f = std::fopen(junk.path.c_str(), "wb");
      REQUIRE(f);
      std::fputs("not a checkpoint", f);
      std::fclose(f);
    }
    REQUIRE_ERROR(load(small, junk.path), CheckpointError, junk.path, "header length");
  }
  SECTION("a checkpoint that cannot be written names the path") {
    REQUIRE_ERROR(save(small, "/proc/forbidden/model.safetensors"), CheckpointError,
                  "/proc/forbidden/model.safetensors", "cannot open for writing");
  }
  SECTION("the right module loads, as a control") {
    Linear same({.in = 3, .out = 4}, gen);
    load(same, file.path);
    REQUIRE(same.parameters()[0].value().to_vector() == small.parameters()[0].value().to_vector());
  }
}
