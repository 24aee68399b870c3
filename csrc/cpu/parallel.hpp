// Internal: OpenMP helpers of the CPU backend (single-threaded when built without OpenMP).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#if defined(HOMOTOPT_WITH_OPENMP)
#include <omp.h>
#endif

namespace homotopt::cpu {

// The backend's thread count, one for the whole process. OpenMP's omp_set_num_threads sets a
// per-thread value (a Python thread started later would not see it), so the count lives here and
// every parallel region passes it explicitly (num_threads(...)). 0 until set: then OpenMP's default
// (OMP_NUM_THREADS, or the cores) as seen by the calling thread.
inline std::atomic<int>& thread_setting() {
  static std::atomic<int> n{0};
  return n;
}

inline int max_threads() {
#if defined(HOMOTOPT_WITH_OPENMP)
  const int n = thread_setting().load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
#else
  return 1;
#endif
}
inline int thread_id() {
#if defined(HOMOTOPT_WITH_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}
inline int team_size() {
#if defined(HOMOTOPT_WITH_OPENMP)
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// Threads worth starting for `work` units (about one flop or byte each) split in at most `pieces`:
// below ~64k units a parallel region costs more than it saves. 1 inside a parallel region (the
// runners parallelize over trials; nested regions would only add overhead).
inline int threads_for(std::int64_t work, std::int64_t pieces) {
#if defined(HOMOTOPT_WITH_OPENMP)
  if (omp_in_parallel()) return 1;
#endif
  constexpr std::int64_t kMinWorkPerThread = 1 << 16;
  const std::int64_t by_work = std::max<std::int64_t>(1, work / kMinWorkPerThread);
  return static_cast<int>(std::max<std::int64_t>(
      1, std::min<std::int64_t>({static_cast<std::int64_t>(max_threads()), by_work, pieces})));
}

// The half-open range [begin, end) of part `part` when `n` items are split in `parts` parts whose
// boundaries are multiples of `grain` (except the end).
inline void split_range(std::int64_t n, int parts, int part, std::int64_t grain, std::int64_t& begin,
                        std::int64_t& end) {
  const std::int64_t chunks = (n + grain - 1) / grain;
  const std::int64_t lo = chunks * part / parts, hi = chunks * (part + 1) / parts;
  begin = std::min(n, lo * grain);
  end = std::min(n, hi * grain);
}

}  // namespace homotopt::cpu
