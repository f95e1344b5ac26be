// The synthetic scenes of lessons 02 and 07: shapes, colours, cells, determinism.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include "lessons/common/shapes.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

float pixel(const Scene& s, int c, int x, int y) {
  return s.pixels[static_cast<size_t>(c * kSceneSize * kSceneSize + y * kSceneSize + x)];
}

SceneObject make(ShapeKind kind, ShapeColour colour, int cx, int cy, int half) {
  return {kind, colour, cx, cy, half, (cy / kSceneCell) * kSceneGrid + cx / kSceneCell};
}

}  // namespace

TEST_CASE("shape names and colours", "[lesson]") {
  REQUIRE(kind_name(ShapeKind::circle) == "circle");
  REQUIRE(kind_name(ShapeKind::triangle) == "triangle");
  REQUIRE(colour_name(ShapeColour::green) == "green");
  float rgb[3];
  colour_rgb(ShapeColour::blue, rgb);
  REQUIRE(rgb[2] > rgb[0]);
  REQUIRE(rgb[2] > rgb[1]);
  REQUIRE_THROWS_WITH(colour_rgb(static_cast<ShapeColour>(7), rgb), Catch::Contains("colour_rgb") && Catch::Contains("7"));
}

TEST_CASE("object_covers draws a circle, a square and an upward triangle", "[lesson]") {
  const SceneObject circle = make(ShapeKind::circle, ShapeColour::red, 10, 10, 4);
  REQUIRE(object_covers(circle, 10, 10));
  REQUIRE(object_covers(circle, 14, 10));   // on the radius
  REQUIRE(!object_covers(circle, 14, 14));  // the box's corner is outside the circle
  const SceneObject square = make(ShapeKind::square, ShapeColour::red, 10, 10, 4);
  REQUIRE(object_covers(square, 14, 14));
  REQUIRE(!object_covers(square, 15, 10));
  const SceneObject tri = make(ShapeKind::triangle, ShapeColour::red, 10, 10, 4);
  REQUIRE(object_covers(tri, 10, 6));    // apex
  REQUIRE(!object_covers(tri, 11, 6));   // the apex row is one pixel wide
  REQUIRE(object_covers(tri, 6, 14));    // base corners
  REQUIRE(object_covers(tri, 14, 14));
  REQUIRE(!object_covers(tri, 6, 10));   // halfway up it is only half as wide
}

TEST_CASE("object_in_cell finds the cells a shape touches", "[lesson]") {
  // A square spanning columns 5..13 and rows 5..13 touches cells 0, 1, 4, 5 only.
  const SceneObject sq = make(ShapeKind::square, ShapeColour::green, 9, 9, 4);
  REQUIRE(sq.cell == 5);
  std::set<int> cells;
  for (int c = 0; c < kSceneCells; ++c)
    if (object_in_cell(sq, c)) cells.insert(c);
  REQUIRE(cells == std::set<int>{0, 1, 4, 5});
  REQUIRE_THROWS_AS(object_in_cell(sq, 16), IndexError);
  REQUIRE_THROWS_WITH(object_in_cell(sq, -1), Catch::Contains("object_in_cell") && Catch::Contains("-1"));
}

