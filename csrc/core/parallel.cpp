#include "core/parallel.h"

#include <atomic>
#include <cstdlib>

#include "core/check.h"

namespace sepconv {

namespace {

int default_threads() {
  if (const char* env = std::getenv("SEPCONV_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int> g_threads{0};

}  // namespace

void set_num_threads(int n) {
  if (n < 1) detail::fail("num_threads must be >= 1, got ", n);
  g_threads.store(n);
}

int get_num_threads() {
  int n = g_threads.load();
  if (n == 0) {
    n = default_threads();
    g_threads.store(n);
  }
  return n;
}

bool openmp_enabled() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

namespace detail {

bool tasks_unbalanced(int64_t tasks) {
  const int64_t threads = get_num_threads();
  return threads > 1 && tasks % threads != 0;
}

Split split_for(int64_t total, int64_t other_tasks, int64_t min_tasks, int64_t unit,
                int64_t max_size) {
  unit = std::max<int64_t>(1, unit);
  const int64_t units = std::max<int64_t>(1, ceil_div(total, unit));
  int64_t parts = ceil_div(std::max<int64_t>(1, min_tasks), std::max<int64_t>(1, other_tasks));
  if (max_size > 0) parts = std::max(parts, ceil_div(units, std::max<int64_t>(1, max_size / unit)));
  parts = std::clamp<int64_t>(parts, 1, units);
  while (parts < units && tasks_unbalanced(parts * std::max<int64_t>(1, other_tasks))) ++parts;
  return Split{total, unit, parts};
}

}  // namespace detail
}  // namespace sepconv
