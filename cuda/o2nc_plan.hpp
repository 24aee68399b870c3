// Internal: how the CUDA O2NC update maps its work to blocks and threads, written once for the kernel
// (cuda/o2nc.cu) and for a serial CPU run of the same schedule (o2nc_plan.cpp), which the tests compare
// bit for bit with the CPU backend on machines without a GPU.
//
// A call's non-empty tensors become slots, cut into batches that each fit in one launch's kernel
// parameters (O2ncBatch: the tensor table rides in the launch, so a captured CUDA graph holds it and
// nothing is uploaded per step). Each tensor is split into chunks of kO2ncChunkBytes per array; block b of
// a launch takes one chunk of one tensor, found by binary search on the slots' first blocks. Thread t of
// the block takes packs t, t + 256, ... of its chunk, kO2ncUnroll packs per array in flight: 16-byte
// packs (four float32 or two float64) when x, g and D are all 16-byte aligned, single elements
// otherwise; a chunk's elements past its last whole pack go one by one. The element rule is
// o2nc_element of o2nc.hpp, so the bits equal the CPU backend's.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "backend.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/o2nc.hpp"
#include "slots.hpp"

namespace homotopt::detail {

constexpr int kO2ncThreads = 256;                    // threads per block
constexpr int kO2ncUnroll = 4;                       // packs per array in flight per thread
constexpr std::int64_t kO2ncChunkBytes = 64 * 1024;  // bytes of one array per block (16384 float32)

HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t o2nc_chunk_elements(DType dtype) {
  return dtype == DType::float64 ? kO2ncChunkBytes / 8 : dtype == DType::float32 ? kO2ncChunkBytes / 4 : kO2ncChunkBytes / 2;
}

// One tensor of a launch. 48 bytes: a launch of 64 tensors fits in the classic 4 KB of parameters.
struct O2ncSlot {
  void* x;
  const void* g;
  void* D;
  std::int64_t n;            // elements, >= 1
  std::int64_t offset;       // position of element 0 in the concatenated grads of the call
  std::int32_t first_block;  // the launch's first block on this tensor
  std::uint8_t group;        // index into the launch's hyper-parameter table (at most 255 groups a launch)
  std::uint8_t buffer_dtype; // DType of D: dtype, or float32 for float16/bfloat16 x
  std::uint8_t dtype;        // DType of x and g: float32, float64, float16 or bfloat16
  std::uint8_t packed;       // float32/float64 with x, g and D all 16-byte aligned
};

// The kernel parameters of one launch: up to kSlots tensors and kGroups param groups.
template <int kSlots, int kGroups>
struct O2ncBatch {
  static constexpr int kMaxSlots = kSlots;
  static constexpr int kMaxGroups = kGroups;
  O2ncSlot slot[kSlots];
  O2ncHyper hyper[kGroups];
  std::int32_t slots = 0;   // in use
  std::int32_t blocks = 0;  // the launch's grid (the sum of the slots' chunk counts)
};

// Elements [begin, end) of the slot's tensor that `block` takes.
HOMOTOPT_HD HOMOTOPT_INLINE void o2nc_chunk_range(const O2ncSlot& s, std::int32_t block, std::int64_t& begin,
                                                  std::int64_t& end) {
  const std::int64_t chunk = o2nc_chunk_elements(static_cast<DType>(s.dtype));
  begin = static_cast<std::int64_t>(block - s.first_block) * chunk;
  end = begin + chunk < s.n ? begin + chunk : s.n;
}

// kWidth elements moved as one access: alignas makes nvcc emit one 16-byte load or store per pack.
template <class T, int kWidth>
struct alignas(sizeof(T) * kWidth) O2ncPack {
  T v[kWidth];
};

// Thread `thread`'s share of the update of n elements at x, g (TX), D (TD) (a chunk), in packs of kWidth.
template <bool kDecay, int kWidth, class TX, class TD, class C>
HOMOTOPT_HD HOMOTOPT_INLINE void o2nc_update_packs(TX* x, const TX* g, TD* D, std::int64_t n, int thread,
                                                   const O2ncCoefficients<C>& c) {
  using P = O2ncPack<TX, kWidth>;
  using PD = O2ncPack<TD, kWidth>;
  P* xp = reinterpret_cast<P*>(x);
  const P* gp = reinterpret_cast<const P*>(g);
  PD* dp = reinterpret_cast<PD*>(D);
  const std::int64_t packs = n / kWidth;
  for (std::int64_t base = thread; base < packs; base += std::int64_t{kO2ncThreads} * kO2ncUnroll) {
    P xv[kO2ncUnroll], gv[kO2ncUnroll];
    PD dv[kO2ncUnroll];
    // Every load first, then the arithmetic: 3 kO2ncUnroll independent loads in flight per thread.
    // Packs past the end are zeros, updated and not stored (branch-free arithmetic).
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int u = 0; u < kO2ncUnroll; ++u) {
      const std::int64_t i = base + std::int64_t{u} * kO2ncThreads;
      xv[u] = i < packs ? xp[i] : P{};
      gv[u] = i < packs ? gp[i] : P{};
      dv[u] = i < packs ? dp[i] : PD{};
    }
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int u = 0; u < kO2ncUnroll; ++u) {
      const std::int64_t i = base + std::int64_t{u} * kO2ncThreads;
#if defined(__CUDACC__)
#pragma unroll
#endif
      for (int j = 0; j < kWidth; ++j) o2nc_element<kDecay>(xv[u].v[j], gv[u].v[j], dv[u].v[j], c);
      if (i < packs) {
        xp[i] = xv[u];
        dp[i] = dv[u];
      }
    }
  }
  for (std::int64_t i = packs * kWidth + thread; i < n; i += kO2ncThreads) o2nc_element<kDecay>(x[i], g[i], D[i], c);
}