TEST_CASE("random scenes: distinct kinds, sorted, apart, painted in their colour", "[lesson]") {
  Generator gen(7);
  int twos = 0, threes = 0;
  for (int i = 0; i < 300; ++i) {
    const Scene s = random_scene(gen);
    const size_t n = s.objects.size();
    REQUIRE((n == 2 || n == 3));
    (n == 2 ? twos : threes)++;
    REQUIRE(s.pixels.size() == static_cast<size_t>(3 * kSceneSize * kSceneSize));
    std::set<int> kinds;
    for (size_t a = 0; a < n; ++a) {
      const SceneObject& o = s.objects[a];
      kinds.insert(static_cast<int>(o.kind));
      REQUIRE(o.half >= 4);
      REQUIRE(o.half <= 6);
      REQUIRE(o.cx - o.half >= 0);
      REQUIRE(o.cx + o.half < kSceneSize);
      REQUIRE(o.cy - o.half >= 0);
      REQUIRE(o.cy + o.half < kSceneSize);
      REQUIRE(o.cell == (o.cy / 8) * 4 + o.cx / 8);
      REQUIRE(object_in_cell(o, o.cell));
      if (a > 0) REQUIRE(o.cx >= s.objects[a - 1].cx + 3);
    }
    REQUIRE(kinds.size() == n);
    // Every pixel is either background white or the colour of the one object covering it.
    for (int y = 0; y < kSceneSize; ++y)
      for (int x = 0; x < kSceneSize; ++x) {
        int owners = 0;
        float want[3] = {1, 1, 1};
        for (const SceneObject& o : s.objects)
          if (object_covers(o, x, y)) {
            ++owners;
            colour_rgb(o.colour, want);
          }
        REQUIRE(owners <= 1);
        for (int c = 0; c < 3; ++c) REQUIRE(pixel(s, c, x, y) == want[c]);
      }
  }
  REQUIRE(twos > 100);
  REQUIRE(threes > 100);
}

TEST_CASE("random scenes may repeat kinds when asked, still apart and sorted", "[lesson]") {
  Generator gen(5);
  int repeats = 0;
  for (int i = 0; i < 200; ++i) {
    const Scene s = random_scene(gen, 3, false);
    REQUIRE(s.objects.size() == 3);
    std::set<int> kinds;
    for (const SceneObject& o : s.objects) kinds.insert(static_cast<int>(o.kind));
    repeats += kinds.size() < 3;
    for (size_t a = 1; a < 3; ++a) REQUIRE(s.objects[a].cx >= s.objects[a - 1].cx + 3);
    for (int y = 0; y < kSceneSize; ++y)
      for (int x = 0; x < kSceneSize; ++x) {
        int owners = 0;
        for (const SceneObject& o : s.objects) owners += object_covers(o, x, y);
        REQUIRE(owners <= 1);
      }
  }
  // 3 kinds drawn independently repeat with probability 1 - 3!/27 = 7/9.
  REQUIRE(repeats > 120);
  REQUIRE(repeats < 190);
}

TEST_CASE("random scenes are deterministic and count-checked", "[lesson]") {
  Generator a(3), b(3);
  for (int i = 0; i < 20; ++i) {
    const Scene sa = random_scene(a, 3), sb = random_scene(b, 3);
    REQUIRE(sa.pixels == sb.pixels);
    REQUIRE(sa.objects.size() == 3);
  }
  REQUIRE_THROWS_AS(random_scene(a, 0), ValueError);
  REQUIRE_THROWS_WITH(random_scene(a, 4), Catch::Contains("random_scene") && Catch::Contains("4"));
}

TEST_CASE("scenes_tensor stacks channels-first images, and scene_rgb_hwc moves channels last", "[lesson]") {
  Generator gen(11);
  const Scene s0 = random_scene(gen), s1 = random_scene(gen);
  const Tensor x = scenes_tensor({s0, s1});
  REQUIRE(x.shape() == Shape{2, 3, kSceneSize, kSceneSize});
  REQUIRE(x.dtype() == DType::f32);
  const std::vector<double> v = x.to_vector();
  const size_t per = s0.pixels.size();
  for (size_t i = 0; i < per; i += 97) {
    REQUIRE(v[i] == Approx(s0.pixels[i]));
    REQUIRE(v[per + i] == Approx(s1.pixels[i]));
  }
  const std::vector<float> hwc = scene_rgb_hwc(s1);
  const SceneObject& o = s1.objects[0];
  for (int c = 0; c < 3; ++c)
    REQUIRE(hwc[static_cast<size_t>((o.cy * kSceneSize + o.cx) * 3 + c)] == pixel(s1, c, o.cx, o.cy));
  REQUIRE_THROWS_WITH(scenes_tensor({}), Catch::Contains("scenes_tensor"));
  Scene bad;
  bad.pixels.resize(5);
  REQUIRE_THROWS_WITH(scenes_tensor({bad}), Catch::Contains("scenes_tensor") && Catch::Contains("5"));
}
