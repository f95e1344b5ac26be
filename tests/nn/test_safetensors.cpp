// safetensors checkpoints: bit-identical round trips, a file laid out as PyTorch's writer does,
// and every kind of malformed file, each built byte by byte.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "nn/linear.h"
#include "nn/safetensors.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;
namespace fs = std::filesystem;

namespace {

// A scratch directory per test run, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lumen_safetensors_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};
const TempDir& tmp() {
  static TempDir dir;
  return dir;
}

using Bytes = std::vector<uint8_t>;

void append_u64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// 8-byte length (the header's true length unless `declared` is given), the header, the data.
Bytes make_file(const std::string& header, const Bytes& data = {}, std::optional<uint64_t> declared = {}) {
  Bytes b;
  append_u64(b, declared ? *declared : header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes float_bytes(std::vector<float> xs) {
  Bytes b(xs.size() * 4);
  if (!xs.empty()) std::memcpy(b.data(), xs.data(), b.size());
  return b;
}

std::string write_bytes(const std::string& name, const Bytes& bytes) {
  std::string path = tmp().file(name);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return path;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// Writes `bytes` to a file named `name` and expects read_safetensors to fail with a message that
// starts with the path and contains `what`.
void expect_error(const std::string& name, const Bytes& bytes, const std::string& what) {
  std::string path = write_bytes(name + ".safetensors", bytes);
  INFO("case " << name);
  REQUIRE_THROWS_AS(read_safetensors(path), CheckpointError);
  REQUIRE_THROWS_WITH(read_safetensors(path), Catch::StartsWith(path + ": ") && Catch::Contains(what));
  // The in-memory parser gives the same answer under the name it is given.
  REQUIRE_THROWS_WITH(parse_safetensors(bytes, "mem"), Catch::StartsWith("mem: ") && Catch::Contains(what));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

// A module shaped like nn.Sequential(nn.Linear(in, out), nn.LayerNorm(out)) with a buffer.
class Inner : public Module {
 public:
  Inner(int64_t in, int64_t out, DType dtype) : Module("Linear") {
    weight_ = register_parameter("weight", Tensor::zeros({out, in}, dtype));
    bias_ = register_parameter("bias", Tensor::zeros({out}, dtype));
  }
  Var weight_, bias_;
};
class Outer : public Module {
 public:
  explicit Outer(int64_t in = 4, int64_t out = 3, DType dtype = DType::f32)
      : Module("Outer"), fc_(in, out, dtype), norm_(out, out, dtype) {
    register_module("fc", fc_);
    register_module("norm", norm_);
    steps_ = register_buffer("steps", Tensor::zeros({}, DType::i64));
  }
  // Distinct values everywhere, different per seed.
  void fill(double seed) {
    double v = seed;
    for (auto& [n, p] : named_parameters()) {
      Tensor t = p.value();
      std::vector<double> xs(static_cast<size_t>(t.numel()));
      for (double& x : xs) {
        v += 0.37;
        x = static_cast<int>(v * 10) % 2 ? -v : v;
      }
      t.copy_(Tensor::from_vector(xs, t.shape(), t.dtype()));
    }
    steps_.fill_(seed * 10);
  }
  Inner fc_, norm_;
  Tensor steps_;
};

}  // namespace

// ---- round trips ---------------------------------------------------------------------------------

TEST_CASE("write then read returns the same bits, names and order", "[nn][safetensors]") {
  Tensor f32 = Tensor::from_vector(std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::denorm_min(),
                                                      std::numeric_limits<float>::infinity(), 3e38f, -7.25f},
                                   {2, 3});
  // A NaN with a payload must come back with the same payload.
  uint32_t nan_bits = 0x7fc01234u;
  std::memcpy(f32.data<float>() + 5, &nan_bits, 4);
  Tensor f64 = Tensor::from_vector(std::vector<double>{std::numbers::pi, -1e-310, 1e308}, {3}, DType::f64);
  Tensor i64 = Tensor::from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0,
                                                        std::numeric_limits<int64_t>::max()},
                                   {2, 1, 2});
  Tensor scalar = Tensor::scalar(42.0, DType::f64);  // 0-d
  Tensor empty = Tensor::zeros({0, 5});               // zero-size
  Tensor mask = Tensor::from_vector(std::vector<double>{1, 0, 0, 1}, {4}, DType::boolean);
  Tensor strided = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64).transpose(0, 1);

