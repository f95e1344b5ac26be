#pragma once
// Graph export: the graph autograd recorded, as Graphviz DOT or JSON, and rendered to SVG/PNG.
//
// Every op output and every leaf becomes a node labelled `op | shape | dtype` (with its name
// where one is known: a parameter's dotted path, "loss", "x"). Nodes are coloured by role, a
// legend explains the colours, edges carry the input slot and shape, and nodes recorded inside a
// module or a time step are drawn inside that scope's cluster. Ids are n0, n1, ... in
// topological order, so the same program writes byte-identical files.
#include <string>
#include <vector>

#include "autograd/var.h"

namespace lumen {

struct DotOptions {
  // Values of tensors with at most `max_value_elements` elements, and their gradients after a
  // backward with retain_graph, micrograd-style.
  bool show_values = false;
  int max_value_elements = 8;
  // What each node saved for backward, with its size in bytes.
  bool show_saved = false;
  // Draw the backward graph instead: the ops autograd runs to compute the gradients of the
  // outputs with respect to every leaf that requires grad, including the broadcast reductions
  // (sum_to). It runs a grad pass with create_graph on a retained graph and draws what that
  // pass recorded; leaves' .grad are not touched.
  bool backward = false;
  // Scopes ("encoder", "blocks.0") folded into one node each, showing their inputs and outputs.
  std::vector<std::string> collapse = {};
  // "LR" or "TB"; empty picks LR when the graph has time-step scopes, TB otherwise.
  std::string rankdir = "";
  std::string title = "";
  bool legend = true;
};

std::string to_dot(const std::vector<Var>& outputs, const DotOptions& options = {});
std::string to_json(const std::vector<Var>& outputs, const DotOptions& options = {});

// The module scopes present in the graph (every prefix of every node's scope), sorted.
std::vector<std::string> graph_scopes(const std::vector<Var>& outputs);

// Draws DOT text to `path` with Graphviz's `dot`: .svg or .png by the extension (.dot writes
// the text as is). Throws lumen::ValueError naming the path if dot is missing, fails, or the
// file cannot be written. Returns what dot printed on stderr (warnings), usually empty.
std::string render(const std::string& dot, const std::string& path);

}  // namespace lumen
