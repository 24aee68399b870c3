// CPU backend of power_accumulate.hpp: each tensor split over threads in slices of whole cache lines;
// the element rule is the header's, so the bits do not depend on the thread count.
#include <cstdint>
#include <vector>

#include "cpu/kernels.hpp"
#include "cpu/parallel.hpp"
#include "homotopt/macros.hpp"
#include "backend.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

// Elements [i0, i1) of one tensor; returns whether some g probe was not 0 (never when b == 0). The flag
// is an integer OR, which vectorizes; a floating-point sum of probes would be a serial chain.
template <class T>
bool accumulate_range(T* HOMOTOPT_RESTRICT u, const T* HOMOTOPT_RESTRICT g, std::int64_t i0, std::int64_t i1,
                   double a, double b) {
  if (b == 0.0 || g == nullptr) {
    for (std::int64_t i = i0; i < i1; ++i) u[i] = power_accumulate_element(u[i], T(0), a, 0.0);
    return false;
  }
  int bad = 0;
  for (std::int64_t i = i0; i < i1; ++i) {
    u[i] = power_accumulate_element(u[i], g[i], a, b);
    bad |= power_accumulate_probe(g[i]) != T(0);  // NaN != 0
  }
  return bad != 0;
}

template <class T>
bool accumulate(const PowerAccumulateTensor& t, double a, double b) {
  T* u = static_cast<T*>(t.u);
  const T* g = static_cast<const T*>(t.g);
  constexpr std::int64_t kGrain = 4096;
  const int nt = threads_for(t.n * 3, (t.n + kGrain - 1) / kGrain);
  int bad = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : bad)
  {
    std::int64_t i0, i1;
    split_range(t.n, team_size(), thread_id(), kGrain, i0, i1);
    bad |= accumulate_range<T>(u, g, i0, i1, a, b) ? 1 : 0;
  }
  return bad != 0;
}

}  // namespace

void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, const double* coefficients, double* flag) {
  bool bad = false;
  for (const PowerAccumulateTensor& t : tensors) {
    const double a = coefficients[2 * t.group], b = coefficients[2 * t.group + 1];
    if (a == 1.0 && (b == 0.0 || t.g == nullptr)) continue;  // u <- u: nothing to write
    bad |= t.dtype == DType::float32 ? accumulate<float>(t, a, b) : accumulate<double>(t, a, b);
  }
  if (bad) *flag = 1.0;
}

}  // namespace HOMOTOPT_CPU_NS
