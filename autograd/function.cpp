// The check that turns a custom op's wrong backward into a message naming the op, rather than a
// shape error deep inside the engine or, worse, a wrong gradient added silently.
#include "autograd/function.h"

#include <string>

namespace lumen {

void check_custom_grads(const char* op, const std::vector<Var>& inputs, const std::vector<Tensor>& grads) {
  const std::string who = "custom op '" + std::string(op) + "': ";
  if (grads.size() != inputs.size())
    throw GraphError(who + "backward returned " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(inputs.size()) + " inputs (return one per input, an undefined "
                     "Tensor for an input without a gradient)");
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined()) continue;
    const Tensor& x = inputs[i].value();
    const std::string k = std::to_string(i);
    if (g.shape() != x.shape())
      throw GraphError(who + "gradient " + k + " has shape " + shape_str(g.shape()) + " but input " + k +
                       " has shape " + shape_str(x.shape()));
    if (g.dtype() != x.dtype())
      throw GraphError(who + "gradient " + k + " is " + std::string(dtype_name(g.dtype())) + " but input " + k +
                       " is " + std::string(dtype_name(x.dtype())));
  }
}

}  // namespace lumen
