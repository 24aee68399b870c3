// The rescale-and-accumulate step of the mergeable power-gradient state (lse.hpp) over many tensors:
// when one sample's state (m_k, s_k, g_k) merges into (m, s, u), every element of u becomes
//     u <- a u + b g,   a = e^(m - M), b = e^(m_k - M), M = max(m, m_k)
// with (a, b) per param group (each group has its own power N, hence its own weights). One call walks
// every tensor of a model (homotopt.torch.ProgPowerHP calls it K times a step, and once more for the
// final mu <- mu + e u, which is the same rule with a = 1, b = e).
//
// Arrays: per tensor, u (written) and g (read) of n elements, one dtype (float32 or float64), both
// contiguous, on one device; u and g must not overlap. The coefficient table is G x 2 float64 in the
// arrays' memory space (host memory for CPU tensors, device memory for CUDA ones): row g = (a, b), read
// by the kernel, so a GPU caller never waits for the host. b == 0 or g == nullptr leaves g unread:
// u <- a u exactly, and a NaN in the gradient of an omitted sample cannot reach u (a null g is how
// homotopt.torch rescales u = p.grad in place before autograd adds the next sample into it). With
// a == 1 and g unread the tensor is not touched at all (the rule would rewrite u unchanged). `flag` (one float64, same memory space)
// is set to 1 when some g read with b != 0 is NaN or infinite (it is never reset here).
// The arithmetic is in float64, rounded once to the dtype; CPU and CUDA give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

// One tensor of a call: n elements of u (written) and g (read), param group `group`.
struct PowerAccumulateTensor {
  void* u;
  const void* g;  // nullptr: no g (u <- a u)
  std::int64_t n;
  DType dtype;
  std::int32_t group;
};

// The element rule. Products rounded separately (no fused multiply-add: the CPU compiles with
// -ffp-contract=off, the CUDA file with --fmad=false), so both backends round identically.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T power_accumulate_element(T u, T g, double a, double b) {
  const double au = a * static_cast<double>(u);
  return static_cast<T>(b == 0.0 ? au : au + b * static_cast<double>(g));
}

// 0 for a finite g, NaN otherwise (g * 0): summed branch-free to detect non-finite gradients.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T power_accumulate_probe(T g) {
  return g * T(0);
}

// u <- a_g u + b_g g for every tensor; checks the tensors and the table (invalid input throws
// homotopt::Error or TypeError before anything is written). On CUDA the work is enqueued on `stream`
// (a cudaStream_t, 0 for the legacy default stream) and the call returns at once.
HOMOTOPT_API void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, const Device& device,
                                   const double* coefficients, std::int64_t groups, double* flag,
                                   void* stream = nullptr);

}  // namespace homotopt
