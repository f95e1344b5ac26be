#include "nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"

namespace lumen::nn {

// The data section is copied byte for byte into tensors, which is right only on a little-endian
// machine (every machine Lumen targets).
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw CheckpointError(name + ": " + problem);
}

std::optional<DType> dtype_from_name(const std::string& s) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "I64") return DType::i64;
  if (s == "BOOL") return DType::boolean;
  return std::nullopt;
}

const char* json_type(const json& j) { return j.type_name(); }

// ---- reading one header entry ---------------------------------------------------------------------

// What the header says about one tensor, checked against itself and the data section's size.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin;
  uint64_t end;
};

// A JSON integer that must be >= 0 and fit an int64_t (`what` names it in the error).
uint64_t read_count(const std::string& file, const std::string& where, const json& j) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(file, where + " is " + std::to_string(v) + ", too large");
    return v;
  }
  if (j.is_number_integer()) fail(file, where + " is negative (" + std::to_string(j.get<int64_t>()) + ")");
  fail(file, where + " must be a non-negative integer, found " + j.dump());
}

Entry read_entry(const std::string& file, const std::string& name, const json& j, uint64_t data_size) {
  std::string who = "tensor '" + name + "'";
  if (!j.is_object()) fail(file, who + ": entry must be an object, found " + json_type(j));
  Entry e{.name = name, .dtype = DType::f32, .shape = {}, .begin = 0, .end = 0};

  auto dtype_it = j.find("dtype");
  if (dtype_it == j.end()) fail(file, who + " has no \"dtype\"");
  if (!dtype_it->is_string()) fail(file, who + ": \"dtype\" must be a string, found " + dtype_it->dump());
  std::string dtype_str = dtype_it->get<std::string>();
  std::optional<DType> dtype = dtype_from_name(dtype_str);
  if (!dtype)
    fail(file, who + " has unsupported dtype " + dtype_it->dump() + " (Lumen reads F32, F64, I64 and BOOL)");
  e.dtype = *dtype;

  auto shape_it = j.find("shape");
  if (shape_it == j.end()) fail(file, who + " has no \"shape\"");
  if (!shape_it->is_array()) fail(file, who + ": \"shape\" must be an array, found " + shape_it->dump());
  // Tensor strides are int64 products of the extents, so those products must not overflow; an
  // extent of 0 does not excuse the others (the strides still multiply them).
  uint64_t strides_product = 1;
  bool has_zero = false;
  for (const json& x : *shape_it) {
    auto extent = read_count(file, who + ": shape extent", x);
    if (extent == 0) has_zero = true;
    if (__builtin_mul_overflow(strides_product, std::max<uint64_t>(extent, 1), &strides_product) ||
        strides_product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(file, who + ": the element count of shape " + shape_it->dump() + " overflows");
    e.shape.push_back(static_cast<int64_t>(extent));
  }
  uint64_t numel = has_zero ? 0 : strides_product;
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(e.dtype)), &nbytes))
    fail(file, who + ": the byte size of shape " + shape_it->dump() + " overflows");

  auto off_it = j.find("data_offsets");
  if (off_it == j.end()) fail(file, who + " has no \"data_offsets\"");
  if (!off_it->is_array() || off_it->size() != 2)
    fail(file, who + ": \"data_offsets\" must be an array [begin, end], found " + off_it->dump());
  e.begin = read_count(file, who + ": data_offsets begin", (*off_it)[0]);
  e.end = read_count(file, who + ": data_offsets end", (*off_it)[1]);
  std::string offsets = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
  if (e.begin > e.end) fail(file, who + ": " + offsets + " are reversed (begin after end)");
  if (e.end > data_size)
    fail(file, who + ": " + offsets + " run past the end of the data section (" + std::to_string(data_size) +
                   " bytes): the file is truncated or the offsets are wrong");
  if (e.end - e.begin != nbytes)
    fail(file, who + ": shape " + shape_str(e.shape) + " of " + dtype_str + " needs " + std::to_string(nbytes) +
                   " bytes but " + offsets + " span " + std::to_string(e.end - e.begin));
  return e;
}

void read_metadata(const std::string& file, const json& j, Metadata* out) {
  if (j.is_null()) return;
  if (!j.is_object()) fail(file, "\"__metadata__\" must be an object of strings, found " + std::string(json_type(j)));
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      fail(file, "\"__metadata__\" entry '" + key + "' must be a string, found " + std::string(json_type(value)));
    if (out) (*out)[key] = value.get<std::string>();
  }
}

// ---- bytes ------------------------------------------------------------------------------------

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void write_u64_le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

std::string errno_text() { return std::strerror(errno); }

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a safetensors file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, "cannot open: " + errno_text());
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  // Read in chunks rather than trusting a size from stat: the file may be a pipe or change.
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) fail(path, "read error");
  return bytes;
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

// ---- parse ----------------------------------------------------------------------------------------

