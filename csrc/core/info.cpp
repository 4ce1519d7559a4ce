#include "core/check.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "sepconv/sepconv.h"

#define SEPCONV_STR2(x) #x
#define SEPCONV_STR(x) SEPCONV_STR2(x)

namespace sepconv {

const char* version() { return SEPCONV_STR(SEPCONV_VERSION); }

const char* compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

double run_fma_probe(int64_t iterations) {
  if (iterations < 1) detail::fail("run_fma_probe: iterations must be >= 1, got ", iterations);
  const kernels::KernelTable& k = detail::active_kernels();
  const int threads = get_num_threads();
  // A call through the table cannot be optimised away; its sum is not needed.
  detail::parallel_for(threads, detail::kMinParallelWork, [&](int64_t task, int) {
    k.fma_peak(iterations, 0.5f + float(task));
  });
  return double(threads) * double(iterations) * double(k.fma_peak_flops);
}

}  // namespace sepconv
