#pragma once
// A 2-D tensor as rows of doubles: the form that heatmap() and the printed tables take.
#include <vector>

#include "tensor/tensor.h"

namespace lumen::lessons {

// m [R, C], any dtype and strides -> R rows of C values. Throws lumen::ShapeError if m is not 2-D.
std::vector<std::vector<double>> rows_of(const Tensor& m);

}  // namespace lumen::lessons