  NamedTensors in = {{"z.f32", f32}, {"a.f64", f64},   {"i64", i64},         {"scalar", scalar},
                     {"empty", empty}, {"mask", mask}, {"strided", strided}};
  std::string path = tmp().file("roundtrip.safetensors");
  write_safetensors(path, in, {{"note", "hello"}});
  Metadata meta;
  NamedTensors out = read_safetensors(path, &meta);
  REQUIRE(out.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO(in[i].first);
    CHECK(out[i].first == in[i].first);  // the order they were written
    CHECK(same_bits(out[i].second, in[i].second));
  }
  CHECK(out[3].second.dim() == 0);
  CHECK(out[4].second.shape() == Shape{0, 5});
  CHECK(out[6].second.to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(meta == Metadata{{"note", "hello"}});

  // Writing what was read gives the same file, byte for byte.
  std::string again = tmp().file("roundtrip2.safetensors");
  write_safetensors(again, out, meta);
  CHECK(read_bytes(again) == read_bytes(path));
}

TEST_CASE("the written layout is the reference one", "[nn][safetensors]") {
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector(std::vector<float>{0.5f, -0.5f}, {2});
  std::string path = tmp().file("layout.safetensors");
  write_safetensors(path, {{"weight", w}, {"bias", b}});
  Bytes bytes = read_bytes(path);
  std::string header = R"({"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                       R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  REQUIRE(header.size() % 8 == 0);
  Bytes data = float_bytes({1, 2, 3, 4, 0.5f, -0.5f});
  CHECK(bytes == make_file(header, data));
}

TEST_CASE("a file laid out as PyTorch's safetensors writes it loads", "[nn][safetensors]") {
  // safetensors.torch.save_file({"fc.weight": ..., "fc.bias": ...}, metadata={"format": "pt"})
  // sorts tensors by dtype, then by name ("fc.bias" before "fc.weight"), writes __metadata__
  // first, compact JSON, and pads the header with spaces to a multiple of 8.
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  Bytes data = float_bytes({0.25f, -0.75f, 1, 2, 3, 4, 5, 6});
  std::string path = write_bytes("torch_layout.safetensors", make_file(header, data));

  Metadata meta;
  NamedTensors t = read_safetensors(path, &meta);
  REQUIRE(t.size() == 2);
  CHECK(meta.at("format") == "pt");
  CHECK(t[0].first == "fc.bias");
  CHECK(t[0].second.to_vector() == std::vector<double>{0.25, -0.75});
  CHECK(t[1].first == "fc.weight");
  CHECK(t[1].second.shape() == Shape{2, 3});
  CHECK(t[1].second.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});

  // And into a module whose parameters have those names, in another order.
  class Net : public Module {
   public:
    Net() : Module("Net"), fc(3, 2, DType::f32) { register_module("fc", fc); }
    Inner fc;
  } net;
  load(net, path);
  CHECK(net.fc.weight_.value().to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(net.fc.bias_.value().to_vector() == std::vector<double>{0.25, -0.75});
}

TEST_CASE("save and load a module: names, bit-identical values, in place", "[nn][safetensors]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Outer a(4, 3, dt), b(4, 3, dt);
    a.fill(1.0);
    b.fill(2.0);
    std::string path = tmp().file("module.safetensors");
    save(a, path);

    NamedTensors file = read_safetensors(path);
    std::vector<std::string> names;
    for (auto& [n, t] : file) names.push_back(n);
    CHECK(names == std::vector<std::string>{"fc.weight", "fc.bias", "norm.weight", "norm.bias", "steps"});

    Tensor weight_before = b.fc_.weight_.value();  // the same storage must be written
    load(b, path);
    CHECK(b.fc_.weight_.value().shares_storage(weight_before));
    auto pa = a.named_parameters(), pb = b.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) CHECK(same_bits(pa[i].second.value(), pb[i].second.value()));
    CHECK(b.steps_.item() == 10.0);
  }
}

