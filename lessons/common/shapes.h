#pragma once
// Synthetic scenes for the visual lessons (02 captioning, 07 visual question answering): a
// 32 x 32 RGB image on a white background holding 2 or 3 coloured shapes. Every scene has
// different kinds of shape (at most one circle, one square, one triangle), so "the circle"
// always names one object; colours may repeat.
//
// The image is cut into a 4 x 4 grid of 8 x 8 cells, the L = 16 locations a CNN's feature map
// attends over. Cell index = row * 4 + col, row 0 at the top.
//
//   Scene s = random_scene(gen);          // objects sorted left to right
//   Tensor x = scenes_tensor({s, ...});   // f32 [B, 3, 32, 32]
//   s.objects[0].kind, .colour, .cell     // what and where
//   object_in_cell(s.objects[0], c)       // does any pixel of it lie in cell c?
//
// Everything is drawn from a lumen Generator, so the same seed gives the same scenes on every
// machine.
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace lumen::lessons {

inline constexpr int kSceneSize = 32;                     // image height and width in pixels
inline constexpr int kSceneGrid = 4;                      // cells per side
inline constexpr int kSceneCell = kSceneSize / kSceneGrid;  // 8 pixels per cell side
inline constexpr int kSceneCells = kSceneGrid * kSceneGrid;  // L = 16

enum class ShapeKind { circle = 0, square = 1, triangle = 2 };
enum class ShapeColour { red = 0, green = 1, blue = 2 };
inline constexpr int kShapeKinds = 3;
inline constexpr int kShapeColours = 3;

// "circle", "square", "triangle" / "red", "green", "blue".
std::string kind_name(ShapeKind kind);
std::string colour_name(ShapeColour colour);
// The colour's RGB in [0, 1] as drawn in the image.
void colour_rgb(ShapeColour colour, float rgb[3]);

struct SceneObject {
  ShapeKind kind;
  ShapeColour colour;
  int cx, cy;  // centre pixel (column, row)
  int half;    // half its width: the shape spans [cx - half, cx + half] in both directions
  int cell;    // the grid cell holding the centre: (cy / 8) * 4 + cx / 8
};

// Whether pixel (x = column, y = row) belongs to the object.
bool object_covers(const SceneObject& object, int x, int y);
// Whether at least one pixel of the object lies in grid cell `cell` (0..15).
bool object_in_cell(const SceneObject& object, int cell);

struct Scene {
  std::vector<SceneObject> objects;  // sorted left to right by centre column
  std::vector<float> pixels;         // [3, 32, 32] channels first, values in [0, 1]
};

// A scene of `count` objects: distinct kinds, random colours, sizes (half 4..6) and positions.
// Objects never overlap (their boxes keep a gap of at least one pixel), and centre columns
// differ by at least 3 pixels, so "left to right" is never a tie. Throws lumen::ValueError
// unless 1 <= count <= 3. With distinct_kinds = false each kind is drawn independently (two
// circles may share a picture), and a caption cannot name the last kind by elimination.
Scene random_scene(Generator& gen, int count, bool distinct_kinds = true);
// A scene of 2 or 3 objects (each equally likely).
Scene random_scene(Generator& gen);
// Draws the objects onto a white image; random_scene calls it. Later objects paint over earlier
// ones (they never overlap in random scenes).
std::vector<float> render_scene(const std::vector<SceneObject>& objects);

// The images stacked: f32 [B, 3, 32, 32]. Throws lumen::ValueError for an empty list.
Tensor scenes_tensor(const std::vector<Scene>& scenes);
// The image as h x w x 3 (row-major, channels last), what svg.h's attention_overlay draws.
std::vector<float> scene_rgb_hwc(const Scene& scene);

}  // namespace lumen::lessons
