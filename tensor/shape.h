#pragma once
// Shapes and strides. Most tensors have rank <= 6, so a Dims keeps up to six extents inline and
// only goes to the heap beyond that: creating a tensor costs no allocation for its shape, yet
// there is no limit on rank.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace lumen {

class Dims {
 public:
  static constexpr size_t kInline = 6;

  Dims() = default;
  Dims(std::initializer_list<int64_t> xs) { assign(xs.begin(), xs.end()); }
  explicit Dims(const std::vector<int64_t>& xs) { assign(xs.begin(), xs.end()); }
  template <class It> Dims(It first, It last) { assign(first, last); }
  // A Dims of `n` copies of `value`.
  static Dims filled(size_t n, int64_t value) {
    Dims d;
    d.resize(n, value);
    return d;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t* data() { return size_ <= kInline ? inline_ : heap_.data(); }
  const int64_t* data() const { return size_ <= kInline ? inline_ : heap_.data(); }
  int64_t& operator[](size_t i) { return data()[i]; }
  int64_t operator[](size_t i) const { return data()[i]; }
  int64_t* begin() { return data(); }
  int64_t* end() { return data() + size_; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  int64_t back() const { return data()[size_ - 1]; }

  void resize(size_t n, int64_t value = 0) {
    // The common case stays inline: every new tensor's strides are made through filled(), so
    // a heap round trip here would cost each op a malloc.
    if (n <= kInline && size_ <= kInline) {
      for (size_t i = size_; i < n; ++i) inline_[i] = value;
      size_ = n;
      return;
    }
    std::vector<int64_t> tmp(begin(), end());
    tmp.resize(n, value);
    assign(tmp.begin(), tmp.end());
  }
  void push_back(int64_t x) {
    if (size_ < kInline) {
      inline_[size_++] = x;
      return;
    }
    if (size_ == kInline) heap_.assign(inline_, inline_ + kInline);
    heap_.push_back(x);
    ++size_;
  }
  void insert(size_t pos, int64_t x) {
    std::vector<int64_t> tmp(begin(), end());
    tmp.insert(tmp.begin() + static_cast<std::ptrdiff_t>(pos), x);
    assign(tmp.begin(), tmp.end());
  }
  void erase(size_t pos) {
    std::vector<int64_t> tmp(begin(), end());
    tmp.erase(tmp.begin() + static_cast<std::ptrdiff_t>(pos));
    assign(tmp.begin(), tmp.end());
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Dims& a, const Dims& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator!=(const Dims& a, const Dims& b) { return !(a == b); }

 private:
  template <class It> void assign(It first, It last) {
    size_t n = static_cast<size_t>(std::distance(first, last));
    size_ = n;
    if (n <= kInline) {
      std::copy(first, last, inline_);
      heap_.clear();
    } else {
      heap_.assign(first, last);
    }
  }

  size_t size_ = 0;
  int64_t inline_[kInline] = {};
  std::vector<int64_t> heap_;
};

using Shape = Dims;
using Strides = Dims;

// Product of the extents; 1 for a scalar (rank 0).
inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t x : s) n *= x;
  return n;
}

// Row-major strides of a freshly allocated tensor of this shape.
inline Strides contiguous_strides(const Shape& s) {
  Strides st = Strides::filled(s.size(), 1);
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

// "[2, 3, 4]": the form every error message and printout uses.
inline std::string shape_str(const Dims& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

// A negative dim counts from the end, as in Python. Throws IndexError naming `op` if out of range.
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op);

// The NumPy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace lumen
