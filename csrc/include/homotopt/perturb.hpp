// The samples of Prog-PowerHP over many tensors in one call: w <- mu + sigma eps, where eps is the normals
// offset, offset + 1, ... of the Philox stream at `key` (random.hpp: the same numbers as random_fill at
// that offset). homotopt.torch.ProgPowerHP writes sample k into the parameters with it (the offset of a
// tensor is k D + its place in the concatenated parameters), on the CPU and on CUDA.
//
// Arrays: per tensor, w (written) and mu (read) of n elements, one dtype (float32 or float64), both
// contiguous, on one device; w and mu are the same memory or do not overlap. The rule is in float64,
// mu + sigma * eps with the product rounded on its own (no fused multiply-add: -ffp-contract=off on the
// CPU, --fmad=false for cuda/perturb.cu), rounded once to the dtype: CPU and CUDA give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/philox.hpp"

namespace homotopt {

// One tensor of a call: n elements of w (written) from mu (read), scale sigma, stream offset `offset`.
struct PerturbTensor {
  void* w;
  const void* mu;
  std::int64_t n;
  DType dtype;
  double sigma;
  std::uint64_t offset;
};

// The element rule: eps is a float32-accurate normal (philox.hpp's normal_pair).
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T perturb_element(T mu, double eps, double sigma) {
  const double step = sigma * eps;
  return static_cast<T>(static_cast<double>(mu) + step);
}

// w <- mu + sigma eps for every tensor; checks the tensors first (invalid input throws homotopt::Error or
// TypeError before anything is written). On CUDA the work is enqueued on `stream` (a cudaStream_t, 0 for
// the legacy default stream) and the call returns at once.
HOMOTOPT_API void random_perturb(const std::vector<PerturbTensor>& tensors, const Device& device,
                                 const RandomKey& key, void* stream = nullptr);

}  // namespace homotopt
