// Roofline probe: peak fp32 FMA throughput and triad bandwidth at L1 / L2 / L3 / DRAM working sets,
// on one thread and on all threads. Prints a table; `--json PATH` also writes the medians.
//
// Build: part of the benchmarks (target sepconv_machine), or standalone:
//   g++ -O2 -fopenmp bench/machine.cpp -o machine
// No -mavx2 is needed (nor wanted) on the command line: the AVX2+FMA and AVX-512 loops carry
// __attribute__((target(...))) and run only if __builtin_cpu_supports says so; everything
// else is baseline code, so the binary runs (scalar fallback) on any x86-64 or other CPU.
//
// Flags: --json PATH   write results as JSON
//        --samples N   timed samples per measurement (default 7; the median is reported)
//        --threads N   thread count for the "all threads" column (default: OpenMP max threads)
//
// Method. FMA: 12 independent accumulators (acc = acc * m + a) per iteration, in the widest
// vectors the CPU runs (AVX-512, else AVX2, else scalar), enough to cover FMA latency x
// throughput on current x86 cores; 2 FLOP per lane per FMA. Triad: a[i] = b[i] + s * c[i]
// over three float arrays whose total size is the working set, counted as 12 bytes per element
// (STREAM convention: write-allocate traffic not counted). L1/L2/L3 working sets are per thread
// (each thread owns its arrays, so the all-threads column is the aggregate of private caches);
// the DRAM working set (512 MiB) is the total, split across threads. Each sample moves ~2 GB per
// thread (at least one pass); all threads start and stop at barriers, so the slowest one counts.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MACHINE_X86 1
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool have_avx2_fma() {
#if defined(MACHINE_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// The widest FMA this CPU runs: its loop gives the peak (the sepconv kernels of that ISA are
// compared with it). Triad bandwidth does not depend on the vector width and uses AVX2.
enum class FmaPath { Scalar, Avx2, Avx512 };

FmaPath widest_fma() {
#if defined(MACHINE_X86) && (defined(__GNUC__) || defined(__clang__))
  if (have_avx2_fma() && __builtin_cpu_supports("avx512f")) return FmaPath::Avx512;
#endif
  return have_avx2_fma() ? FmaPath::Avx2 : FmaPath::Scalar;
}

int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int thread_id() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

inline void compiler_barrier() {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" ::: "memory");
#endif
}

// ---- FMA peak ----------------------------------------------------------------------------------

#if defined(MACHINE_X86)
constexpr double kFlopsPerIterAvx2 = 12.0 * 8 * 2;

__attribute__((target("avx2,fma"), noinline)) float fma_loop_avx2(int64_t iters, float seed) {
  const __m256 m = _mm256_set1_ps(0.999999f);
  const __m256 a = _mm256_set1_ps(1e-6f);
  __m256 c0 = _mm256_set1_ps(seed), c1 = _mm256_set1_ps(seed + 0.01f);
  __m256 c2 = _mm256_set1_ps(seed + 0.02f), c3 = _mm256_set1_ps(seed + 0.03f);
  __m256 c4 = _mm256_set1_ps(seed + 0.04f), c5 = _mm256_set1_ps(seed + 0.05f);
  __m256 c6 = _mm256_set1_ps(seed + 0.06f), c7 = _mm256_set1_ps(seed + 0.07f);
  __m256 c8 = _mm256_set1_ps(seed + 0.08f), c9 = _mm256_set1_ps(seed + 0.09f);
  __m256 c10 = _mm256_set1_ps(seed + 0.10f), c11 = _mm256_set1_ps(seed + 0.11f);
  for (int64_t i = 0; i < iters; ++i) {
    c0 = _mm256_fmadd_ps(c0, m, a);
    c1 = _mm256_fmadd_ps(c1, m, a);
    c2 = _mm256_fmadd_ps(c2, m, a);
    c3 = _mm256_fmadd_ps(c3, m, a);
    c4 = _mm256_fmadd_ps(c4, m, a);
    c5 = _mm256_fmadd_ps(c5, m, a);
    c6 = _mm256_fmadd_ps(c6, m, a);
    c7 = _mm256_fmadd_ps(c7, m, a);
    c8 = _mm256_fmadd_ps(c8, m, a);
    c9 = _mm256_fmadd_ps(c9, m, a);
    c10 = _mm256_fmadd_ps(c10, m, a);
    c11 = _mm256_fmadd_ps(c11, m, a);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                           _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float r = 0;
  for (float v : lanes) r += v;
  return r;
}

constexpr double kFlopsPerIterAvx512 = 12.0 * 16 * 2;

__attribute__((target("avx512f"), noinline)) float fma_loop_avx512(int64_t iters, float seed) {
  const __m512 m = _mm512_set1_ps(0.999999f);
  const __m512 a = _mm512_set1_ps(1e-6f);
  __m512 c[12];
  for (int j = 0; j < 12; ++j) c[j] = _mm512_set1_ps(seed + 0.01f * j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) c[j] = _mm512_fmadd_ps(c[j], m, a);
  }
  __m512 s = c[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, c[j]);
  return _mm512_reduce_add_ps(s);
}
#endif

constexpr double kFlopsPerIterScalar = 12.0 * 2;

__attribute__((noinline)) float fma_loop_scalar(int64_t iters, float seed) {
  const float m = 0.999999f, a = 1e-6f;
  float c[12];
  for (int j = 0; j < 12; ++j) c[j] = seed + 0.01f * j;
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < 12; ++j) c[j] = c[j] * m + a;
  }
  float r = 0;
  for (float v : c) r += v;
  return r;
}

