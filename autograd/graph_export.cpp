#include "autograd/graph_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "tensor/ops.h"

namespace lumen {
namespace {

// ---- the picture's vocabulary ----------------------------------------------------------------

struct Role {
  const char* name;
  const char* fill;
  const char* legend;
};
const Role kParameter{"parameter", "#FFE699", "parameter (requires grad)"};
const Role kInput{"input", "#BDD7EE", "input or constant"};
const Role kIntermediate{"intermediate", "#F2F2F2", "intermediate (op output)"};
const Role kOutput{"output", "#A9D18E", "output or loss"};
const Role kSaved{"saved", "#F4B183", "saved for backward"};
const Role kCollapsed{"collapsed", "#D9D2E9", "collapsed module"};

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string format_values(const Tensor& t, int max_elements) {
  if (!t.defined() || t.numel() > max_elements) return "";
  std::vector<double> v = t.to_vector();
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.4g}", i ? ", " : "", v[i]);
  return s + "]";
}

std::string bytes_str(size_t bytes) {
  if (bytes < 10 * 1024) return fmt::format("{} B", bytes);
  if (bytes < 10 * 1024 * 1024) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} MiB", bytes / (1024 * 1024));
}

// "decoder.attn" is inside "decoder" (and inside itself).
bool within(const std::string& scope, const std::string& outer) {
  return scope == outer || (scope.size() > outer.size() && scope.compare(0, outer.size(), outer) == 0 &&
                            scope[outer.size()] == '.');
}

// "a.b.c" -> {"a", "a.b", "a.b.c"}; "" -> {}.
std::vector<std::string> scope_prefixes(const std::string& scope) {
  std::vector<std::string> out;
  if (scope.empty()) return out;
  for (size_t dot = scope.find('.'); dot != std::string::npos; dot = scope.find('.', dot + 1))
    out.push_back(scope.substr(0, dot));
  out.push_back(scope);
  return out;
}

// ---- the graph as a list of nodes and edges -------------------------------------------------

struct GNode {
  std::string id;
  Var var;                 // the op's output, or the leaf
  const Node* op = nullptr;  // null for leaves
  const Role* role = &kIntermediate;
  std::string scope;       // the cluster it is drawn in
  std::string collapsed;   // for a collapsed scope's node: that scope
  std::vector<std::string> collapsed_in, collapsed_out;
  int collapsed_ops = 0;
};

struct GEdge {
  size_t from, to;
  std::string label;
  bool saved = false;  // a dashed "saved for backward" edge
};

struct Graph {
  std::vector<GNode> nodes;
  std::vector<GEdge> edges;
  std::string rankdir;
};

// The module path a parameter belongs to ("encoder.cell.weight_ih" -> "encoder.cell").
std::string module_of(const std::string& name) {
  size_t dot = name.rfind('.');
  return dot == std::string::npos ? "" : name.substr(0, dot);
}

// Walks from the outputs through the recorded nodes in post-order (inputs first), iteratively.
// `stop` marks Vars whose producers are not followed (drawn as leaves).
template <class Stop>
Graph collect(const std::vector<Var>& outputs, Stop stop) {
  Graph g;
  std::unordered_map<const Var::Impl*, size_t> index;
  struct Frame {
    Var var;
    size_t next_input;
  };
  for (const Var& out : outputs) {
    if (!out.defined() || index.count(out.impl().get())) continue;
    std::vector<Frame> stack{{out, 0}};
    std::set<const Var::Impl*> on_stack{out.impl().get()};
    while (!stack.empty()) {
      Frame& top = stack.back();
      const auto& node = top.var.node();
      bool expand = node && !node->released() && !stop(top.var);
      if (expand && top.next_input < node->inputs().size()) {
        const Var& in = node->input(top.next_input++);
        if (!index.count(in.impl().get()) && !on_stack.count(in.impl().get())) {
          on_stack.insert(in.impl().get());
          stack.push_back({in, 0});
        }
        continue;
      }
      GNode gn;
      gn.var = top.var;
      gn.op = expand ? node.get() : nullptr;
      index[top.var.impl().get()] = g.nodes.size();
      g.nodes.push_back(std::move(gn));
      on_stack.erase(top.var.impl().get());
      stack.pop_back();
    }
  }
  // Ids in this order, and the edges from every op's inputs.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    GNode& n = g.nodes[i];
    n.id = fmt::format("n{}", i);
    if (!n.op) continue;
    for (size_t slot = 0; slot < n.op->inputs().size(); ++slot) {
      const Var& in = n.op->input(slot);
      g.edges.push_back({index.at(in.impl().get()), i, fmt::format("{}: {}", slot, shape_str(in.shape()))});
    }
  }
  return g;
}

