// Software prefetch of the rows a kernel reads or writes next, for layers streamed from beyond L2.
// The NHWC 3x3 kernel touches each pixel's channels one tile at a time, 32 bytes at a stride of
// the pixel size, which the hardware prefetchers do not follow once a pixel spans several cache
// lines; it prefetches its next pass's rows in address order instead, spread over the current
// pass so that the requests do not queue up behind each other. The NHWC GEMM likewise prefetches
// the next block of activation rows, six rows of many lines at once. Included inside namespace
// sepconv::<isa>.
#pragma once

#include <cstdint>

namespace sepconv {
namespace SEPCONV_ISA_NS {

// `rows` row segments of `floats` floats from `first`, `row_stride` floats apart, into L2 (for
// writing when Write), one cache line at a time over `steps` calls of step(). Nothing is
// dereferenced, and `first` may lie outside the array when rows == 0.
template <bool Write>
class RowsAhead {
 public:
  RowsAhead(const float* first, int64_t floats, int64_t row_stride, int64_t rows, int64_t steps)
      : next_(reinterpret_cast<uintptr_t>(first)),
        span_(floats * int64_t(sizeof(float))),
        stride_(row_stride * int64_t(sizeof(float))),
        left_(rows > 0 ? rows * ((span_ + kLine - 1) / kLine) : 0),
        per_step_(left_ > 0 && steps > 0 ? (left_ + steps - 1) / steps : left_) {
    end_ = next_ + span_;
  }

  void step() {
    for (int64_t k = 0; k < per_step_ && left_ > 0; ++k, --left_) {
      __builtin_prefetch(reinterpret_cast<const void*>(next_), Write ? 1 : 0, 2);
      next_ += kLine;
      if (next_ >= end_) {
        end_ += stride_;
        next_ = end_ - span_;
      }
    }
  }

 private:
  static constexpr int64_t kLine = 64;
  uintptr_t next_, end_;  // integers: the addresses may lie outside the array
  int64_t span_, stride_, left_, per_step_;
};

// The input rows a kernel reads next and the output rows it writes next, stepped together.
struct NextRows {
  RowsAhead<false> in;
  RowsAhead<true> out;
  void step() {
    in.step();
    out.step();
  }
};

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
