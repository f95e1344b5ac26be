#include "tools/graph_models.h"

namespace lumen::tools {

// rnn-step, gru-unrolled and bahdanau-step come with the sequence models.
std::vector<GraphModel> sequence_graph_models() { return {}; }

}  // namespace lumen::tools