TEST_CASE("load rejects a checkpoint that does not fit the module, and changes nothing", "[nn][safetensors]") {
  Outer small(4, 3), other(5, 3), b(4, 3);
  small.fill(1.0);
  other.fill(1.0);
  b.fill(2.0);
  std::vector<double> before = b.fc_.weight_.value().to_vector();

  std::string path = tmp().file("other_shape.safetensors");
  save(other, path);
  REQUIRE_THROWS_AS(load(b, path), CheckpointError);
  REQUIRE_THROWS_WITH(load(b, path), Catch::StartsWith(path + ": ") && Catch::Contains("'fc.weight'") &&
                                         Catch::Contains("[3, 4] in the module") && Catch::Contains("[3, 5] in the file"));
  CHECK(b.fc_.weight_.value().to_vector() == before);

  Outer wide(4, 3, DType::f64);
  save(wide, path);
  REQUIRE_THROWS_WITH(load(b, path), Catch::Contains("'fc.weight' is F32 in the module but F64 in the file"));

  // Missing and unexpected names are all listed.
  save(small, path);
  NamedTensors t = read_safetensors(path);
  t.erase(t.begin() + 1);            // drop fc.bias
  t.erase(t.begin() + 2);            // drop norm.bias
  t.emplace_back("fc.extra", Tensor::zeros({1}));
  write_safetensors(path, t);
  REQUIRE_THROWS_WITH(load(b, path), Catch::Contains("does not match the Outer module") &&
                                         Catch::Contains("missing from the file: fc.bias, norm.bias") &&
                                         Catch::Contains("not in the module: fc.extra"));
  CHECK(b.fc_.weight_.value().to_vector() == before);
}

TEST_CASE("writing rejects bad names and reports unwritable paths", "[nn][safetensors]") {
  Tensor x = Tensor::zeros({2});
  REQUIRE_THROWS_WITH(write_safetensors(tmp().file("dup.safetensors"), {{"a", x}, {"a", x}}),
                      Catch::Contains("two tensors are named 'a'"));
  REQUIRE_THROWS_WITH(write_safetensors(tmp().file("meta.safetensors"), {{"__metadata__", x}}),
                      Catch::Contains("reserves"));
  REQUIRE_THROWS_WITH(write_safetensors(tmp().file("undef.safetensors"), {{"a", Tensor()}}),
                      Catch::Contains("'a' is undefined"));
  std::string bad = tmp().file("no/such/dir/x.safetensors");
  REQUIRE_THROWS_WITH(write_safetensors(bad, {{"a", x}}), Catch::StartsWith(bad + ": cannot open for writing"));
  REQUIRE_THROWS_WITH(read_safetensors(bad), Catch::StartsWith(bad + ": cannot open"));
  REQUIRE_THROWS_WITH(read_safetensors(tmp().path.string()), Catch::Contains("is a directory"));
}

// ---- malformed files -------------------------------------------------------------------------------

TEST_CASE("malformed files: the length field and the header", "[nn][safetensors]") {
  expect_error("empty", {}, "the file is empty");
  expect_error("short", {1, 0, 0, 0, 0}, "5 bytes long, too short");
  std::string ok = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expect_error("len_past_end", make_file(ok, float_bytes({1}), 1000), "header length 1000 runs past the end of the file");
  // A length near 2^64 must be rejected before anything is allocated or added.
  expect_error("len_huge", make_file(ok, {}, std::numeric_limits<uint64_t>::max()),
               "header length 18446744073709551615 runs past the end");
  expect_error("len_zero", make_file("", {}, 0), "the header is empty");
  expect_error("bad_json", make_file(R"({"a": {"dtype": )"), "the header is not valid JSON");
  expect_error("trailing_garbage", make_file(R"({} x)"), "not valid JSON");
  expect_error("not_utf8", make_file("{\"\xff\": 1}"), "not valid JSON");
  expect_error("array", make_file("[1, 2]"), "the header must be a JSON object, found array");
  expect_error("number", make_file("42      "), "must be a JSON object, found number");
  expect_error("entry_number", make_file(R"({"a": 5})"), "tensor 'a': entry must be an object, found number");
  expect_error("entry_array", make_file(R"({"a": [1]})"), "tensor 'a': entry must be an object, found array");
  expect_error("duplicate", make_file(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                                      R"("a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}})",
                                      float_bytes({1, 2})),
               "names 'a' twice");
  expect_error("metadata_array", make_file(R"({"__metadata__": [1]})"), "\"__metadata__\" must be an object of strings");
  expect_error("metadata_number", make_file(R"({"__metadata__": {"k": 1}})"), "entry 'k' must be a string");
}

