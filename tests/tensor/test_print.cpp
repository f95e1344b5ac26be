// Printing: exact expected strings, written out by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tensor/print.h"
#include "tensor/tensor.h"

using namespace lumen;

namespace {

Tensor f32(std::vector<double> v, const Shape& shape) { return Tensor::from_vector(v, shape, DType::f32); }

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("print: floats line up with 4 decimals", "[tensor]") {
  REQUIRE(to_string(f32({1, 2, 3, 4}, {2, 2})) ==
          "tensor([[ 1.0000,  2.0000],\n"
          "        [ 3.0000,  4.0000]], shape=[2, 2], dtype=f32)");
  REQUIRE(to_string(Tensor::from_vector(std::vector<double>{1, -2.5, 10.125, 1.0 / 3}, {2, 2}, DType::f64)) ==
          "tensor([[  1.0000,  -2.5000],\n"
          "        [ 10.1250,   0.3333]], shape=[2, 2], dtype=f64)");
  REQUIRE(to_string(f32({0.5, -0.25}, {2})) == "tensor([ 0.5000, -0.2500], shape=[2], dtype=f32)");
  REQUIRE(to_string(f32({7}, {1, 1})) == "tensor([[ 7.0000]], shape=[1, 1], dtype=f32)");
}

TEST_CASE("print: scalars, undefined and empty tensors", "[tensor]") {
  REQUIRE(to_string(Tensor::scalar(3.5)) == "tensor(3.5000, dtype=f32)");
  REQUIRE(to_string(Tensor::scalar(-3.5, DType::f64)) == "tensor(-3.5000, dtype=f64)");
  REQUIRE(to_string(Tensor::scalar(42, DType::i64)) == "tensor(42, dtype=i64)");
  REQUIRE(to_string(Tensor::scalar(1, DType::boolean)) == "tensor(true, dtype=bool)");
  REQUIRE(to_string(Tensor()) == "tensor(undefined)");
  REQUIRE(to_string(Tensor::zeros({0, 3})) == "tensor([], shape=[0, 3], dtype=f32)");
  REQUIRE(to_string(Tensor::zeros({0}, DType::i64)) == "tensor([], shape=[0], dtype=i64)");
}

TEST_CASE("print: integers, bools and nesting", "[tensor]") {
  REQUIRE(to_string(Tensor::arange(8).reshape({2, 2, 2})) ==
          "tensor([[[0, 1],\n"
          "         [2, 3]],\n"
          "\n"
          "        [[4, 5],\n"
          "         [6, 7]]], shape=[2, 2, 2], dtype=i64)");
  REQUIRE(to_string(Tensor::from_vector(std::vector<int64_t>{-3, 10, 200}, {3})) ==
          "tensor([ -3,  10, 200], shape=[3], dtype=i64)");
  REQUIRE(to_string(Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {2, 2}, DType::boolean)) ==
          "tensor([[ true, false],\n"
          "        [false,  true]], shape=[2, 2], dtype=bool)");
  // A 4-D tensor: two blank lines between the outermost blocks.
  std::string s = to_string(Tensor::arange(16).reshape({2, 2, 2, 2}));
  REQUIRE(count(s, "]]],\n\n\n") == 1);
  REQUIRE(count(s, "]],\n\n") == 3);
}

TEST_CASE("print: views print their own elements", "[tensor]") {
  Tensor m = Tensor::arange(6).reshape({2, 3});
  REQUIRE(to_string(m.transpose(0, 1)) ==
          "tensor([[0, 3],\n"
          "        [1, 4],\n"
          "        [2, 5]], shape=[3, 2], dtype=i64)");
  REQUIRE(to_string(m.slice(1, 0, 3, 2)) ==
          "tensor([[0, 2],\n"
          "        [3, 5]], shape=[2, 2], dtype=i64)");
  REQUIRE(to_string(m.select(0, 1)) == "tensor([3, 4, 5], shape=[3], dtype=i64)");
  REQUIRE(to_string(Tensor::scalar(1.5).expand({2})) == "tensor([ 1.5000,  1.5000], shape=[2], dtype=f32)");
}

