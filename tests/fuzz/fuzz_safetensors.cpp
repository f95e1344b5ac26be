// libFuzzer entry point for the safetensors reader: any bytes must give either tensors or a
// lumen::Error, never a crash, a sanitizer report or a hang.
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_safetensors.cpp <sources>
#include <cstddef>
#include <cstdint>
#include <span>

#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lumen::nn::Metadata metadata;
    lumen::nn::NamedTensors tensors = lumen::nn::parse_safetensors(std::span<const uint8_t>(data, size), "fuzz", &metadata);
    // Whatever parsed must survive a round trip unchanged.
    std::vector<uint8_t> again = lumen::nn::serialize_safetensors(tensors, metadata);
    lumen::nn::NamedTensors back = lumen::nn::parse_safetensors(again, "fuzz-again");
    if (back.size() != tensors.size()) __builtin_trap();
  } catch (const lumen::Error&) {
  }
  return 0;
}
