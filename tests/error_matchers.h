#pragma once
// REQUIRE_ERROR(expr, Type, "part", ...): expr throws exactly the error Type (or a subclass) and
// its message holds every listed part. The bad-input tests use it to pin both halves of the
// contract in tensor/error.h: the right exception, and a message naming the op and the shapes.
#include <catch2/catch.hpp>

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace lumen::testing {

// Matches an exception whose what() contains every part.
class MessageContainsAll : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageContainsAll(std::vector<std::string> parts) : parts_(std::move(parts)) {}
  bool match(const std::exception& e) const override {
    const std::string message = e.what();
    for (const std::string& p : parts_)
      if (message.find(p) == std::string::npos) return false;
    return true;
  }
  std::string describe() const override {
    std::string out = "has a message containing all of";
    for (const std::string& p : parts_) out += " \"" + p + "\"";
    return out;
  }

 private:
  std::vector<std::string> parts_;
};

}  // namespace lumen::testing

// Evaluates expr once: backward and friends change state, so a second try would fail differently.
#define REQUIRE_ERROR(expr, Type, ...) \
  REQUIRE_THROWS_MATCHES(expr, Type, ::lumen::testing::MessageContainsAll({__VA_ARGS__}))