NamedTensors parse_safetensors(std::span<const uint8_t> bytes, const std::string& name, Metadata* metadata) {
  if (bytes.empty()) fail(name, "the file is empty (a safetensors file starts with an 8-byte header length)");
  if (bytes.size() < 8)
    fail(name, "the file is " + std::to_string(bytes.size()) + " bytes long, too short for the 8-byte header length");
  uint64_t header_len = read_u64_le(bytes.data());
  uint64_t after_len = bytes.size() - 8;
  if (header_len > after_len)
    fail(name, "the header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(after_len) + " bytes follow the length field)");
  if (header_len == 0) fail(name, "the header is empty (length 0); it must be a JSON object");
  const uint8_t* header_begin = bytes.data() + 8;
  const uint8_t* header_end = header_begin + header_len;
  std::span<const uint8_t> data = bytes.subspan(8 + header_len);

  // The parser keeps the last of two equal keys; note every top-level key to catch repeats.
  std::unordered_set<std::string> keys;
  std::optional<std::string> repeated;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !repeated && !keys.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(header_begin, header_end, on_event);
  } catch (const json::exception& e) {
    fail(name, std::string("the header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(name, "the header must be a JSON object, found " + std::string(json_type(header)));
  if (repeated) fail(name, "the header names '" + *repeated + "' twice");

  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__")
      read_metadata(name, value, metadata);
    else
      entries.push_back(read_entry(name, key, value, data.size()));
  }

  // In data order: the order they were written, which is the order a module registers them.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const Entry* previous = nullptr;  // the non-empty range reaching furthest so far
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;  // a zero-size tensor owns no bytes
    if (previous && e.begin < previous->end)
      fail(name, "tensors '" + previous->name + "' (data_offsets [" + std::to_string(previous->begin) + ", " +
                     std::to_string(previous->end) + "]) and '" + e.name + "' ([" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "]) overlap");
    if (!previous || e.end > previous->end) previous = &e;
  }

  NamedTensors out;
  out.reserve(entries.size());
  for (const Entry& e : entries) {
    const uint8_t* src = data.data() + e.begin;
    size_t nbytes = static_cast<size_t>(e.end - e.begin);
    if (e.dtype == DType::boolean) {
      // Any byte but 0 and 1 is not a valid bool in C++: reading it would be undefined.
      for (size_t i = 0; i < nbytes; ++i)
        if (src[i] > 1)
          fail(name, "BOOL tensor '" + e.name + "' holds byte " + std::to_string(src[i]) + " at element " +
                         std::to_string(i) + " (only 0 and 1 are booleans)");
    }
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (nbytes) std::memcpy(t.raw_data(), src, nbytes);
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

NamedTensors read_safetensors(const std::string& path, Metadata* metadata) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_safetensors(bytes, path, metadata);
}

// ---- write ----------------------------------------------------------------------------------------

std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata,
                                           const std::string& name) {
  // nlohmann's ordered_json keeps insertion order: the header lists tensors in data order,
  // metadata first, as the reference writer does.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::unordered_set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [key, t] : tensors) {
    if (key == "__metadata__") fail(name, "a tensor cannot be named '__metadata__' (the format reserves it)");
    if (!seen.insert(key).second) fail(name, "two tensors are named '" + key + "'");
    if (!t.defined()) fail(name, "tensor '" + key + "' is undefined");
    uint64_t end = offset + t.nbytes();
    header[key] = {{"dtype", safetensors_dtype_name(t.dtype())},
                   {"shape", t.shape().vec()},
                   {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail(name, std::string("cannot write the header (is every name valid UTF-8?): ") + e.what());
  }
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  write_u64_le(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* dst = out.data() + 8 + text.size();
  for (const auto& [key, t] : tensors) {
    Tensor flat = t.contiguous();
    if (flat.nbytes()) std::memcpy(dst, flat.raw_data(), flat.nbytes());
    dst += flat.nbytes();
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  std::vector<uint8_t> bytes = serialize_safetensors(tensors, metadata, path);
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, "cannot open for writing: " + errno_text());
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    fail(path, "write error: " + errno_text());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(path, "cannot replace the file: " + ec.message());
  }
}

// ---- modules ----------------------------------------------------------------------------------------

namespace {

// Every tensor a checkpoint holds for this module: parameters, then buffers.
NamedTensors module_state(const Module& module) {
  NamedTensors state;
  for (const auto& [n, p] : module.named_parameters()) state.emplace_back(n, p.value());
  for (const auto& [n, b] : module.named_buffers()) state.emplace_back(n, b);
  return state;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void save(const Module& module, const std::string& path) {
  write_safetensors(path, module_state(module), {{"format", "pt"}, {"lumen_module", module.type_name()}});
}

void load(Module& module, const std::string& path) {
  NamedTensors file = read_safetensors(path);
  NamedTensors state = module_state(module);

  std::unordered_map<std::string, size_t> in_file;
  for (size_t i = 0; i < file.size(); ++i) in_file.emplace(file[i].first, i);
  std::unordered_set<std::string> in_module;
  std::vector<std::string> missing, unexpected;
  for (const auto& [n, t] : state) {
    in_module.insert(n);
    if (!in_file.count(n)) missing.push_back(n);
  }
  for (const auto& [n, t] : file)
    if (!in_module.count(n)) unexpected.push_back(n);
  if (!missing.empty() || !unexpected.empty()) {
    std::string problem = "the checkpoint does not match the " + module.type_name() + " module:";
    if (!missing.empty()) problem += " missing from the file: " + join(missing) + (unexpected.empty() ? "" : ";");
    if (!unexpected.empty()) problem += " not in the module: " + join(unexpected);
    fail(path, problem);
  }

  // Check everything before changing anything, so a failed load leaves the module as it was.
  for (const auto& [n, target] : state) {
    const Tensor& src = file[in_file.at(n)].second;
    if (src.shape() != target.shape())
      fail(path, "'" + n + "' has shape " + shape_str(target.shape()) + " in the module but " +
                     shape_str(src.shape()) + " in the file");
    if (src.dtype() != target.dtype())
      fail(path, "'" + n + "' is " + std::string(safetensors_dtype_name(target.dtype())) + " in the module but " +
                     safetensors_dtype_name(src.dtype()) + " in the file");
  }
  NoGradGuard no_grad;
  for (auto& [n, target] : state) target.copy_(file[in_file.at(n)].second);
}

}  // namespace lumen::nn
