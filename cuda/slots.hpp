// Internal: which tensor a CUDA block works on in a multi-tensor launch (o2nc, perturb,
// power_accumulate). A launch's slots hold one tensor each and consecutive runs of blocks, slot i from
// its first_block on; host code (o2nc_plan.cpp) and kernels share this search.
#pragma once

#include <cstdint>

#include "homotopt/macros.hpp"

namespace homotopt::detail {

// The slot of `block`: the last one whose first_block is <= block (slots are non-empty, so each block
// has exactly one). `slots` >= 1.
template <class Slot>
HOMOTOPT_HD HOMOTOPT_INLINE int slot_of(const Slot* slot, int slots, std::int64_t block) {
  int lo = 0, hi = slots - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (slot[mid].first_block <= block) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace homotopt::detail