void assign_roles_and_scopes(Graph& g, const std::vector<Var>& outputs, const std::set<std::string>& op_scopes) {
  for (GNode& n : g.nodes) {
    if (n.op) {
      n.scope = n.op->scope();
      n.role = &kIntermediate;
    } else {
      n.role = n.var.requires_grad() ? &kParameter : &kInput;
      // A parameter sits in its module's cluster when that module ran in this graph.
      std::string module = module_of(n.var.name());
      if (!module.empty() && op_scopes.count(module)) n.scope = module;
    }
    for (const Var& out : outputs)
      if (out.same_as(n.var)) n.role = &kOutput;
  }
}

std::set<std::string> all_scopes(const Graph& g) {
  std::set<std::string> scopes;
  for (const GNode& n : g.nodes) {
    if (!n.op || n.op->scope().empty()) continue;
    for (const std::string& prefix : scope_prefixes(n.op->scope())) scopes.insert(prefix);
  }
  return scopes;
}

// Folds each collapsed scope into one node that lists the shapes going in and coming out.
void collapse_scopes(Graph& g, const std::vector<std::string>& collapse, const std::set<std::string>& scopes) {
  if (collapse.empty()) return;
  for (const std::string& c : collapse) {
    if (!scopes.count(c)) {
      std::string known;
      for (const std::string& s : scopes) known += (known.empty() ? "" : ", ") + s;
      throw ValueError("collapse: no scope named '" + c + "' in this graph (scopes: " +
                       (known.empty() ? "none" : known) + ")");
    }
  }
  // Which collapsed scope (if any) each node falls in.
  std::vector<int> owner(g.nodes.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (size_t k = 0; k < collapse.size(); ++k)
      if (!g.nodes[i].scope.empty() && within(g.nodes[i].scope, collapse[k])) owner[i] = static_cast<int>(k);

  Graph out;
  out.rankdir = g.rankdir;
  std::vector<size_t> remap(g.nodes.size());
  std::map<int, size_t> collapsed_node;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (owner[i] < 0) {
      remap[i] = out.nodes.size();
      out.nodes.push_back(g.nodes[i]);
      continue;
    }
    auto it = collapsed_node.find(owner[i]);
    if (it == collapsed_node.end()) {
      GNode c;
      c.collapsed = collapse[static_cast<size_t>(owner[i])];
      c.role = &kCollapsed;
      c.scope = module_of(c.collapsed);
      it = collapsed_node.emplace(owner[i], out.nodes.size()).first;
      out.nodes.push_back(c);
    }
    remap[i] = it->second;
    if (g.nodes[i].op) out.nodes[it->second].collapsed_ops++;
  }
  std::set<std::tuple<size_t, size_t, std::string>> seen;
  for (const GEdge& e : g.edges) {
    size_t a = remap[e.from], b = remap[e.to];
    if (a == b) continue;
    if (!seen.insert({a, b, e.label}).second) continue;
    out.edges.push_back({a, b, e.label, e.saved});
    if (!out.nodes[b].collapsed.empty()) out.nodes[b].collapsed_in.push_back(shape_str(g.nodes[e.from].var.shape()));
    if (!out.nodes[a].collapsed.empty()) out.nodes[a].collapsed_out.push_back(shape_str(g.nodes[e.from].var.shape()));
  }
  for (size_t i = 0; i < out.nodes.size(); ++i) out.nodes[i].id = fmt::format("n{}", i);
  g = std::move(out);
}

// Saved-for-backward extras (masks, statistics) as their own nodes with dashed edges.
void add_saved_nodes(Graph& g) {
  size_t n = g.nodes.size();
  for (size_t i = 0; i < n; ++i) {
    if (!g.nodes[i].op) continue;
    const Saved& spec = g.nodes[i].op->saved_spec();
    for (size_t k = 0; k < spec.extra.size(); ++k) {
      GNode s;
      s.var = spec.extra[k];
      s.role = &kSaved;
      s.scope = g.nodes[i].scope;
      s.id = fmt::format("n{}", g.nodes.size());
      g.edges.push_back({g.nodes.size(), i, fmt::format("saved: {}", shape_str(s.var.shape())), true});
      g.nodes.push_back(std::move(s));
    }
  }
}