TEST_CASE("malformed files: dtypes, shapes and offsets", "[nn][safetensors]") {
  auto entry = [](const std::string& body) { return make_file("{\"t\":{" + body + "}}", Bytes(64, 0)); };
  expect_error("f16", entry(R"("dtype":"F16","shape":[2],"data_offsets":[0,4])"), "unsupported dtype \"F16\"");
  expect_error("bf16", entry(R"("dtype":"BF16","shape":[2],"data_offsets":[0,4])"), "unsupported dtype \"BF16\"");
  expect_error("unknown_dtype", entry(R"("dtype":"Q7","shape":[2],"data_offsets":[0,4])"), "unsupported dtype \"Q7\"");
  expect_error("dtype_number", entry(R"("dtype":32,"shape":[2],"data_offsets":[0,4])"), "\"dtype\" must be a string");
  expect_error("no_dtype", entry(R"("shape":[2],"data_offsets":[0,8])"), "tensor 't' has no \"dtype\"");
  expect_error("no_shape", entry(R"("dtype":"F32","data_offsets":[0,8])"), "has no \"shape\"");
  expect_error("no_offsets", entry(R"("dtype":"F32","shape":[2])"), "has no \"data_offsets\"");
  expect_error("shape_object", entry(R"("dtype":"F32","shape":{},"data_offsets":[0,8])"), "\"shape\" must be an array");
  expect_error("negative_extent", entry(R"("dtype":"F32","shape":[2,-1],"data_offsets":[0,8])"),
               "shape extent is negative (-1)");
  expect_error("float_extent", entry(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])"),
               "shape extent must be a non-negative integer, found 2.5");
  expect_error("huge_extent", entry(R"("dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8])"),
               "too large");
  expect_error("overflow", entry(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])"),
               "element count of shape [4294967296,4294967296] overflows");
  // A zero extent does not excuse the others: the strides would still overflow.
  expect_error("overflow_with_zero", entry(R"("dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0])"),
               "overflows");
  expect_error("bytes_overflow", entry(R"("dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8])"),
               "byte size of shape [4611686018427387904] overflows");
  expect_error("size_vs_offsets", entry(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])"),
               "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8");
  expect_error("offsets_one", entry(R"("dtype":"F32","shape":[2],"data_offsets":[0])"),
               "\"data_offsets\" must be an array [begin, end]");
  expect_error("offsets_negative", entry(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])"),
               "data_offsets begin is negative (-8)");
  expect_error("offsets_reversed", entry(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"),
               "data_offsets [8, 0] are reversed");
  expect_error("offsets_out_of_range", entry(R"("dtype":"F32","shape":[2],"data_offsets":[1000000,1000008])"),
               "data_offsets [1000000, 1000008] run past the end of the data section (64 bytes)");
  expect_error("offsets_huge", entry(R"("dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775807])"),
               "run past the end of the data section");
  expect_error("overlap",
               make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         Bytes(12, 0)),
               "tensors 'a' (data_offsets [0, 8]) and 'b' ([4, 12]) overlap");
  // The overlap is found whatever order the header lists them in, and past a zero-size tensor.
  expect_error("overlap_reordered",
               make_file(R"({"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                         R"("a":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},)"
                         R"("c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                         Bytes(16, 0)),
               "tensors 'b' (data_offsets [0, 16]) and 'c' ([12, 16]) overlap");
  expect_error("bool_byte", make_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", Bytes{1, 0, 2}),
               "BOOL tensor 'm' holds byte 2 at element 2");
}