template <bool kDecay, class TX, class TD, class C>
HOMOTOPT_HD HOMOTOPT_INLINE void o2nc_update_chunk_typed(const O2ncSlot& s, std::int64_t begin, std::int64_t end,
                                                         int thread, const O2ncCoefficients<C>& c) {
  TX* x = static_cast<TX*>(s.x) + begin;
  const TX* g = static_cast<const TX*>(s.g) + begin;
  TD* D = static_cast<TD*>(s.D) + begin;
  if constexpr (sizeof(TX) >= 4) {
    if (s.packed) return o2nc_update_packs<kDecay, 16 / sizeof(TX)>(x, g, D, end - begin, thread, c);
  }
  o2nc_update_packs<kDecay, 1>(x, g, D, end - begin, thread, c);
}

// The same for one thread of the block on chunk [begin, end) of slot s: 16-byte packs when aligned.
// C is the compute type: double for float64 slots, float for the others.
template <bool kDecay, class C>
HOMOTOPT_HD HOMOTOPT_INLINE void o2nc_update_chunk(const O2ncSlot& s, std::int64_t begin, std::int64_t end, int thread,
                                                   const O2ncCoefficients<C>& c) {
  if constexpr (sizeof(C) == 8) {
    o2nc_update_chunk_typed<kDecay, double, double>(s, begin, end, thread, c);
  } else {
    const bool wide = s.buffer_dtype == static_cast<std::uint8_t>(DType::float32);
    if (s.dtype == static_cast<std::uint8_t>(DType::float32))
      o2nc_update_chunk_typed<kDecay, float, float>(s, begin, end, thread, c);
    else if (s.dtype == static_cast<std::uint8_t>(DType::float16))
      wide ? o2nc_update_chunk_typed<kDecay, Float16, float>(s, begin, end, thread, c)
           : o2nc_update_chunk_typed<kDecay, Float16, Float16>(s, begin, end, thread, c);
    else
      wide ? o2nc_update_chunk_typed<kDecay, BFloat16, float>(s, begin, end, thread, c)
           : o2nc_update_chunk_typed<kDecay, BFloat16, BFloat16>(s, begin, end, thread, c);
  }
}