std::string node_label(const GNode& n, const DotOptions& o) {
  if (!n.collapsed.empty()) {
    std::string in, out;
    for (const std::string& s : n.collapsed_in) in += (in.empty() ? "" : ", ") + s;
    for (const std::string& s : n.collapsed_out) out += (out.empty() ? "" : ", ") + s;
    return fmt::format("{}\n({} ops, collapsed)\nin: {}\nout: {}", n.collapsed, n.collapsed_ops, in.empty() ? "-" : in,
                       out.empty() ? "-" : out);
  }
  const Var& v = n.var;
  std::string head = n.op ? std::string(n.op->op()) : std::string(v.name().empty() ? n.role->name : v.name());
  // In a backward graph, a forward value that backward reads: say which op made it.
  if (!n.op && n.role == &kSaved && v.node()) head = std::string("saved: ") + v.node()->op() + " output";
  if (n.op && !n.op->attrs().empty()) head += " (" + n.op->attrs() + ")";
  std::string label = head + "\n" + shape_str(v.shape()) + " " + std::string(dtype_name(v.dtype()));
  if (n.op && !v.name().empty()) label += "\n" + v.name();
  if (o.show_values) {
    std::string values = format_values(v.value(), o.max_value_elements);
    if (!values.empty()) label += "\nvalue " + values;
    std::string grads = format_values(v.grad(), o.max_value_elements);
    if (!grads.empty()) label += "\ngrad " + grads;
  }
  if (o.show_saved && n.op) {
    const Saved& spec = n.op->saved_spec();
    size_t bytes = 0;
    int count = 0;
    if (spec.inputs)
      for (const Var& in : n.op->inputs()) bytes += in.value().nbytes(), ++count;
    if (spec.output) bytes += v.value().nbytes(), ++count;
    for (const Var& e : spec.extra) bytes += e.value().nbytes(), ++count;
    label += count ? fmt::format("\nsaves {} tensor{}, {}", count, count == 1 ? "" : "s", bytes_str(bytes)) : "\nsaves nothing";
  } else if (o.show_saved && n.role == &kSaved) {
    label += "\n" + bytes_str(v.value().nbytes());
  }
  return label;
}

// The cluster tree: scope path -> nodes directly inside, emitted depth first in sorted order.
void emit_clusters(std::string& out, const Graph& g, const DotOptions& o) {
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < g.nodes.size(); ++i) members[g.nodes[i].scope].push_back(i);
  std::set<std::string> paths;
  for (auto& [scope, ids] : members)
    for (const std::string& prefix : scope_prefixes(scope)) paths.insert(prefix);
  auto emit_nodes = [&](const std::vector<size_t>& ids, const std::string& indent) {
    for (size_t i : ids) {
      const GNode& n = g.nodes[i];
      const char* shape = n.op ? "box" : (n.collapsed.empty() ? "box" : "box3d");
      std::string style = n.op ? "rounded,filled" : "filled";
      if (n.role == &kSaved) style += ",dashed";
      out += fmt::format("{}{} [label=\"{}\", shape={}, style=\"{}\", fillcolor=\"{}\"];\n", indent, n.id,
                         dot_escape(node_label(n, o)), shape, style, n.role->fill);
    }
  };
  // Recursive over a small tree (depth = scope nesting), not over the graph.
  std::function<void(const std::string&, const std::string&)> emit = [&](const std::string& path,
                                                                          const std::string& indent) {
    for (const std::string& child : paths) {
      if (module_of(child) != path) continue;
      std::string id = child;
      for (char& c : id)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      size_t dot = child.rfind('.');
      std::string label = dot == std::string::npos ? child : child.substr(dot + 1);
      out += fmt::format("{}subgraph cluster_{} {{\n{}  label=\"{}\"; tooltip=\"{}\"; style=\"rounded\"; color=\"#7F7F7F\"; fontsize=12;\n",
                         indent, id, indent, dot_escape(label), dot_escape(child));
      if (members.count(child)) emit_nodes(members[child], indent + "  ");
      emit(child, indent + "  ");
      out += indent + "}\n";
    }
  };
  if (members.count("")) emit_nodes(members[""], "  ");
  emit("", "  ");
}

