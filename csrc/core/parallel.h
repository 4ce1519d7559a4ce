// The one way operators run in parallel: a single OpenMP region over independent tasks, with the
// process-wide thread count (set_num_threads) passed explicitly.
#pragma once

#include <algorithm>
#include <cstdint>

#include "sepconv/sepconv.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace sepconv {
namespace detail {

// Calls with less work than this (multiply-adds) run on the calling thread: waking the OpenMP
// team costs 1-3 us, as much as the work itself (a prepacked 8-channel 4x4 depthwise layer's
// call went from ~3.2 to ~2 us from Python on 2 threads).
constexpr int64_t kMinParallelWork = int64_t(1) << 16;

// Runs task(i, thread) for i in [0, num_tasks); `work` is the call's total multiply-adds (or
// elements touched). Never throws into the region: callers validate and allocate before calling.
template <typename Task>
void parallel_for(int64_t num_tasks, int64_t work, Task&& task) {
  const int threads = work < kMinParallelWork ? 1 : get_num_threads();
  if (threads <= 1 || num_tasks <= 1) {
    for (int64_t i = 0; i < num_tasks; ++i) task(i, 0);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < num_tasks; ++i) task(i, omp_get_thread_num());
#else
  for (int64_t i = 0; i < num_tasks; ++i) task(i, 0);
#endif
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// `total` items as `parts` contiguous ranges of whole `unit`s (the last unit may be short) whose
// sizes differ by at most one unit: part i is [begin(i), end(i)). Blocks of ceil(total / parts)
// would leave fewer, uneven parts (14 rows for 8 tasks: 7 blocks of 2, 4 on one thread and 3 on
// the other); even parts give each of the static schedule's threads the same work when the
// task count is a multiple of the threads.
struct Split {
  int64_t total, unit, parts;
  int64_t begin(int64_t i) const {
    return std::min(total, i * ceil_div(total, unit) / parts * unit);
  }
  int64_t end(int64_t i) const { return begin(i + 1); }
  int64_t max_size() const {
    return std::min(total, ceil_div(ceil_div(total, unit), parts) * unit);
  }
};

// Whether `tasks` equal tasks leave some of the process-wide threads one task short.
bool tasks_unbalanced(int64_t tasks);

// An even split of `total` into at least `min_tasks` parts when multiplied by `other_tasks`, no
// part larger than `max_size` (0: any), as many parts as there are units at most, and, where the
// units allow, a task count that the threads divide.
Split split_for(int64_t total, int64_t other_tasks, int64_t min_tasks, int64_t unit = 1,
                int64_t max_size = 0);

}  // namespace detail
}  // namespace sepconv
