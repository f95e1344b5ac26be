#pragma once
// The built-in example models that `lumen graph` draws. Each builds its module (if any), runs a
// forward pass on fixed inputs, and returns the outputs to export. The model object stays alive
// with the outputs, since the graph's nodes point at its parameters.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace lumen::tools {

struct GraphExample {
  std::vector<Var> outputs;
  std::shared_ptr<void> keep_alive;  // the model, if any
};

struct GraphModel {
  std::string name;
  std::string description;
  std::function<GraphExample()> build;
};

// The models each part of the engine contributes (tools/graph_models_*.cpp).
std::vector<GraphModel> core_graph_models();
std::vector<GraphModel> sequence_graph_models();
std::vector<GraphModel> transformer_graph_models();

// Every built-in model, in the order `lumen graph --list` prints them.
const std::vector<GraphModel>& graph_models();
// Null if no model has this name.
const GraphModel* find_graph_model(const std::string& name);

}  // namespace lumen::tools