Graph build(const std::vector<Var>& outputs, const DotOptions& o, std::vector<Var>* keep_alive) {
  for (const Var& v : outputs)
    if (!v.defined()) throw ValueError("to_dot: an output Var is undefined");
  Graph g;
  if (o.backward) {
    // The real backward graph: run a grad pass with create_graph, and draw what it recorded.
    // Its seeds require grad, so every backward op is recorded; forward values it reads are
    // drawn as saved tensors and not expanded further.
    std::vector<Var> leaves;
    {
      Graph fwd = collect(outputs, [](const Var&) { return false; });
      for (const GNode& n : fwd.nodes)
        if (!n.op && n.var.requires_grad()) leaves.push_back(n.var);
    }
    if (leaves.empty()) throw GraphError("to_dot(backward): no leaf of this graph requires grad");
    std::vector<Var> seeds;
    for (const Var& out : outputs) {
      Var seed(Tensor::ones(out.shape(), out.dtype()), true);
      seed.set_name("d" + (out.name().empty() ? std::string("output") : out.name()));
      seeds.push_back(seed);
    }
    const uint64_t first_backward = Node::next_serial();
    std::vector<Var> grads = grad(outputs, leaves, seeds, {.retain_graph = true, .create_graph = true, .allow_unused = true});
    std::set<const Var::Impl*> seed_impls;
    for (const Var& s : seeds) seed_impls.insert(s.impl().get());
    std::vector<Var> drawn;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      // The gradient Vars were made by this pass, so naming them changes nothing the caller holds.
      if (!seed_impls.count(grads[i].impl().get()))
        grads[i].set_name("grad of " + (leaves[i].name().empty() ? fmt::format("input {}", i) : leaves[i].name()));
      drawn.push_back(grads[i]);
    }
    auto forward = [&](const Var& v) { return v.node() && v.node()->serial() < first_backward; };
    g = collect(drawn, forward);
    for (GNode& n : g.nodes) {
      if (n.op) {
        n.scope = n.op->scope();
        n.role = &kIntermediate;
      } else if (forward(n.var) || (n.var.is_leaf() && !n.var.requires_grad())) {
        n.role = &kSaved;
        n.op = nullptr;
      } else {
        n.role = seed_impls.count(n.var.impl().get()) ? &kInput : &kParameter;
      }
      for (const Var& d : drawn)
        if (d.same_as(n.var)) n.role = &kOutput;
    }
    *keep_alive = std::move(grads);
  } else {
    g = collect(outputs, [](const Var&) { return false; });
    assign_roles_and_scopes(g, outputs, all_scopes(g));
  }
  std::set<std::string> scopes = all_scopes(g);
  g.rankdir = o.rankdir;
  if (g.rankdir.empty()) {
    g.rankdir = "TB";
    for (const std::string& s : scopes) {
      size_t dot = s.rfind('.');
      std::string last = dot == std::string::npos ? s : s.substr(dot + 1);
      if (last.size() > 1 && last[0] == 't' && std::all_of(last.begin() + 1, last.end(), ::isdigit)) g.rankdir = "LR";
    }
  }
  if (o.show_saved && !o.backward) add_saved_nodes(g);
  collapse_scopes(g, o.collapse, scopes);
  return g;
}

}  // namespace

std::vector<std::string> graph_scopes(const std::vector<Var>& outputs) {
  Graph g = collect(outputs, [](const Var&) { return false; });
  std::set<std::string> s = all_scopes(g);
  return {s.begin(), s.end()};
}