// ---- triad -------------------------------------------------------------------------------------

#if defined(MACHINE_X86)
__attribute__((target("avx2,fma"), noinline)) void triad_avx2(float* __restrict a,
                                                                const float* __restrict b,
                                                                const float* __restrict c,
                                                                int64_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {  // n is a multiple of 16, arrays 64-byte aligned
    const __m256 r0 = _mm256_fmadd_ps(vs, _mm256_load_ps(c + i), _mm256_load_ps(b + i));
    const __m256 r1 = _mm256_fmadd_ps(vs, _mm256_load_ps(c + i + 8), _mm256_load_ps(b + i + 8));
    _mm256_store_ps(a + i, r0);
    _mm256_store_ps(a + i + 8, r1);
  }
}
#endif

__attribute__((noinline)) void triad_scalar(float* __restrict a, const float* __restrict b,
                                            const float* __restrict c, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// ---- timing harness ----------------------------------------------------------------------------

struct Stat {
  double median = 0, lo = 0, hi = 0;
  // Rate over the busiest thread's CPU time instead of wall time, and CPU time / wall time: on a
  // shared machine a share well below 1 means the numbers are lowered by other processes.
  double cpu_median = 0, cpu_share = 1;
};

// CPU time consumed by the calling thread (0 where unavailable).
double thread_cpu_now() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec + 1e-9 * ts.tv_nsec;
#endif
  return 0;
}

struct Rounds {
  std::vector<double> wall, cpu;  // per timed round; cpu = max over threads
};

Stat summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stat s;
  if (v.empty()) return s;
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.lo = v.front();
  s.hi = v.back();
  return s;
}

// `work` units per round: the rates (work / time) of the rounds.
Stat summarize_rounds(const Rounds& r, double work) {
  std::vector<double> wall, cpu, share;
  for (size_t i = 0; i < r.wall.size(); ++i) {
    wall.push_back(work / r.wall[i]);
    if (r.cpu[i] > 0) {
      cpu.push_back(work / r.cpu[i]);
      share.push_back(r.cpu[i] / r.wall[i]);
    }
  }
  Stat s = summarize(wall);
  if (!cpu.empty()) {
    s.cpu_median = summarize(cpu).median;
    s.cpu_share = summarize(share).median;
  }
  return s;
}