TEST_CASE("print: scientific notation for very large, very small or wide-ranging floats", "[tensor]") {
  REQUIRE(to_string(f32({1e-5, 1, 1e10}, {3})) ==
          "tensor([ 1.0000e-05,  1.0000e+00,  1.0000e+10], shape=[3], dtype=f32)");
  REQUIRE(to_string(Tensor::from_vector(std::vector<double>{0.001, 2}, {2}, DType::f64)) ==
          "tensor([ 1.0000e-03,  2.0000e+00], shape=[2], dtype=f64)");
  REQUIRE(to_string(Tensor::from_vector(std::vector<double>{-2e9}, {1}, DType::f64)) ==
          "tensor([-2.0000e+09], shape=[1], dtype=f64)");
  // Whole numbers stay fixed-point unless huge, and zero does not count towards the range.
  REQUIRE(to_string(f32({0, 1, 2000}, {3})) == "tensor([    0.0000,     1.0000,  2000.0000], shape=[3], dtype=f32)");
  REQUIRE(to_string(f32({0.5, 0.001}, {2})) == "tensor([ 0.5000,  0.0010], shape=[2], dtype=f32)");
  REQUIRE(to_string(f32({0.5, 0.00001}, {2})) == "tensor([ 5.0000e-01,  1.0000e-05], shape=[2], dtype=f32)");
  REQUIRE(to_string(f32({0, 0}, {2})) == "tensor([ 0.0000,  0.0000], shape=[2], dtype=f32)");
}

TEST_CASE("print: NaN and infinities", "[tensor]") {
  REQUIRE(to_string(f32({NAN, INFINITY, -INFINITY, 1}, {4})) ==
          "tensor([    nan,     inf,    -inf,  1.0000], shape=[4], dtype=f32)");
  // Non-finite values do not push the finite ones into scientific notation.
  REQUIRE(to_string(f32({INFINITY, 0.5}, {2})) == "tensor([    inf,  0.5000], shape=[2], dtype=f32)");
}

TEST_CASE("print: long rows wrap at 80 columns", "[tensor]") {
  std::string s = to_string(Tensor::arange(30));
  REQUIRE(s ==
          "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
          "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29], shape=[30], dtype=i64)");
  std::string f = to_string(Tensor::arange(0, 12, 1, DType::f32));
  REQUIRE(f ==
          "tensor([  0.0000,   1.0000,   2.0000,   3.0000,   4.0000,   5.0000,   6.0000,\n"
          "          7.0000,   8.0000,   9.0000,  10.0000,  11.0000], shape=[12], dtype=f32)");
}

TEST_CASE("print: more than 1000 elements are summarised", "[tensor]") {
  std::string s = to_string(Tensor::arange(8000).reshape({8, 1000}));
  REQUIRE(s ==
          "tensor([[   0,    1,    2,  ...,  997,  998,  999],\n"
          "        [1000, 1001, 1002,  ..., 1997, 1998, 1999],\n"
          "        [2000, 2001, 2002,  ..., 2997, 2998, 2999],\n"
          "        ...,\n"
          "        [5000, 5001, 5002,  ..., 5997, 5998, 5999],\n"
          "        [6000, 6001, 6002,  ..., 6997, 6998, 6999],\n"
          "        [7000, 7001, 7002,  ..., 7997, 7998, 7999]], shape=[8, 1000], dtype=i64)");
  // Exactly 1000 elements: printed in full.
  std::string full = to_string(Tensor::arange(1000));
  REQUIRE(full.find("...") == std::string::npos);
  REQUIRE(full.find(" 999]") != std::string::npos);
  // 1001 elements in 1-D.
  REQUIRE(to_string(Tensor::arange(1001)) ==
          "tensor([   0,    1,    2,  ...,  998,  999, 1000], shape=[1001], dtype=i64)");
  // Summarising chooses the float format from the shown elements only.
  Tensor big = Tensor::full({2000}, 0.5);
  big.slice(0, 1000, 1001).fill_(1e12);  // hidden in the middle
  REQUIRE(to_string(big) ==
          "tensor([ 0.5000,  0.5000,  0.5000,  ...,  0.5000,  0.5000,  0.5000], shape=[2000], dtype=f32)");
}

TEST_CASE("print: fmt formatters for Tensor and Dims", "[tensor]") {
  Tensor t = f32({1, 2}, {2});
  REQUIRE(fmt::format("{}", t) == to_string(t));
  REQUIRE(fmt::format("x = {}!", Tensor::scalar(2, DType::i64)) == "x = tensor(2, dtype=i64)!");
  REQUIRE(fmt::format("{}", Tensor()) == "tensor(undefined)");
  REQUIRE(fmt::format("{}", Shape{2, 3}) == "[2, 3]");
  REQUIRE(fmt::format("{}", Shape{}) == "[]");
  REQUIRE(fmt::format("{}", t.strides()) == "[1]");
  REQUIRE(fmt::format("{:>8}", Shape{2, 3}) == "  [2, 3]");
}
