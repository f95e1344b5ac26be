#pragma once
// A 2-D tensor as rows of doubles (the form heatmap() takes), and a row as the stories print it.
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lumen::lessons {

// m [R, C], any dtype and strides -> R rows of C values. Throws lumen::ShapeError if m is not 2-D.
std::vector<std::vector<double>> rows_of(const Tensor& m);

// One row printed as the story shows the notes' vectors: "[0.76 0.13 0.11]".
std::string row_str(const std::vector<double>& v, int decimals);

}  // namespace lumen::lessons
