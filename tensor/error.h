#pragma once
// The errors Lumen throws for bad input. Every message names the op and the offending shapes or
// values, so a learner can find the mistake from the message alone.
#include <stdexcept>
#include <string>

namespace lumen {

// Base of every Lumen error, so callers can catch them all at once.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Shapes that cannot broadcast, multiply or concatenate.
struct ShapeError : Error {
  using Error::Error;
};
// An op given a dtype it does not accept (an f32 op given i64, say).
struct DTypeError : Error {
  using Error::Error;
};
// An index out of range: a dim, an embedding id, a gather index.
struct IndexError : Error {
  using Error::Error;
};
// Any other bad argument: a negative size, an empty list, a bad option.
struct ValueError : Error {
  using Error::Error;
};

}  // namespace lumen
