// The one file of the tool that includes the learner's exercise files, so that after an edit
// `lumen exercise` recompiles just this file and relinks.
#include "tools/exercise_ops.h"

#include "lessons/00_engine_tour/exercise_mul.h"
#include "lessons/00_engine_tour/exercise_tanh.h"
#include "lessons/01_seq2seq_bottleneck/exercise_gru_cell.h"
#include "lessons/01_seq2seq_bottleneck/exercise_rnn_cell.h"
#include "lessons/04_bahdanau_attention/exercise_additive_score.h"
#include "lessons/08_attention_layer_qkv/exercise_causal_attention.h"
#include "lessons/08_attention_layer_qkv/exercise_softmax.h"
#include "lessons/14_transformer_block/exercise_layer_norm.h"
#include "lessons/solutions/additive_score.h"
#include "lessons/solutions/causal_attention.h"
#include "lessons/solutions/gru_cell.h"
#include "lessons/solutions/layer_norm.h"
#include "lessons/solutions/mul.h"
#include "lessons/solutions/rnn_cell.h"
#include "lessons/solutions/softmax.h"
#include "lessons/solutions/tanh.h"

namespace lumen::tools {
namespace {

template <class Learner, class Solution>
ExerciseOps bind() {
  return {Learner::name, lessons::bind_exercise_op<Learner>(), lessons::bind_exercise_op<Solution>()};
}

}  // namespace

const std::vector<ExerciseOps>& exercise_ops() {
  static const std::vector<ExerciseOps> ops = {
      bind<exercises::Tanh, solutions::Tanh>(),
      bind<exercises::Mul, solutions::Mul>(),
      bind<exercises::RnnCell, solutions::RnnCell>(),
      bind<exercises::GruCell, solutions::GruCell>(),
      bind<exercises::AdditiveScore, solutions::AdditiveScore>(),
      bind<exercises::Softmax, solutions::Softmax>(),
      bind<exercises::CausalAttention, solutions::CausalAttention>(),
      bind<exercises::LayerNorm, solutions::LayerNorm>(),
  };
  return ops;
}

}  // namespace lumen::tools