// Runs body(thread) on `threads` threads for `samples` + 1 (warm-up) rounds, each round between
// barriers; returns the wall time and the busiest thread's CPU time of each timed round.
// setup(thread) runs once per thread first (allocation / first touch), teardown(thread) at the end.
template <typename Setup, typename Body, typename Teardown>
Rounds timed_rounds(int threads, int samples, Setup&& setup, Body&& body, Teardown&& teardown) {
  std::vector<double> times(static_cast<size_t>(samples + 1), 0.0);
  std::vector<double> cpu_max(static_cast<size_t>(samples + 1), 0.0);
  std::vector<double> cpu(static_cast<size_t>(threads), 0.0);
  double t0 = 0;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
  {
    const int tid = thread_id();
    setup(tid);
    for (int s = 0; s <= samples; ++s) {
#if defined(_OPENMP)
#pragma omp barrier
#pragma omp single
#endif
      t0 = now();  // the implicit barrier after `single` releases everyone together
      const double c0 = thread_cpu_now();
      body(tid);
      cpu[static_cast<size_t>(tid)] = thread_cpu_now() - c0;
#if defined(_OPENMP)
#pragma omp barrier
#pragma omp single
#endif
      {
        times[static_cast<size_t>(s)] = now() - t0;
        cpu_max[static_cast<size_t>(s)] = *std::max_element(cpu.begin(), cpu.end());
      }
    }
    teardown(tid);
  }
  Rounds r;
  r.wall.assign(times.begin() + 1, times.end());  // drop the warm-up round
  r.cpu.assign(cpu_max.begin() + 1, cpu_max.end());
  return r;
}

Stat measure_fma(int threads, int samples, FmaPath path) {
  auto run = [path](int64_t iters) -> float {
#if defined(MACHINE_X86)
    if (path == FmaPath::Avx512) return fma_loop_avx512(iters, 0.5f);
    if (path == FmaPath::Avx2) return fma_loop_avx2(iters, 0.5f);
#endif
    return fma_loop_scalar(iters, 0.5f);
  };
#if defined(MACHINE_X86)
  const double per_iter = path == FmaPath::Avx512 ? kFlopsPerIterAvx512
                          : path == FmaPath::Avx2 ? kFlopsPerIterAvx2
                                                  : kFlopsPerIterScalar;
#else
  const double per_iter = kFlopsPerIterScalar;
#endif
  // Calibrate to ~60 ms per round on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    const double t = now();
    volatile float sink = run(iters);
    (void)sink;
    const double dt = now() - t;
    if (dt > 0.02 || iters > (int64_t(1) << 40)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(iters * 0.06 / dt));
      break;
    }
    iters *= 4;
  }
  std::vector<float> sinks(static_cast<size_t>(threads), 0.0f);
  const Rounds rounds = timed_rounds(
      threads, samples, [](int) {},
      [&](int tid) { sinks[static_cast<size_t>(tid)] += run(iters); }, [](int) {});
  volatile float keep = sinks[0];
  (void)keep;
  return summarize_rounds(rounds, per_iter * iters * threads / 1e9);
}

float* alloc_floats(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) {
    std::fprintf(stderr, "machine: out of memory (%zu bytes)\n", bytes);
    std::exit(1);
  }
  return static_cast<float*>(p);
}

