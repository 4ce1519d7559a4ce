#include "core/check.h"

#include <cstdint>

namespace sepconv {
namespace detail {

std::string shape_str(std::initializer_list<int64_t> dims) {
  std::ostringstream os;
  os << '(';
  bool first = true;
  for (int64_t d : dims) {
    if (!first) os << ", ";
    os << d;
    first = false;
  }
  os << ')';
  return os.str();
}

void require_in_range(int64_t v, int64_t lo, const char* name) {
  if (v < lo) fail(name, " must be >= ", lo, ", got ", v);
  if (v > kMaxDim) fail(name, " = ", v, " is too large: index arithmetic would overflow");
}

void require_positive(int64_t v, const char* name) { require_in_range(v, 1, name); }

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxElements) {
    fail(what, " has too many elements: the size would overflow");
  }
  return r;
}

int64_t checked_numel(std::initializer_list<int64_t> dims, const char* what) {
  int64_t n = 1;
  for (int64_t d : dims) n = checked_mul(n, d, what);
  return n;
}

void require_pointer(const void* p, const char* name) {
  if (p == nullptr) fail(name, " must not be null");
}

void require_disjoint(const float* y, int64_t y_count, const float* other, int64_t other_count,
                      const char* other_name) {
  if (other == nullptr) return;
  const auto y0 = reinterpret_cast<std::uintptr_t>(y);
  const auto y1 = y0 + static_cast<std::uintptr_t>(y_count) * sizeof(float);
  const auto o0 = reinterpret_cast<std::uintptr_t>(other);
  const auto o1 = o0 + static_cast<std::uintptr_t>(other_count) * sizeof(float);
  if (y0 < o1 && o0 < y1) fail("out overlaps ", other_name, ": the output must not alias an input");
}

}  // namespace detail
}  // namespace sepconv
