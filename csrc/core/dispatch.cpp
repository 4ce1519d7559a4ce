// Runtime ISA selection: CPUID decides what can run, SEPCONV_ISA or set_isa() may force a path.
#include "core/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "core/check.h"

namespace sepconv {

namespace {

bool compiled(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(SEPCONV_HAVE_AVX2)
    case Isa::AVX2: return true;
#endif
#if defined(SEPCONV_HAVE_AVX512)
    case Isa::AVX512: return true;
#endif
#if defined(SEPCONV_HAVE_NEON)
    case Isa::NEON: return true;
#endif
    default: return false;
  }
}

// Only for an ISA that isa_supported() accepted: building a table runs code compiled for its ISA.
const kernels::KernelTable* table_for(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return &scalar::kernel_table();
#if defined(SEPCONV_HAVE_AVX2)
    case Isa::AVX2: return &avx2::kernel_table();
#endif
#if defined(SEPCONV_HAVE_AVX512)
    case Isa::AVX512: return &avx512::kernel_table();
#endif
#if defined(SEPCONV_HAVE_NEON)
    case Isa::NEON: return &neon::kernel_table();
#endif
    default: return nullptr;
  }
}

bool cpu_runs(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::AVX512:
      __builtin_cpu_init();
      // Every extension the AVX-512 kernels are compiled with (CMakeLists.txt).
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    case Isa::NEON: return true;
#endif
    default: return false;
  }
}

// Widest first. AVX-512 joined once its tests passed on a CPU that has it (AMD Zen 5,
// 2026-11-27), where it ran most of the benchmark's layers 1.1-1.9x faster than AVX2 (NCHW
// depthwise 3x3 s2 C96@112 0.90x, C144@56 0.97x; see BENCHMARKS.md).
constexpr Isa kAutoOrder[] = {Isa::NEON, Isa::AVX512, Isa::AVX2, Isa::Scalar};

Isa best_auto_isa() {
  for (Isa isa : kAutoOrder) {
    if (isa_supported(isa)) return isa;
  }
  return Isa::Scalar;
}

std::atomic<const kernels::KernelTable*> g_active{nullptr};
std::mutex g_init_mutex;

const kernels::KernelTable* initial_table() {
  const char* env = std::getenv("SEPCONV_ISA");
  Isa isa = best_auto_isa();
  if (env != nullptr && *env != '\0') {
    isa = parse_isa(env);
    if (!isa_supported(isa)) {
      detail::fail("SEPCONV_ISA=", env, ": this CPU or build cannot run ", isa_name(isa),
                   " kernels");
    }
  }
  return table_for(isa);
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
    case Isa::NEON: return "neon";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512, Isa::NEON}) {
    if (name == isa_name(isa)) return isa;
  }
  detail::fail("ISA '", name, "' is unknown (expected scalar, avx2, avx512 or neon)");
}

bool isa_supported(Isa isa) { return compiled(isa) && cpu_runs(isa); }

bool isa_auto_selected(Isa isa) {
  for (Isa a : kAutoOrder) {
    if (a == isa) return true;
  }
  return false;
}

void set_isa(Isa isa) {
  if (!isa_supported(isa)) {
    detail::fail("ISA ", isa_name(isa), " cannot run here: this CPU or build does not support it");
  }
  std::lock_guard<std::mutex> lock(g_init_mutex);
  g_active.store(table_for(isa));
}

Isa active_isa() { return detail::active_kernels().isa; }

namespace detail {

const kernels::KernelTable& active_kernels() {
  const kernels::KernelTable* t = g_active.load(std::memory_order_acquire);
  if (t != nullptr) return *t;
  std::lock_guard<std::mutex> lock(g_init_mutex);
  t = g_active.load();
  if (t == nullptr) {
    t = initial_table();
    g_active.store(t);
  }
  return *t;
}

}  // namespace detail
}  // namespace sepconv
