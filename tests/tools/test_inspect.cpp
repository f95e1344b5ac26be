// `lumen inspect`, run as the built binary: its output lines and its exit codes.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "nn/safetensors.h"

using namespace lumen;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Run run_lumen(const std::string& args, const fs::path& dir) {
  std::string cmd = std::string(LUMEN_BINARY_DIR) + "/tools/lumen " + args + " >" + (dir / "out.txt").string() +
                    " 2>" + (dir / "err.txt").string();
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"), slurp(dir / "err.txt")};
}

}  // namespace

TEST_CASE("lumen inspect lists tensors and exits 2 on a bad file", "[tools][safetensors]") {
  if (!fs::exists(std::string(LUMEN_BINARY_DIR) + "/tools/lumen")) {
    WARN("tools/lumen is not built (LUMEN_BUILD_LESSONS=OFF?); skipping");
    return;
  }
  fs::path dir = fs::temp_directory_path() / ("lumen_inspect_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string good = (dir / "good.safetensors").string();
  nn::write_safetensors(good, {{"fc.weight", Tensor::from_vector(std::vector<float>{1, -2, 3, 4}, {2, 2})},
                               {"steps", Tensor::from_vector(std::vector<int64_t>{7}, {})},
                               {"empty", Tensor::zeros({0, 3}, DType::f64)}});
  Run ok = run_lumen("inspect " + good, dir);
  CHECK(ok.code == 0);
  CHECK(ok.err.empty());
  CHECK(ok.out ==
        "fc.weight  F32   [2, 2]  min -2  max 4  mean 1.5\n"
        "steps      I64   []      min 7  max 7  mean 7\n"
        "empty      F64   [0, 3]  (empty)\n");

  std::string bad = (dir / "bad.safetensors").string();
  std::ofstream(bad) << "abc";
  Run err = run_lumen("inspect " + bad, dir);
  CHECK(err.code == 2);
  CHECK(err.out.empty());
  CHECK(err.err == "lumen: " + bad + ": the file is 3 bytes long, too short for the 8-byte header length\n");

  Run missing = run_lumen("inspect " + (dir / "nope.safetensors").string(), dir);
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::StartsWith("lumen: " + (dir / "nope.safetensors").string() + ": cannot open"));

  Run usage = run_lumen("inspect", dir);
  CHECK(usage.code == 2);
  fs::remove_all(dir);
}
