// CPU backend of o2nc.hpp: the multi-tensor update and the finiteness pass over the grads.
//
// Threads split the concatenated elements of all tensors into equal ranges that cross tensor
// boundaries, so a model of 100 small tensors balances as well as one large tensor; each thread walks
// the tensors its range touches and runs the vectorized element loop (o2nc_element) on each piece.
// The update is elementwise, so its bits do not depend on the thread count or the split.
// float16/bfloat16 tensors run the same element rule (o2nc_element) with float32 arithmetic; their
// loads and stores convert, so the compiler vectorizes less of them (a 16-bit path is not the fast one).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <cstdint>
#include <vector>

#include "cpu/kernels.hpp"
#include "backend.hpp"
#include "cpu/parallel.hpp"
#include "cpu/simd.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

// Split points are multiples of kGrain elements of the concatenated range (256 B of float32).
constexpr std::int64_t kGrain = 64;

// Threads for `total` elements: at least kMinPerThread each. Starting a parallel region costs a few
// microseconds, about as much as updating that many; on the 2-core dev machine two threads were 8%
// faster than one at 16.5k float32 elements, 20% at 25k, and no faster at 10k.
constexpr std::int64_t kMinPerThread = 1 << 13;
int threads_for_elements(std::int64_t total) {
  return threads_for(total * ((std::int64_t{1} << 16) / kMinPerThread), (total + kGrain - 1) / kGrain);
}

// Element offsets of the tensors in the concatenated range.
std::vector<std::int64_t> starts_of(const std::vector<O2ncTensor>& tensors) {
  std::vector<std::int64_t> start(tensors.size());
  std::int64_t offset = 0;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    start[t] = offset;
    offset += tensors[t].n;
  }
  return start;
}

// Calls f(tensor, i0, i1) for each tensor's piece [i0, i1) of the concatenated range [begin, end).
template <class F>
void for_each_piece(const std::vector<O2ncTensor>& tensors, const std::vector<std::int64_t>& start,
                    std::int64_t begin, std::int64_t end, F&& f) {
  if (begin >= end) return;
  // The last tensor starting at or before `begin` (empty tensors share a start; the last is not empty
  // unless begin is past the end, which the loop then skips).
  std::size_t t = static_cast<std::size_t>(std::upper_bound(start.begin(), start.end(), begin) - start.begin()) - 1;
  for (; t < tensors.size() && start[t] < end; ++t) {
    const std::int64_t i0 = std::max(begin, start[t]) - start[t];
    const std::int64_t i1 = std::min(end, start[t] + tensors[t].n) - start[t];
    if (i1 > i0) f(tensors[t], i0, i1);
  }
}

// g * 0 is 0 for finite g and NaN for NaN or inf, so the sum is 0 exactly when every g is finite:
// branch-free, and the order does not matter (the sum is 0 or NaN). Each step is one fused multiply-add
// fma(g, 0, acc) with the load folded in (with FMA hardware).
// Four streams, the quarters of the span, each with its own accumulator (more reads in flight than one
// stream, and the adds' latency does not limit the pass), walked back to front: the front of the
// grads, read last, is still in cache when the update pass starts there.
template <class T>
bool span_finite(const T* HOMOTOPT_RESTRICT g, std::int64_t n) {
  using V = typename Vec<T>::type;
  constexpr std::int64_t W = Vec<T>::width;
  const V zero = broadcast(T(0));
  V a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  const std::int64_t q = n / (4 * W) * W;  // elements per quarter
  const T *g1 = g + q, *g2 = g + 2 * q, *g3 = g + 3 * q;
  for (std::int64_t i = q - W; i >= 0; i -= W) {
    a0 = fmadd(load(g + i), zero, a0);
    a1 = fmadd(load(g1 + i), zero, a1);
    a2 = fmadd(load(g2 + i), zero, a2);
    a3 = fmadd(load(g3 + i), zero, a3);
  }
  T acc = horizontal_sum((a0 + a1) + (a2 + a3));
  for (std::int64_t i = 4 * q; i < n; ++i) acc += g[i] * T(0);
  return acc == T(0);
}

