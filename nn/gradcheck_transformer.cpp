#include "nn/gradcheck_modules.h"

namespace lumen::nn {

// Filled in by the transformer modules (nn/transformer.h).
std::vector<GradcheckCase> transformer_gradcheck_cases() { return {}; }

}  // namespace lumen::nn