// working_set: bytes of the three arrays, per thread (per_thread) or in total.
Stat measure_triad(int64_t working_set, bool per_thread, int threads, int samples, bool avx2) {
  const int64_t bytes = per_thread ? working_set : working_set / threads;
  const int64_t n = std::max<int64_t>(16, bytes / 12 / 16 * 16);
  // Repeat so that one round moves ~2 GB per thread (at least one pass).
  const int64_t reps = std::max<int64_t>(1, static_cast<int64_t>(2e9 / (12.0 * n)));
  std::vector<float*> arrays(static_cast<size_t>(threads) * 3, nullptr);
  auto setup = [&](int tid) {
    float** p = &arrays[static_cast<size_t>(tid) * 3];
    for (int k = 0; k < 3; ++k) {
      p[k] = alloc_floats(n);
      for (int64_t i = 0; i < n; ++i) p[k][i] = 1.0f + 0.001f * static_cast<float>(i % 1000);
    }
  };
  auto body = [&](int tid) {
    float** p = &arrays[static_cast<size_t>(tid) * 3];
    for (int64_t r = 0; r < reps; ++r) {
#if defined(MACHINE_X86)
      if (avx2) {
        triad_avx2(p[0], p[1], p[2], n, 0.5f);
      } else {
        triad_scalar(p[0], p[1], p[2], n, 0.5f);
      }
#else
      triad_scalar(p[0], p[1], p[2], n, 0.5f);
#endif
      compiler_barrier();
    }
  };
  auto teardown = [&](int tid) {
    for (int k = 0; k < 3; ++k) std::free(arrays[static_cast<size_t>(tid) * 3 + k]);
  };
  (void)avx2;
  const Rounds rounds = timed_rounds(threads, samples, setup, body, teardown);
  return summarize_rounds(rounds, 12.0 * n * reps * threads / 1e9);
}

