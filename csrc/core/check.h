// Argument checking shared by every operator: messages name the argument and show the shapes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>

#include "sepconv/sepconv.h"

namespace sepconv {
namespace detail {

// Element counts above this are rejected, so every byte offset a kernel forms fits in int64.
constexpr int64_t kMaxElements = int64_t(1) << 58;
// Individual sizes, strides, dilations and paddings above this are rejected before any arithmetic.
constexpr int64_t kMaxDim = int64_t(1) << 31;

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw InvalidArgument(os.str());
}

std::string shape_str(std::initializer_list<int64_t> dims);

void require_positive(int64_t v, const char* name);
void require_in_range(int64_t v, int64_t lo, const char* name);

// a * b, or InvalidArgument naming `what` if the product exceeds kMaxElements.
int64_t checked_mul(int64_t a, int64_t b, const char* what);
int64_t checked_numel(std::initializer_list<int64_t> dims, const char* what);

void require_pointer(const void* p, const char* name);
// y[0, y_count) must not share any byte with other[0, other_count) (other may be null).
void require_disjoint(const float* y, int64_t y_count, const float* other, int64_t other_count,
                      const char* other_name);

}  // namespace detail
}  // namespace sepconv
