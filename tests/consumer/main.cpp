// Uses the installed headers and library: prints the sum of [1, 2, 3] so the test can check it.
#include <cstdio>

#include "tensor/ops.h"

int main() {
  lumen::Tensor t = lumen::Tensor::from_vector(std::vector<double>{1, 2, 3}, {3});
  std::printf("%g\n", lumen::sum(t).item());
  return lumen::sum(t).item() == 6.0 ? 0 : 1;
}