// The finiteness pass of one thread over n gradients (a chunk), in packs of kWidth as the update reads
// them: the chunk-relative index of the thread's first NaN or inf, or -1. g * 0 is 0 for finite g and
// NaN otherwise, so the sum is 0 exactly when all are finite (branch-free); only the rare non-finite
// case looks again for the position, which the "raise" message names.
template <int kWidth, class T>
HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t o2nc_first_nonfinite_packs(const T* g, std::int64_t n, int thread) {
  using P = O2ncPack<T, kWidth>;
  const P* gp = reinterpret_cast<const P*>(g);
  const std::int64_t packs = n / kWidth;
  T acc = T(0);
  for (std::int64_t base = thread; base < packs; base += std::int64_t{kO2ncThreads} * kO2ncUnroll) {
    P gv[kO2ncUnroll];
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int u = 0; u < kO2ncUnroll; ++u) {
      const std::int64_t i = base + std::int64_t{u} * kO2ncThreads;
      gv[u] = i < packs ? gp[i] : P{};
    }
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int u = 0; u < kO2ncUnroll; ++u)
      for (int j = 0; j < kWidth; ++j) acc += gv[u].v[j] * T(0);
  }
  const std::int64_t head = packs * kWidth;
  for (std::int64_t i = head + thread; i < n; i += kO2ncThreads) acc += g[i] * T(0);
  if (acc == T(0)) return -1;
  // The thread's packs hold its smaller indices, in increasing order, then its tail elements.
  for (std::int64_t i = thread; i < packs; i += kO2ncThreads)
    for (int j = 0; j < kWidth; ++j)
      if (!(g[i * kWidth + j] * T(0) == T(0))) return i * kWidth + j;
  for (std::int64_t i = head + thread; i < n; i += kO2ncThreads)
    if (!(g[i] * T(0) == T(0))) return i;
  return -1;  // unreachable: some g * 0 was NaN
}

// The 16-bit formats: element by element, on the stored bits.
template <class H>
HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t o2nc_first_nonfinite_16(const H* g, std::int64_t n, int thread) {
  for (std::int64_t i = thread; i < n; i += kO2ncThreads)
    if (o2nc_nonfinite(g[i])) return i;
  return -1;
}

HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t o2nc_first_nonfinite_chunk(const O2ncSlot& s, std::int64_t begin,
                                                                    std::int64_t end, int thread) {
  const std::int64_t n = end - begin;
  switch (static_cast<DType>(s.dtype)) {
    case DType::float32: {
      const float* g = static_cast<const float*>(s.g) + begin;
      return s.packed ? o2nc_first_nonfinite_packs<4>(g, n, thread) : o2nc_first_nonfinite_packs<1>(g, n, thread);
    }
    case DType::float64: {
      const double* g = static_cast<const double*>(s.g) + begin;
      return s.packed ? o2nc_first_nonfinite_packs<2>(g, n, thread) : o2nc_first_nonfinite_packs<1>(g, n, thread);
    }
    case DType::float16: return o2nc_first_nonfinite_16(static_cast<const Float16*>(s.g) + begin, n, thread);
    default: return o2nc_first_nonfinite_16(static_cast<const BFloat16*>(s.g) + begin, n, thread);
  }
}

// The launches of a call, in order. Slots hold batch-relative first_block and group.
struct O2ncPlan {
  struct Batch {
    int first_slot = 0, slots = 0;    // into `slots`
    int first_hyper = 0, hypers = 0;  // into `hypers`
    std::int32_t blocks = 0;
  };
  std::vector<O2ncSlot> slots;
  std::vector<O2ncHyper> hypers;
  std::vector<Batch> batches;  // empty when every tensor is empty
};

// Cuts checked tensors into launches of at most max_slots tensors and max_groups groups (o2nc_plan.cpp).
O2ncPlan o2nc_plan(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups, int max_slots,
                   int max_groups);

// Copies batch b of the plan into a launch's parameters.
template <int kSlots, int kGroups>
void o2nc_fill_batch(const O2ncPlan& plan, std::size_t b, O2ncBatch<kSlots, kGroups>& out) {
  const O2ncPlan::Batch& batch = plan.batches[b];
  for (int k = 0; k < batch.slots; ++k) out.slot[k] = plan.slots[static_cast<std::size_t>(batch.first_slot + k)];
  for (int k = 0; k < batch.hypers; ++k) out.hyper[k] = plan.hypers[static_cast<std::size_t>(batch.first_hyper + k)];
  out.slots = batch.slots;
  out.blocks = batch.blocks;
}

// Runs the plan's schedule serially on the CPU, block by block and thread by thread, through the same
// functions as the kernel (a test of the schedule, not a fast path): the update when `update`, and
// returns the concatenated position of the first non-finite gradient (or -1) when `check_finite`.
std::int64_t o2nc_run_plan_on_cpu(const O2ncPlan& plan, double scale, bool check_finite, bool update);

}  // namespace homotopt::detail
