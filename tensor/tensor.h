#pragma once
// Tensor: a handle to shared storage with a shape, strides (in elements) and an offset.
//
// Copying a Tensor ALIASES: `Tensor b = a;` makes b share a's memory, as in PyTorch. Views
// (reshape of a contiguous tensor, transpose, permute, slice, expand, squeeze, unsqueeze) cost
// nothing and alias too. `clone()` and `contiguous()` are the only operations that copy.
// Tensors hold no gradients; autograd/ builds on top of this.
#include <cstdint>
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"

namespace lumen {

// A block of memory from the caching allocator; freed back to it when the last Tensor goes.
class Storage {
 public:
  Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
};

class Tensor {
 public:
  // An undefined tensor (no storage); most calls on it throw.
  Tensor() = default;

  // ---- creation ----------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  // 0, 1, ..., n-1 (or start, start+step, ... < end).
  static Tensor arange(int64_t n, DType dtype = DType::i64);
  static Tensor arange(double start, double end, double step, DType dtype = DType::f32);
  static Tensor eye(int64_t n, DType dtype = DType::f32);
  // Copies `values` (row-major) into a new tensor of `shape`; sizes must agree.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
  template <class T>
  static Tensor from_data(const T* values, const Shape& shape);

  // ---- metadata ----------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Extent of one dim; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  // True if both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Pointer to element [0, 0, ...]; strides() say where the others are. Checks the dtype.
  template <class T> T* data() const;
  // Untyped pointer to element [0, 0, ...].
  void* raw_data() const;

  // The value of a one-element tensor, converted to double.
  double item() const;
  // Element at a full index (for tests and printing; slow), converted to double.
  double at(std::initializer_list<int64_t> index) const;
  double at(const std::vector<int64_t>& index) const;
  // All elements in row-major order, converted to double (for tests and printing).
  std::vector<double> to_vector() const;

  // ---- views (no copy) ---------------------------------------------------------------------
  // A view if the strides allow it (always for contiguous tensors), otherwise a copy.
  // One extent may be -1 and is inferred.
  Tensor reshape(const Shape& shape) const;
  // Like reshape, but never copies: throws if the strides do not allow a view.
  Tensor view(const Shape& shape) const;
  Tensor flatten() const { return reshape({-1}); }
  Tensor transpose(int64_t d0, int64_t d1) const;
  // Swaps the last two dims (matrix transpose, batched).
  Tensor mT() const { return transpose(-2, -1); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  // Elements start, start+step, ... < end along `dim` (end is clamped; negatives count from end).
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  // Index `i` along `dim`, removing that dim.
  Tensor select(int64_t dim, int64_t i) const;
  // Broadcasts size-1 dims to `shape` with stride 0 (may add leading dims). -1 keeps a dim.
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;

  // ---- copies ------------------------------------------------------------------------------
  Tensor contiguous() const;  // self if already contiguous, else a contiguous copy
  Tensor clone() const;       // always a new contiguous copy
  Tensor to(DType dtype) const;
  // Copies `src` (broadcast to this shape, converted to this dtype) into this tensor's memory.
  void copy_(const Tensor& src);
  // Sets every element to `value`.
  void fill_(double value);

  // Internal constructor for views: shares `storage`.
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset, DType dtype);

 private:
  void check_defined(const char* op) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::f32;
};

template <class T> T* Tensor::data() const {
  check_defined("data");
  if (dtype_of<T>() != dtype_)
    throw DTypeError("Tensor::data: tensor holds " + std::string(dtype_name(dtype_)) +
                     " but was read as " + std::string(dtype_name(dtype_of<T>())));
  return static_cast<T*>(storage_->data()) + offset_;
}

template <class T>
Tensor Tensor::from_data(const T* values, const Shape& shape) {
  Tensor t = empty(shape, dtype_of<T>());
  std::copy(values, values + t.numel(), t.data<T>());
  return t;
}

}  // namespace lumen