std::string cpuinfo_field(const char* key) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  const size_t klen = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, klen, key) == 0) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      // Require the key to be the whole field name ("model" vs "model name").
      const std::string name = line.substr(0, colon);
      if (name.substr(0, name.find_last_not_of(" \t") + 1) != key) continue;
      return v;
    }
  }
  return "";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void usage() {
  std::fprintf(stderr, "usage: machine [--json PATH] [--samples N] [--threads N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int samples = 7;
  int all_threads = max_threads();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      const size_t eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--json" || a.rfind("--json=", 0) == 0) {
      json_path = value();
    } else if (a == "--samples" || a.rfind("--samples=", 0) == 0) {
      samples = std::atoi(value().c_str());
      if (samples < 1) usage();
    } else if (a == "--threads" || a.rfind("--threads=", 0) == 0) {
      all_threads = std::atoi(value().c_str());
      if (all_threads < 1) usage();
    } else {
      usage();
    }
  }

  const bool avx2 = have_avx2_fma();
  const FmaPath fma = widest_fma();
  const char* kernel = fma == FmaPath::Avx512 ? "avx512f (12 x zmm accumulators)"
                       : fma == FmaPath::Avx2 ? "avx2+fma (12 x ymm accumulators)"
                                              : "scalar (12 accumulators)";
  std::string cpu = cpuinfo_field("model name");
  if (cpu.empty()) cpu = "unknown";
  const std::string family = cpuinfo_field("cpu family"), model = cpuinfo_field("model");
  const std::string measured = utc_now();

  std::printf("sepconv machine probe, %s\n", measured.c_str());
  std::printf("CPU: %s (family %s, model %s), %d threads for 'all', kernels: %s\n", cpu.c_str(),
              family.empty() ? "?" : family.c_str(), model.empty() ? "?" : model.c_str(),
              all_threads, kernel);
  std::printf("median of %d samples [min - max]; L1/L2/L3 working sets per thread, DRAM total\n\n",
              samples);
  std::printf("'cpu share' = CPU time / wall time of the busiest thread; below ~0.95 other\n"
              "processes took the CPU and the wall-time numbers are low (the over-CPU-time rate is\n"
              "then the better estimate for FMA and private-cache bandwidth)\n\n");
  const std::string all_label = std::to_string(all_threads) + " threads";
  std::printf("%-26s %34s %34s\n", "", "1 thread", all_label.c_str());
  std::fflush(stdout);

  struct Row {
    const char* key;
    const char* label;
    int64_t ws;  // 0 = FMA
    bool per_thread;
    Stat one, all;
  };
  Row rows[] = {
      {"peak_gflops", "peak fp32 FMA (GFLOP/s)", 0, true, {}, {}},
      {"l1_gbps", "triad L1 16 KiB (GB/s)", int64_t(16) << 10, true, {}, {}},
      {"l2_gbps", "triad L2 256 KiB (GB/s)", int64_t(256) << 10, true, {}, {}},
      {"l3_gbps", "triad L3 8 MiB (GB/s)", int64_t(8) << 20, true, {}, {}},
      {"dram_gbps", "triad DRAM 512 MiB (GB/s)", int64_t(512) << 20, false, {}, {}},
  };
  for (Row& r : rows) {
    if (r.ws == 0) {
      r.one = measure_fma(1, samples, fma);
      r.all = measure_fma(all_threads, samples, fma);
    } else {
      r.one = measure_triad(r.ws, r.per_thread, 1, samples, avx2);
      r.all = measure_triad(r.ws, r.per_thread, all_threads, samples, avx2);
    }
    char one[96], all[96];
    std::snprintf(one, sizeof one, "%.1f [%.1f - %.1f]", r.one.median, r.one.lo, r.one.hi);
    std::snprintf(all, sizeof all, "%.1f [%.1f - %.1f]", r.all.median, r.all.lo, r.all.hi);
    std::printf("%-26s %34s %34s\n", r.label, one, all);
    std::snprintf(one, sizeof one, "%.1f (cpu share %.2f)", r.one.cpu_median, r.one.cpu_share);
    std::snprintf(all, sizeof all, "%.1f (cpu share %.2f)", r.all.cpu_median, r.all.cpu_share);
    std::printf("%-26s %34s %34s\n", "  over CPU time", one, all);
    std::fflush(stdout);
  }

  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) {
      std::fprintf(stderr, "machine: cannot write %s\n", json_path.c_str());
      return 1;
    }
    char buf[512];
    out << "{\n";
    out << "  \"measured\": \"" << measured << "\",\n";
    out << "  \"cpu_model\": \"" << json_escape(cpu) << "\",\n";
    out << "  \"cpu_family\": \"" << json_escape(family) << "\",\n";
    out << "  \"cpu_model_number\": \"" << json_escape(model) << "\",\n";
    out << "  \"threads_all\": " << all_threads << ",\n";
    out << "  \"fma_kernel\": \"" << kernel << "\",\n";
    out << "  \"samples\": " << samples << ",\n";
    out << "  \"statistic\": \"median over wall time (_range: [min, max]; _cputime: median over the "
           "busiest thread's CPU time; _cpu_share: CPU time / wall time)\",\n";
    out << "  \"working_sets_bytes\": {\"l1\": " << (16 << 10) << ", \"l2\": " << (256 << 10)
        << ", \"l3\": " << (8 << 20) << ", \"dram\": " << (int64_t(512) << 20)
        << ", \"note\": \"l1/l2/l3 per thread, dram total; triad counts 12 bytes per element\"},\n";
    for (const Row& r : rows) {
      const std::string k1 = r.ws == 0 ? "peak_gflops_1t" : r.key;
      const std::string ka = std::string(r.key) + "_all";
      for (const auto& [key, st] : {std::make_pair(k1, r.one), std::make_pair(ka, r.all)}) {
        std::snprintf(buf, sizeof buf,
                      "  \"%s\": %.2f,\n  \"%s_range\": [%.2f, %.2f],\n"
                      "  \"%s_cputime\": %.2f,\n  \"%s_cpu_share\": %.3f,\n",
                      key.c_str(), st.median, key.c_str(), st.lo, st.hi, key.c_str(),
                      st.cpu_median, key.c_str(), st.cpu_share);
        out << buf;
      }
    }
#if defined(__VERSION__)
    out << "  \"compiler\": \"" << json_escape(__VERSION__) << "\"\n";
#else
    out << "  \"compiler\": \"unknown\"\n";
#endif
    out << "}\n";
    std::printf("\nwrote %s\n", json_path.c_str());
  }
  return 0;
}