TEST_CASE("malformed files: truncated data", "[nn][safetensors]") {
  std::string path = tmp().file("whole.safetensors");
  write_safetensors(path, {{"a", Tensor::ones({4})}, {"b", Tensor::ones({3, 2})}});
  Bytes whole = read_bytes(path);
  Bytes cut(whole.begin(), whole.end() - 4);
  expect_error("truncated", cut, "tensor 'b': data_offsets [16, 40] run past the end of the data section (36 bytes)");
  // Cut inside the header: the length now runs past the end.
  Bytes in_header(whole.begin(), whole.begin() + 20);
  expect_error("truncated_header", in_header, "runs past the end of the file (12 bytes follow the length field)");
}

TEST_CASE("files that are odd but valid are read", "[nn][safetensors]") {
  // No tensors at all; a header padded with spaces and a null metadata; unknown extra fields;
  // unused bytes between tensors (other writers may align).
  CHECK(parse_safetensors(make_file("{}"), "x").empty());
  NamedTensors t = parse_safetensors(
      make_file(R"(  {"__metadata__": null, "b": {"dtype": "I64", "shape": [], "data_offsets": [8, 16], "extra": 1}})"
                "      ",
                Bytes{9, 9, 9, 9, 9, 9, 9, 9, 7, 0, 0, 0, 0, 0, 0, 0}),
      "x");
  REQUIRE(t.size() == 1);
  CHECK(t[0].second.dim() == 0);
  CHECK(t[0].second.item() == 7.0);
}

// ---- a real layer, and the exchange with PyTorch -----------------------------------------------------

TEST_CASE("a saved Linear loads into a fresh one that computes the same outputs", "[nn][safetensors]") {
  Generator g1(1), g2(2);
  Linear a({.in = 5, .out = 3}, g1), b({.in = 5, .out = 3}, g2);
  Var x(randn({4, 5}, DType::f32, g1));
  std::string path = tmp().file("linear.safetensors");
  save(a, path);
  CHECK_FALSE(same_bits(a.forward(x).value(), b.forward(x).value()));
  load(b, path);
  CHECK(same_bits(a.forward(x).value(), b.forward(x).value()));
}

// Not run by CTest (hidden tag). Writes a Lumen Linear's weight, bias, an input x and its output y
// for scripts/check_pytorch_weights.py; if LUMEN_TORCH_FILE names a file that script wrote from
// PyTorch, loads it into a Lumen Linear and checks Lumen reproduces PyTorch's y.
TEST_CASE("exchange Linear weights with PyTorch", "[.][pytorch]") {
  const char* out_env = std::getenv("LUMEN_LINEAR_OUT");
  std::string out = out_env ? out_env : (fs::temp_directory_path() / "lumen_linear.safetensors").string();
  Generator gen(5);
  Linear lin({.in = 6, .out = 4}, gen);
  Var x(randn({3, 6}, DType::f32, gen));
  write_safetensors(out, {{"weight", lin.weight().value()}, {"bias", lin.bias().value()}, {"x", x.value()},
                          {"y", lin.forward(x).value()}});
  WARN("wrote " << out << "; now run: python3 scripts/check_pytorch_weights.py " << out);

  const char* torch_file = std::getenv("LUMEN_TORCH_FILE");
  if (!torch_file) return;
  NamedTensors t = read_safetensors(torch_file);
  auto find = [&](const std::string& name) {
    for (auto& [n, v] : t)
      if (n == name) return v;
    FAIL("no tensor '" << name << "' in " << torch_file);
    return Tensor();
  };
  // The PyTorch file holds F64 weights: load them through nn::load into an f64 Linear.
  Tensor w = find("weight");
  Linear theirs({.in = w.size(1), .out = w.size(0), .dtype = DType::f64});
  std::string weights_only = tmp().file("torch_weights.safetensors");
  write_safetensors(weights_only, {{"weight", w}, {"bias", find("bias")}});
  load(theirs, weights_only);
  Tensor y = theirs.forward(Var(find("x"))).value();
  std::vector<double> got = y.to_vector(), want = find("y").to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-12));
}