std::string to_dot(const std::vector<Var>& outputs, const DotOptions& o) {
  std::vector<Var> keep_alive;
  Graph g = build(outputs, o, &keep_alive);
  std::string out = "digraph lumen {\n";
  out += fmt::format("  rankdir={}; newrank=true; compound=true; nodesep=0.25; ranksep=0.35;\n", g.rankdir);
  out += "  node [fontname=\"Helvetica\", fontsize=10, margin=\"0.08,0.04\"];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#595959\", arrowsize=0.6];\n";
  if (!o.title.empty())
    out += fmt::format("  labelloc=t; fontname=\"Helvetica\"; fontsize=14; label=\"{}\";\n", dot_escape(o.title));
  emit_clusters(out, g, o);
  for (const GEdge& e : g.edges)
    out += fmt::format("  {} -> {} [label=\"{}\"{}];\n", g.nodes[e.from].id, g.nodes[e.to].id, dot_escape(e.label),
                       e.saved ? ", style=dashed" : "");
  if (o.legend) {
    std::vector<const Role*> roles = {&kParameter, &kInput, &kIntermediate, &kOutput, &kSaved};
    if (!o.collapse.empty()) roles.push_back(&kCollapsed);
    out += "  subgraph cluster_legend {\n    label=\"legend\"; style=\"rounded\"; color=\"#BFBFBF\"; fontsize=11;\n";
    for (size_t i = 0; i < roles.size(); ++i)
      out += fmt::format("    legend{} [label=\"{}\", shape=box, style=\"filled{}\", fillcolor=\"{}\", fontsize=9];\n", i,
                         roles[i]->legend, roles[i] == &kIntermediate ? ",rounded" : "", roles[i]->fill);
    for (size_t i = 0; i + 1 < roles.size(); ++i) out += fmt::format("    legend{} -> legend{} [style=invis];\n", i, i + 1);
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

std::string to_json(const std::vector<Var>& outputs, const DotOptions& o) {
  std::vector<Var> keep_alive;
  Graph g = build(outputs, o, &keep_alive);
  nlohmann::json nodes = nlohmann::json::array(), edges = nlohmann::json::array();
  for (const GNode& n : g.nodes) {
    nlohmann::json j = {{"id", n.id}, {"role", n.role->name}, {"scope", n.scope}};
    if (!n.collapsed.empty()) {
      j["kind"] = "collapsed";
      j["collapsed"] = n.collapsed;
      j["ops"] = n.collapsed_ops;
      j["inputs"] = n.collapsed_in;
      j["outputs"] = n.collapsed_out;
    } else {
      j["kind"] = n.op ? "op" : "leaf";
      if (n.op) j["op"] = n.op->op();
      if (n.op && !n.op->attrs().empty()) j["attrs"] = n.op->attrs();
      if (!n.var.name().empty()) j["name"] = n.var.name();
      j["shape"] = n.var.shape().vec();
      j["dtype"] = dtype_name(n.var.dtype());
      if (o.show_values && n.var.numel() <= o.max_value_elements) {
        j["value"] = n.var.value().to_vector();
        if (n.var.grad().defined()) j["grad"] = n.var.grad().to_vector();
      }
      if (n.op) {
        const Saved& spec = n.op->saved_spec();
        j["saves"] = {{"inputs", spec.inputs}, {"output", spec.output}, {"extra", spec.extra.size()}};
      }
    }
    nodes.push_back(std::move(j));
  }
  for (const GEdge& e : g.edges)
    edges.push_back({{"from", g.nodes[e.from].id}, {"to", g.nodes[e.to].id}, {"label", e.label}, {"saved", e.saved}});
  nlohmann::json root = {{"rankdir", g.rankdir}, {"nodes", nodes}, {"edges", edges}};
  return root.dump(2) + "\n";
}

std::string render(const std::string& dot, const std::string& path) {
  std::filesystem::path p(path);
  std::string ext = p.extension().string();
  auto write_text = [&](const std::string& file, const std::string& text) {
    std::ofstream f(file);
    if (!f) throw ValueError("render: cannot write '" + file + "'");
    f << text;
    if (!f) throw ValueError("render: writing '" + file + "' failed");
  };
  if (ext == ".dot" || ext == ".gv") {
    write_text(path, dot);
    return "";
  }
  if (ext != ".svg" && ext != ".png")
    throw ValueError("render: '" + path + "' should end in .svg, .png or .dot");
  std::string tmp = path + ".tmp.dot", err = path + ".tmp.err";
  write_text(tmp, dot);
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string cmd = "dot -T" + ext.substr(1) + " " + quote(tmp) + " -o " + quote(path) + " 2> " + quote(err);
  int rc = std::system(cmd.c_str());
  std::string warnings;
  {
    std::ifstream e(err);
    std::stringstream ss;
    ss << e.rdbuf();
    warnings = ss.str();
  }
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  std::filesystem::remove(err, ec);
  if (rc != 0) {
    if (rc == 127 * 256 || warnings.find("not found") != std::string::npos)
      throw ValueError("render: Graphviz's 'dot' program is missing (apt-get install graphviz) while drawing '" + path + "'");
    throw ValueError("render: dot failed drawing '" + path + "': " + warnings);
  }
  return warnings;
}

}  // namespace lumen
