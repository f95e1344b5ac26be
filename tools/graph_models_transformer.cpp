#include "tools/graph_models.h"

namespace lumen::tools {

// self-attention, multi-head-attention, transformer-block and gpt come with the transformers.
std::vector<GraphModel> transformer_graph_models() { return {}; }

}  // namespace lumen::tools
