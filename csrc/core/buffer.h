// Scratch memory the kernels overwrite before reading: allocated without the zero-fill (and its page
// faults, ~0.2 ms for a 2 MB intermediate) that std::vector<float>(n) would do on every call.
#pragma once

#include <cstdint>
#include <memory>

namespace sepconv {
namespace detail {

using Scratch = std::unique_ptr<float[]>;

inline Scratch alloc_scratch(int64_t n) { return Scratch(new float[n > 0 ? n : 1]); }

}  // namespace detail
}  // namespace sepconv
