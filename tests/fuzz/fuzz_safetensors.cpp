// libFuzzer entry point for the safetensors reader: any bytes must give either tensors or a
// lumen::Error, never a crash, a sanitizer report, a leak or a hang.
//   build: cmake --preset fuzz && cmake --build build-fuzz
//   run:   scripts/run-fuzz.sh build-fuzz SECONDS (or build-fuzz/fuzz/fuzz_safetensors -dict=tests/fuzz/safetensors.dict)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lumen::nn::Metadata metadata;
    lumen::nn::NamedTensors tensors = lumen::nn::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz", &metadata);
    // Whatever parsed must survive a round trip: the same names with the same shapes, dtypes and
    // bytes. (Order may change: the reader sorts zero-size tensors, which share an offset, by name.)
    std::vector<uint8_t> again = lumen::nn::serialize_safetensors(tensors, metadata);
    lumen::nn::Metadata metadata_back;
    lumen::nn::NamedTensors back = lumen::nn::parse_safetensors(again, "fuzz-again", &metadata_back);
    if (back.size() != tensors.size() || metadata_back != metadata) __builtin_trap();
    std::map<std::string, const lumen::Tensor*> by_name;
    for (const auto& [name, t] : back) by_name[name] = &t;
    for (const auto& [name, a] : tensors) {
      auto it = by_name.find(name);
      if (it == by_name.end()) __builtin_trap();
      const lumen::Tensor& b = *it->second;
      if (a.shape() != b.shape() || a.dtype() != b.dtype()) __builtin_trap();
      if (a.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) != 0) __builtin_trap();
    }
    // From then on the order is settled: writing what was read back reproduces the file exactly.
    std::vector<uint8_t> third = lumen::nn::serialize_safetensors(back, metadata_back);
    if (lumen::nn::serialize_safetensors(lumen::nn::parse_safetensors(third, "fuzz-third"), metadata_back) != third)
      __builtin_trap();
  } catch (const lumen::Error&) {
  }
  return 0;
}
