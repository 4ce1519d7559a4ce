// Scratch memory the kernels overwrite before reading: allocated without the zero-fill (and its page
// faults, ~0.2 ms for a 2 MB intermediate) that std::vector<float>(n) would do on every call.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace sepconv {
namespace detail {

// Cache-line aligned (new float[] gives 16 bytes): a 64-byte vector load at any other offset
// splits two lines, which cost AVX-512 kernels reading these buffers up to 1.4x (NHWC depthwise
// input at 16 bytes past a line). Carved out of std::malloc, whose reuse of freed blocks the
// per-call scratch relies on: aligned operator new took fresh pages on every call here (NCHW 7x7
// C96@56, 213 -> 264-303 us).
constexpr size_t kBufferAlignment = 64;
struct FreeBlock {
  void* block;
  void operator()(float*) const { std::free(block); }
};
using Scratch = std::unique_ptr<float[], FreeBlock>;

inline Scratch alloc_scratch(int64_t n) {
  const size_t bytes = size_t(n > 0 ? n : 1) * sizeof(float) + kBufferAlignment;
  void* block = std::malloc(bytes);
  if (block == nullptr) throw std::bad_alloc();
  const auto address = reinterpret_cast<uintptr_t>(block);
  const auto aligned = (address + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  return Scratch(reinterpret_cast<float*>(aligned), FreeBlock{block});
}

// The same for packed weights an op shares between its copies: a functional call packs per call,
// and zero-filling 960 x 320 pointwise panels first cost 22 us next to the 60 us of packing.
inline std::shared_ptr<float[]> alloc_shared_floats(int64_t n) {
  Scratch s = alloc_scratch(n);
  const FreeBlock owner = s.get_deleter();
  return std::shared_ptr<float[]>(s.release(), owner);
}

// Scratch the calling thread keeps between calls, one buffer per slot (grows, never shrinks): a
// fresh 800 KB buffer costs ~0.35 ms of page faults per call here, more than a pass over it. Call
// outside parallel regions; a slot's buffer is overwritten by the next call that asks for it.
// The composite ops' unfused intermediates use the two stage slots.
enum class CachedSlot { ConvInput, ConvOutput, FirstStage, SecondStage, Count };
inline float* cached_scratch(CachedSlot slot, int64_t n) {
  struct Buffer {
    Scratch data;
    int64_t size = 0;
  };
  thread_local Buffer buffers[static_cast<int>(CachedSlot::Count)];
  Buffer& b = buffers[static_cast<int>(slot)];
  if (b.size < n) {
    b.data = alloc_scratch(n);
    b.size = n;
  }
  return b.data.get();
}

}  // namespace detail
}  // namespace sepconv
