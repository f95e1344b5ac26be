#pragma once
// The gradient exercises: for each, where it lives, what it computes, the shapes it is checked
// on, the same forward written with built-in Var ops (the reference), and the wrong gradients
// learners typically write, so the checker can name them.
//
// Nothing here depends on a learner's code: the custom ops themselves come in separately as
// ExerciseOp (lessons/common/exercise.h), so the same entry checks the learner's version, the
// reference solution and the wrong-answer fixtures of the tests.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/tensor.h"

namespace lumen::lessons {

// The patterns the checker recognises in a wrong gradient.
enum class HintKind {
  sign,                  // the right gradient times -1
  factor_two,            // times 2 or 1/2
  scale,                 // times some other constant (a missing 1/sqrt(d), say)
  transposed,            // the transpose of the right gradient, or a product missing a transpose
  broadcast_not_summed,  // a broadcast input's gradient left unsummed (or averaged)
  diagonal_only,         // only the diagonal of a softmax Jacobian: the off-diagonal term is missing
  missing_term,          // a term of the chain rule left out
  dropped_axis,          // a sum or mean without keepdim, so shapes no longer line up
  other,                 // another recognised mistake
};
const char* hint_kind_name(HintKind kind);

// A wrong gradient learners often write. `grads` computes it from the inputs, dL/dout and the
// right gradients (`truth`), returning one tensor per input, undefined where it agrees with the
// truth.
struct KnownMistake {
  HintKind kind;
  std::string text;  // what the mistake is and how to fix it
  std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const Tensor& grad,
                                    const std::vector<Tensor>& truth)>
      grads;
};

struct ExerciseInfo {
  std::string name;     // "softmax": what `lumen exercise NAME` takes
  std::string lesson;   // "08_attention_layer_qkv"
  std::string file;     // "lessons/08_attention_layer_qkv/exercise_softmax.h", from the repository root
  std::string forward;  // the forward math, one line
  std::string derive;   // what the learner derives, one line
  std::vector<std::string> inputs;  // forward's arguments, in order: "x", "W_xh"
  // Inputs that forward broadcasts or shares across rows: their gradients are sums, and an
  // average in its place (the right gradient divided by a count) is recognised as such.
  std::vector<bool> summed;
  // The input tensors (f64) for each checked shape.
  std::function<std::vector<std::vector<Tensor>>()> cases;
  // The same forward in built-in Var ops, whose backward gives the right gradients.
  VarFunction reference;
  std::vector<KnownMistake> mistakes;
};

// Every exercise, in lesson order.
const std::vector<ExerciseInfo>& exercise_catalog();
// The exercise called `name`, or null.
const ExerciseInfo* find_exercise(std::string_view name);

}  // namespace lumen::lessons
