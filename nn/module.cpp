#include "nn/module.h"

#include <fmt/format.h>

#include "tensor/shape.h"

namespace lumen::nn {

Var Module::register_parameter(const std::string& name, Tensor init) {
  for (const auto& [n, p] : params_)
    if (n == name) throw ValueError(type_name_ + ": parameter '" + name + "' registered twice");
  Var p(std::move(init), /*requires_grad=*/true);
  p.set_name(name);
  params_.emplace_back(name, p);
  return p;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, std::move(value));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, Module& child) {
  for (const auto& [n, c] : children_)
    if (n == name) throw ValueError(type_name_ + ": child module '" + name + "' registered twice");
  child.name_ = name;
  child.prefix_names(name);
  children_.emplace_back(name, &child);
}

// Parameters learn their full path bottom-up: each time a module is registered under a parent,
// the parent's local name is put in front of every name below it.
void Module::prefix_names(const std::string& prefix) {
  for (auto& [n, p] : params_) p.set_name(prefix + "." + p.name());
  for (auto& [n, c] : children_) c->prefix_names(prefix);
}

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out = params_;
  for (const auto& [cname, child] : children_)
    for (auto& [pname, p] : child->named_parameters()) out.emplace_back(cname + "." + pname, p);
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out = buffers_;
  for (const auto& [cname, child] : children_)
    for (auto& [bname, b] : child->named_buffers()) out.emplace_back(cname + "." + bname, b);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out = {{"", this}};
  for (const auto& [cname, child] : children_)
    for (auto& [path, m] : child->named_modules()) out.emplace_back(path.empty() ? cname : cname + "." + path, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [n, p] : named_parameters()) p.zero_grad();
}

void Module::summary_lines(const std::string& label, int depth, std::string& out) const {
  std::string indent(static_cast<size_t>(depth) * 2, ' ');
  out += fmt::format("{}{}{} ({} parameters)\n", indent, label.empty() ? "" : label + ": ", type_name_,
                     num_parameters());
  for (const auto& [n, p] : params_)
    out += fmt::format("{}  {} {} {}\n", indent, n, shape_str(p.shape()), p.numel());
  for (const auto& [n, c] : children_) c->summary_lines(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summary_lines("", 0, out);
  return out;
}

}  // namespace lumen::nn
