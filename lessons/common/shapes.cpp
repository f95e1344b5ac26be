#include "lessons/common/shapes.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/error.h"

namespace lumen::lessons {

std::string kind_name(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::circle: return "circle";
    case ShapeKind::square: return "square";
    case ShapeKind::triangle: return "triangle";
  }
  throw ValueError("kind_name: unknown kind " + std::to_string(static_cast<int>(kind)));
}

std::string colour_name(ShapeColour colour) {
  switch (colour) {
    case ShapeColour::red: return "red";
    case ShapeColour::green: return "green";
    case ShapeColour::blue: return "blue";
  }
  throw ValueError("colour_name: unknown colour " + std::to_string(static_cast<int>(colour)));
}

void colour_rgb(ShapeColour colour, float rgb[3]) {
  // Saturated but not pure, so each colour still differs from the white background in every
  // channel it does not own.
  static const float table[kShapeColours][3] = {{0.9f, 0.1f, 0.1f}, {0.1f, 0.7f, 0.1f}, {0.1f, 0.2f, 0.9f}};
  const int c = static_cast<int>(colour);
  if (c < 0 || c >= kShapeColours) throw ValueError("colour_rgb: unknown colour " + std::to_string(c));
  std::copy(table[c], table[c] + 3, rgb);
}

bool object_covers(const SceneObject& o, int x, int y) {
  const int dx = x - o.cx, dy = y - o.cy;
  if (std::abs(dx) > o.half || std::abs(dy) > o.half) return false;
  switch (o.kind) {
    case ShapeKind::circle: return dx * dx + dy * dy <= o.half * o.half;
    case ShapeKind::square: return true;
    // Apex at the top, base along the bottom edge of the box: the row `down` pixels below the
    // apex is `down` pixels wide.
    case ShapeKind::triangle: return 2 * std::abs(dx) <= dy + o.half;
  }
  return false;
}

bool object_in_cell(const SceneObject& o, int cell) {
  if (cell < 0 || cell >= kSceneCells)
    throw IndexError("object_in_cell: cell " + std::to_string(cell) + " is outside [0, " +
                     std::to_string(kSceneCells) + ")");
  const int y0 = (cell / kSceneGrid) * kSceneCell, x0 = (cell % kSceneGrid) * kSceneCell;
  for (int y = y0; y < y0 + kSceneCell; ++y)
    for (int x = x0; x < x0 + kSceneCell; ++x)
      if (object_covers(o, x, y)) return true;
  return false;
}

std::vector<float> render_scene(const std::vector<SceneObject>& objects) {
  const int n = kSceneSize * kSceneSize;
  std::vector<float> pixels(static_cast<size_t>(3 * n), 1.0f);
  for (const SceneObject& o : objects) {
    float rgb[3];
    colour_rgb(o.colour, rgb);
    for (int y = std::max(0, o.cy - o.half); y <= std::min(kSceneSize - 1, o.cy + o.half); ++y)
      for (int x = std::max(0, o.cx - o.half); x <= std::min(kSceneSize - 1, o.cx + o.half); ++x)
        if (object_covers(o, x, y))
          for (int c = 0; c < 3; ++c) pixels[static_cast<size_t>(c * n + y * kSceneSize + x)] = rgb[c];
  }
  return pixels;
}

namespace {

// Boxes apart by at least one pixel, and centres at least 3 columns apart so the left-to-right
// order is plain to see.
bool fits(const SceneObject& a, const std::vector<SceneObject>& placed) {
  for (const SceneObject& b : placed) {
    const int reach = a.half + b.half + 1;
    const bool apart = std::abs(a.cx - b.cx) > reach || std::abs(a.cy - b.cy) > reach;
    if (!apart || std::abs(a.cx - b.cx) < 3) return false;
  }
  return true;
}

}  // namespace

Scene random_scene(Generator& gen, int count, bool distinct_kinds) {
  if (count < 1 || count > kShapeKinds)
    throw ValueError("random_scene: count must be in [1, " + std::to_string(kShapeKinds) + "], got " +
                     std::to_string(count));
  // Distinct kinds: the first `count` of a shuffled list (Fisher-Yates from the generator).
  int kinds[kShapeKinds] = {0, 1, 2};
  if (distinct_kinds)
    for (int i = kShapeKinds - 1; i > 0; --i) std::swap(kinds[i], kinds[gen.below(static_cast<uint64_t>(i + 1))]);
  else
    for (int i = 0; i < count; ++i) kinds[i] = static_cast<int>(gen.below(kShapeKinds));
  std::vector<SceneObject> objects;
  while (static_cast<int>(objects.size()) < count) {
    SceneObject o{};
    o.kind = static_cast<ShapeKind>(kinds[objects.size()]);
    o.colour = static_cast<ShapeColour>(gen.below(kShapeColours));
    o.half = 4 + static_cast<int>(gen.below(3));
    const uint64_t span = static_cast<uint64_t>(kSceneSize - 2 * o.half);
    // Rejection sampling; three objects of at most 13 x 13 pixels always fit in 32 x 32, and a
    // bad draw of the earlier objects is undone by starting the scene's positions over.
    bool placed = false;
    for (int attempt = 0; attempt < 50 && !placed; ++attempt) {
      o.cx = o.half + static_cast<int>(gen.below(span));
      o.cy = o.half + static_cast<int>(gen.below(span));
      placed = fits(o, objects);
    }
    if (!placed) {
      objects.clear();
      continue;
    }
    o.cell = (o.cy / kSceneCell) * kSceneGrid + o.cx / kSceneCell;
    objects.push_back(o);
  }
  std::sort(objects.begin(), objects.end(), [](const SceneObject& a, const SceneObject& b) { return a.cx < b.cx; });
  Scene scene;
  scene.pixels = render_scene(objects);
  scene.objects = std::move(objects);
  return scene;
}

Scene random_scene(Generator& gen) { return random_scene(gen, 2 + static_cast<int>(gen.below(2))); }

Tensor scenes_tensor(const std::vector<Scene>& scenes) {
  if (scenes.empty()) throw ValueError("scenes_tensor: no scenes");
  const size_t per = static_cast<size_t>(3 * kSceneSize * kSceneSize);
  std::vector<float> all;
  all.reserve(per * scenes.size());
  for (size_t i = 0; i < scenes.size(); ++i) {
    if (scenes[i].pixels.size() != per)
      throw ValueError("scenes_tensor: scene " + std::to_string(i) + " has " +
                       std::to_string(scenes[i].pixels.size()) + " values, expected " + std::to_string(per));
    all.insert(all.end(), scenes[i].pixels.begin(), scenes[i].pixels.end());
  }
  return Tensor::from_vector(all, {static_cast<int64_t>(scenes.size()), 3, kSceneSize, kSceneSize});
}

std::vector<float> scene_rgb_hwc(const Scene& scene) {
  const size_t n = static_cast<size_t>(kSceneSize * kSceneSize);
  std::vector<float> hwc(3 * n);
  for (size_t p = 0; p < n; ++p)
    for (size_t c = 0; c < 3; ++c) hwc[p * 3 + c] = scene.pixels[c * n + p];
  return hwc;
}

}  // namespace lumen::lessons
