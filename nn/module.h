#pragma once
// Module: the base of every layer and model. It owns named parameters and named children, so a
// model's weights have dotted paths ("decoder.attn.W_s.weight") exactly like PyTorch's
// state_dict, and it knows whether it is training.
//
// A module registers everything explicitly in its constructor:
//
//   class TwoLayer : public Module {
//    public:
//     TwoLayer() : Module("TwoLayer") {
//       register_module("fc1", fc1_);
//       register_module("fc2", fc2_);
//     }
//     Var forward(const Var& x) {
//       auto scope = enter_scope();   // nodes made below are grouped under this module
//       return fc2_.forward(relu(fc1_.forward(x)));
//     }
//    private:
//     Linear fc1_{{.in = 2, .out = 16}};
//     Linear fc2_{{.in = 16, .out = 2}};
//   };
//
// Modules are neither copyable nor movable: children are registered by address. Keep models in
// place or behind a std::unique_ptr.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/var.h"

namespace lumen::nn {

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // "Linear", "MultiHeadAttention": for summaries and graphs.
  const std::string& type_name() const { return type_name_; }
  // Name under the parent ("attn"); empty for a root module.
  const std::string& name() const { return name_; }

  // Every parameter of this module and its descendants, depth first in registration order.
  std::vector<std::pair<std::string, Var>> named_parameters() const;
  std::vector<Var> parameters() const;
  // Non-trainable state saved with the weights (e.g. a fixed positional encoding table).
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // This module ("" path) and every descendant, depth first.
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }
  int64_t num_parameters() const;

  // Dropout and friends behave differently while training.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Clears every parameter's gradient.
  void zero_grad();

  // A tree of the modules with their parameters' shapes and counts.
  std::string summary() const;

 protected:
  // A trainable parameter, initialised to `init` (which it takes over). The Var's name becomes
  // its dotted path, kept up to date as parents register this module.
  Var register_parameter(const std::string& name, Tensor init);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <class M>
  M& register_module(const std::string& name, M& child) {
    add_child(name, child);
    return child;
  }
  // Opens this module's name scope for the rest of the enclosing block; graphs group the
  // nodes recorded inside by module.
  NameScope enter_scope() const { return NameScope(name_); }

 private:
  void add_child(const std::string& name, Module& child);
  void prefix_names(const std::string& prefix);
  void summary_lines(const std::string& label, int depth, std::string& out) const;

  std::string type_name_;
  std::string name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Var>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace lumen::nn