// The 16-bit formats: non-finite exactly when the exponent bits are all ones.
template <class H>
bool span_finite_16(const H* HOMOTOPT_RESTRICT g, std::int64_t n) {
  const std::uint16_t* bits = reinterpret_cast<const std::uint16_t*>(g);
  const std::uint16_t mask = std::is_same<H, Float16>::value ? 0x7c00u : 0x7f80u;
  unsigned bad = 0;
#pragma omp simd reduction(| : bad)
  for (std::int64_t i = 0; i < n; ++i) bad |= (bits[i] & mask) == mask;
  return bad == 0;
}

bool piece_finite(const O2ncTensor& t, std::int64_t i0, std::int64_t i1) {
  switch (t.dtype) {
    case DType::float32: return span_finite(static_cast<const float*>(t.g) + i0, i1 - i0);
    case DType::float64: return span_finite(static_cast<const double*>(t.g) + i0, i1 - i0);
    case DType::float16: return span_finite_16(static_cast<const Float16*>(t.g) + i0, i1 - i0);
    default: return span_finite_16(static_cast<const BFloat16*>(t.g) + i0, i1 - i0);
  }
}

// Gradient k of a tensor as a double (for the message of nan_policy = raise).
double gradient_value(const O2ncTensor& t, std::int64_t k) {
  switch (t.dtype) {
    case DType::float32: return static_cast<const float*>(t.g)[k];
    case DType::float64: return static_cast<const double*>(t.g)[k];
    case DType::float16: return detail::float_of(static_cast<const Float16*>(t.g)[k]);
    default: return detail::float_of(static_cast<const BFloat16*>(t.g)[k]);
  }
}

template <bool kDecay, class TX, class TD, class C>
void update_span(TX* HOMOTOPT_RESTRICT x, const TX* HOMOTOPT_RESTRICT g, TD* HOMOTOPT_RESTRICT D,
                 std::int64_t n, const O2ncCoefficients<C> c) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) o2nc_element<kDecay>(x[i], g[i], D[i], c);
}

template <class TX, class TD, class C>
void update_typed(const O2ncTensor& t, std::int64_t i0, std::int64_t i1, const O2ncCoefficients<C>& c,
                  bool decay) {
  TX* x = static_cast<TX*>(t.x) + i0;
  const TX* g = static_cast<const TX*>(t.g) + i0;
  TD* D = static_cast<TD*>(t.D) + i0;
  if (decay) update_span<true>(x, g, D, i1 - i0, c);
  else update_span<false>(x, g, D, i1 - i0, c);
}

// The storage types of a checked tensor (backend.hpp: D is x's dtype or float32).
void update_piece(const O2ncTensor& t, std::int64_t i0, std::int64_t i1, const O2ncCoefficients<float>& c32,
                  const O2ncCoefficients<double>& c64, bool decay) {
  const bool wide = t.buffer_dtype == DType::float32;
  switch (t.dtype) {
    case DType::float32: return update_typed<float, float>(t, i0, i1, c32, decay);
    case DType::float64: return update_typed<double, double>(t, i0, i1, c64, decay);
    case DType::float16:
      return wide ? update_typed<Float16, float>(t, i0, i1, c32, decay)
                  : update_typed<Float16, Float16>(t, i0, i1, c32, decay);
    default:
      return wide ? update_typed<BFloat16, float>(t, i0, i1, c32, decay)
                  : update_typed<BFloat16, BFloat16>(t, i0, i1, c32, decay);
  }
}

}  // namespace

