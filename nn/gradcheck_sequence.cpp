#include "nn/gradcheck_modules.h"

namespace lumen::nn {

// Filled in by the sequence-model modules (nn/rnn.h, nn/attention.h).
std::vector<GradcheckCase> sequence_gradcheck_cases() { return {}; }

}  // namespace lumen::nn
