#pragma once
// Gradient checks of whole modules, with respect to their inputs and their parameters, for
// `lumen gradcheck` and lesson 00. Each case's op is the module's class name ("GRUCell").
#include <vector>

#include "autograd/gradcheck_catalog.h"

namespace lumen::nn {

// RNNCell, GRUCell, LSTMCell, Encoder, BahdanauAttention, LuongAttention, SoftAttention, Seq2Seq.
std::vector<GradcheckCase> sequence_gradcheck_cases();
// ScaledDotProductAttention, MultiHeadAttention, FeedForward, TransformerEncoderBlock,
// TransformerDecoderBlock.
std::vector<GradcheckCase> transformer_gradcheck_cases();

}  // namespace lumen::nn
