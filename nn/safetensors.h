#pragma once
// Checkpoints in the safetensors format, so PyTorch (safetensors.torch.load_file) reads Lumen's
// weights and Lumen reads PyTorch's. The layout of a file:
//
//   bytes 0..8      N, the header's length, as a little-endian u64
//   bytes 8..8+N    a JSON object, padded with spaces:
//                     {"__metadata__": {"format": "pt"},
//                      "fc.weight": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
//                      "fc.bias":   {"dtype": "F32", "shape": [3], "data_offsets": [48, 60]}}
//   bytes 8+N..     the data section: each tensor's elements, row-major and little-endian, at
//                   its [begin, end) byte offsets counted from the start of this section
//
// Reading trusts nothing in the file: every size is checked before it is used, and any problem
// is a CheckpointError whose message starts with the file's path and says what is wrong.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace lumen::nn {

// A checkpoint that cannot be read, written or loaded: "model.safetensors: <what is wrong>".
struct CheckpointError : Error {
  using Error::Error;
};

// Tensors with their names, in file (or module) order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// The "__metadata__" entry: string keys to string values.
using Metadata = std::map<std::string, std::string>;

// ---- the whole model ---------------------------------------------------------------------------
// Writes every parameter and buffer under its dotted name, in module order.
void save(const Module& module, const std::string& path);
// Reads a checkpoint into the module's parameters and buffers, in place (optimizers holding the
// parameters keep working). The file must hold exactly the module's names, with the same shapes
// and dtypes; otherwise nothing is changed and the error lists every missing and unexpected
// name, or names the parameter with both shapes or dtypes.
void load(Module& module, const std::string& path);

// ---- tensors -----------------------------------------------------------------------------------
// Writes the tensors (f32, f64, i64 or bool, any strides) in the given order, without gaps, then
// renames the finished file into place, so a crash never leaves half a checkpoint at `path`.
void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});
// Reads every tensor, in the order the header lists them. `metadata`, if given, receives the
// "__metadata__" entry.
NamedTensors read_safetensors(const std::string& path, Metadata* metadata = nullptr);

// The same, in memory. `name` starts every error message (the path, for a file).
std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata = {},
                                           const std::string& name = "safetensors");
NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& name,
                               Metadata* metadata = nullptr);

// The file's spelling of a dtype ("F32", "F64", "I64", "BOOL").
const char* safetensors_dtype_name(DType dtype);

}  // namespace lumen::nn