O2ncPosition o2nc_first_nonfinite(const std::vector<O2ncTensor>& tensors) {
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const O2ncTensor& t = tensors[k];
    for (std::int64_t i = 0; i < t.n; ++i) {
      const double v = gradient_value(t, i);
      if (!std::isfinite(v)) return {static_cast<std::int64_t>(k), i, v};
    }
  }
  return {};
}

bool o2nc_update(const std::vector<O2ncTensor>& tensors, std::int64_t total,
                 const std::vector<O2ncGroup>& groups, double scale, bool check_finite) {
  std::vector<O2ncCoefficients<float>> c32;
  std::vector<O2ncCoefficients<double>> c64;
  std::vector<char> decay;
  for (const O2ncGroup& group : groups) {
    c32.push_back(o2nc_coefficients<float>(group.hyper, scale));
    c64.push_back(o2nc_coefficients<double>(group.hyper, scale));
    decay.push_back(group.hyper.weight_decay != 0.0);
  }
  const std::vector<std::int64_t> start = starts_of(tensors);
  std::atomic<bool> found_inf{false};
  const int nt = threads_for_elements(total);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t begin, end;
    split_range(total, team_size(), thread_id(), kGrain, begin, end);
    if (check_finite) {
      // The pieces back to front (span_finite says why).
      struct Piece {
        const O2ncTensor* t;
        std::int64_t i0, i1;
      };
      std::vector<Piece> pieces;
      for_each_piece(tensors, start, begin, end, [&](const O2ncTensor& t, std::int64_t i0, std::int64_t i1) {
        pieces.push_back({&t, i0, i1});
      });
      bool finite = true;
      for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) finite = piece_finite(*it->t, it->i0, it->i1) && finite;
      if (!finite) found_inf.store(true, std::memory_order_relaxed);
#pragma omp barrier
    }
    if (!found_inf.load(std::memory_order_relaxed)) {
      for_each_piece(tensors, start, begin, end, [&](const O2ncTensor& t, std::int64_t i0, std::int64_t i1) {
        const std::size_t k = static_cast<std::size_t>(t.group);
        update_piece(t, i0, i1, c32[k], c64[k], decay[k]);
      });
    }
  }
  return found_inf.load();
}

void o2nc_update_device(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, O2ncDeviceState* state, int /*device*/) {
  std::int64_t total = 0;
  for (const O2ncTensor& t : tensors) total += t.n;
  const double scale = options.scale ? *options.scale : o2nc_scale(state->seed, state->step, options.scaling);
  const bool found_inf = total > 0 && o2nc_update(tensors, total, groups, scale, options.check_finite);
  if (found_inf && options.nan_policy == O2ncNanPolicy::raise) {
    const O2ncPosition bad = o2nc_first_nonfinite(tensors);
    HOMOTOPT_ASSERT(bad.tensor >= 0);  // the parallel pass saw a non-finite gradient that the scan must find
    dispatch::o2nc_raise_nonfinite(static_cast<std::size_t>(bad.tensor), bad.element, bad.value);
  }
  state->scale = scale;
  state->found_inf = found_inf ? 1u : 0u;
  state->first_nonfinite = O2ncDeviceState::kNone;
  if (found_inf) {
    std::int64_t offset = 0;  // the position in the concatenated grads, as the CUDA path reports it
    const O2ncPosition bad = o2nc_first_nonfinite(tensors);
    for (std::int64_t k = 0; k < bad.tensor; ++k) offset += tensors[static_cast<std::size_t>(k)].n;
    state->first_nonfinite = static_cast<std::uint64_t>(offset + bad.element);
  } else {
    state->step += 1u;
  }
}

O2ncResult o2nc_update(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options, int device) {
  O2ncDeviceState state = o2nc_device_state(options.seed, options.step);
  o2nc_update_device(tensors, groups, options, &state, device);
  O2ncResult result;
  result.scale = state.scale;
  result.found_inf = state.found_inf != 0;
  return result;
}

}  // namespace HOMOTOPT_CPU_NS
