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

int64_t block_size_for(int64_t total, int64_t other_tasks, int64_t min_tasks, int64_t min_block) {
  const int64_t wanted_blocks = ceil_div(min_tasks, other_tasks < 1 ? 1 : other_tasks);
  int64_t block = ceil_div(total, wanted_blocks < 1 ? 1 : wanted_blocks);
  if (block < min_block) block = min_block;
  if (block > total) block = total;
  return block < 1 ? 1 : block;
}

}  // namespace detail
}  // namespace sepconv
