// rows_of: a 2-D tensor as rows, in row-major order whatever its strides.
#include <catch2/catch.hpp>

#include <vector>

#include "lessons/common/rows.h"
#include "tensor/error.h"

using namespace lumen;

TEST_CASE("rows_of reads a transposed view row by row, and refuses other ranks", "[lessons]") {
  const Tensor m = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  REQUIRE(lessons::rows_of(m) == std::vector<std::vector<double>>{{1, 2, 3}, {4, 5, 6}});
  REQUIRE(lessons::rows_of(m.mT()) == std::vector<std::vector<double>>{{1, 4}, {2, 5}, {3, 6}});
  REQUIRE(lessons::rows_of(Tensor::zeros({0, 2}, DType::f32)).empty());
  REQUIRE_THROWS_AS(lessons::rows_of(m.reshape({6})), ShapeError);
  REQUIRE_THROWS_WITH(lessons::rows_of(m.reshape({6})), Catch::Contains("rows_of") && Catch::Contains("[6]"));
}

TEST_CASE("row_str prints a row with the given decimals", "[lessons]") {
  REQUIRE(lessons::row_str({0.7589, 0.1295, 0.1116}, 2) == "[0.76 0.13 0.11]");
  REQUIRE(lessons::row_str({-1.5}, 0) == "[-2]");
  REQUIRE(lessons::row_str({}, 3) == "[]");
}
