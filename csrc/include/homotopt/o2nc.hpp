// Exponentiated O2NC (Zhang and Cutkosky, ICML 2024; papers/o2nc.md): SGD with momentum whose every
// update is scaled by one random s ~ Exp(1) per step. Per element of every tensor, with b' = beta / (1 +
// eta mu):
//     D <- b' (D - eta g - eta wd x),    x <- x + s D
// (maximize flips the sign of g, not of the weight-decay term). In SGDM form, for constant eta:
// m <- b' m + (1 - b') g, x <- x - s lr m with lr = eta b' / (1 - b') and D = -lr m; and with mu = 0
// the step is torch.optim.SGD(lr = s eta beta, momentum = beta, dampening = 0, weight_decay = wd).
//
// s is ONE scalar per step, shared by every tensor and coordinate: number 0 of the exponential (or
// uniform, s = 2u) stream at (seed, RandomStream::scale, trial 0, step), so homotopt.random rebuilds it
// and a GPU kernel computes it from (seed, step) in device memory (o2nc_scale is HOMOTOPT_HD).
//
// Arrays: params x, grads g and buffers D, one triple per tensor, any number of tensors in one call.
// Within a triple: the same shape and device, all C-contiguous; x and D writable; x and g of one dtype
// (float32, float64, float16 or bfloat16), D of x's dtype or, for float16 and bfloat16 x, float32
// (arithmetic is float32 for the 16-bit formats: values are widened on load and rounded once on store). Triples may differ in dtype; all must be on one device. No written array (x or D) may
// share memory with any other array of the call; grads may share memory with each other (read only).
// Every check runs before any element is written, and so does the optional finiteness pass over the
// grads: a non-finite gradient skips the whole step (found_inf) or raises, never a half-applied step.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/float16.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/philox.hpp"

namespace homotopt {

enum class O2ncScaling : int {
  exponential = 0,  // s ~ Exp(1): the method
  uniform = 1,      // s ~ U[0, 2] (papers/o2nc.md, variants)
  none = 2,         // s = 1: deterministic SGD with momentum, for ablations
};

// What a non-finite gradient does when the grads are checked (O2ncOptions::check_finite).
enum class O2ncNanPolicy : int {
  skip = 0,   // no tensor is written; the result says found_inf (what mixed-precision trainers expect)
  raise = 1,  // homotopt::Error naming the tensor and the element
};

// The step scale s for (seed, step): one Philox block, then a 52-bit transform (philox.hpp).
HOMOTOPT_HD HOMOTOPT_INLINE double o2nc_scale(std::uint64_t seed, std::uint32_t step, O2ncScaling scaling) {
  if (scaling == O2ncScaling::none) return 1.0;
  const RandomKey key{seed, static_cast<std::uint32_t>(RandomStream::scale), 0u, step};
  const PhiloxBlock b = random_block(key, 0);
  return scaling == O2ncScaling::exponential ? exponential_from(b.w[0], b.w[1])
                                             : 2.0 * uniform_from(b.w[0], b.w[1]);  // exact doubling
}

// Hyper-parameters of one group of tensors (torch's param_groups): learning rate eta >= 0, discount
// beta in (0, 1], regularizer mu >= 0 (it shrinks D, not x), weight decay wd >= 0 (it shrinks x).
// grad_multiplier m > 0 multiplies every gradient (GradScaler's 1 / scale: the unscale fused into the
// update), folded into the gradient's coefficient -eta m: for a power of two m this is bit for bit
// the update of the gradients m g (a power of two scales exactly), otherwise within one rounding.
struct O2ncHyper {
  double lr = 0.0;
  double beta = 1.0;
  double mu = 0.0;
  double weight_decay = 0.0;
  bool maximize = false;
  double grad_multiplier = 1.0;
};

// The per-step scalars of one group in the working precision T, formed in float64 and rounded once.
template <class T>
struct O2ncCoefficients {
  T discount;      // b' = beta / (1 + eta mu)
  T neg_lr;        // -eta m, or +eta m when maximizing (the sign of g flips); m = grad_multiplier
  T neg_lr_decay;  // -eta wd
  T scale;         // s
};

template <class T>
HOMOTOPT_HD inline O2ncCoefficients<T> o2nc_coefficients(const O2ncHyper& h, double scale) {
  return {static_cast<T>(h.beta / (1.0 + h.lr * h.mu)), static_cast<T>((h.maximize ? h.lr : -h.lr) * h.grad_multiplier),
          static_cast<T>(-(h.lr * h.weight_decay)), static_cast<T>(scale)};
}

namespace detail {
HOMOTOPT_HD HOMOTOPT_INLINE float fused_multiply_add(float a, float b, float c) { return ::fmaf(a, b, c); }
HOMOTOPT_HD HOMOTOPT_INLINE double fused_multiply_add(double a, double b, double c) { return ::fma(a, b, c); }
}  // namespace detail

// One element: D <- b' (D - eta g [- eta wd x]), x <- x + s D. kDecay = (wd != 0): without it the
// term is left out rather than multiplied by 0, which would turn an infinite x into NaN in D.
// Each fused multiply-add rounds once; the product b' t is rounded on its own and that stored D is the
// one added to x, so the state and the parameter never disagree.
// Storage: x and g in TX, D in TD, arithmetic in C (float32 for float16/bfloat16 storage, whose loads
// widen exactly and whose stores round once to nearest even; for float and double every load and
// store is the identity, so this is the plain rule in that precision).
template <bool kDecay, class TX, class TD, class C>
HOMOTOPT_HD HOMOTOPT_INLINE void o2nc_element(TX& x, TX g, TD& D, const O2ncCoefficients<C>& c) {
  const C xv = detail::load_as<C>(x);
  C t = detail::fused_multiply_add(c.neg_lr, detail::load_as<C>(g), detail::load_as<C>(D));  // D - eta g
  if (kDecay) t = detail::fused_multiply_add(c.neg_lr_decay, xv, t);                       // - eta wd x
  D = detail::store_as<TD>(c.discount * t);
  x = detail::store_as<TX>(detail::fused_multiply_add(c.scale, detail::load_as<C>(D), xv));
}

// Whether a gradient is NaN or infinite, on its stored bits (no widening needed).
HOMOTOPT_HD HOMOTOPT_INLINE bool o2nc_nonfinite(Float16 g) { return (g.bits & 0x7c00u) == 0x7c00u; }
HOMOTOPT_HD HOMOTOPT_INLINE bool o2nc_nonfinite(BFloat16 g) { return (g.bits & 0x7f80u) == 0x7f80u; }
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE bool o2nc_nonfinite(T g) { return !(g * T(0) == T(0)); }

// A run of `size` consecutive tensors sharing hyper-parameters (sizes add up to the tensor count).
struct O2ncGroup {
  std::int64_t size = 0;
  O2ncHyper hyper;
};

struct O2ncOptions {
  O2ncScaling scaling = O2ncScaling::exponential;
  std::uint64_t seed = 0;
  std::uint32_t step = 0;
  std::optional<double> scale;  // an explicit s >= 0 (tests, or the caller's own draw) instead of Philox
  bool check_finite = true;     // read every gradient first (24 instead of 20 bytes per float32 element)
  O2ncNanPolicy nan_policy = O2ncNanPolicy::skip;
  std::uintptr_t stream = 0;    // CUDA arrays: the cudaStream_t to run on (0: the legacy default stream)
};

struct O2ncResult {
  double scale = 1.0;      // the s of this step (drawn or given), also when the step was skipped
  bool found_inf = false;  // a gradient was NaN or infinite and nothing was written
};

// The fused update of every tensor in one pass: reads x, g, D and writes x, D (20 bytes per float32
// element; 24 with check_finite). Throws homotopt::Error / TypeError on bad input, before any write.
HOMOTOPT_API O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                                    const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                                    const O2ncOptions& options);

// Checks one group's hyper-parameters: the errors o2nc_update raises for them (for early checks).
HOMOTOPT_API void check_o2nc_hyper(const O2ncHyper& hyper);

// One group for all tensors.
HOMOTOPT_API O2ncResult o2nc_update(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                                    const std::vector<ArrayView>& buffers, const O2ncHyper& hyper,
                                    const O2ncOptions& options);

// ---- CUDA: the step's scalars in device memory --------------------------------------------------------
// o2nc_update above answers on the host, so on CUDA arrays it synchronizes its stream (to return s and
// found_inf). o2nc_update_device never does (except with nan_policy = raise, which must read the result
// to raise): seed and step are read from this state in device memory, s is drawn inside the kernel, and
// after an applied step the kernel itself advances `step`, so a captured CUDA graph replays step after
// step correctly. Its results (found_inf, scale, first_nonfinite) describe the last call and may be
// read lazily, e.g. when the host needs them anyway. As an array: int64, shape (6,), writable, on the
// params' CUDA device, used by one stream at a time; seed and step set by the caller
// (o2nc_device_state), the rest as initialized there. Six zero words are a valid state: seed 0, step 0.
struct O2ncDeviceState {
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  std::uint64_t seed = 0;
  std::uint32_t step = 0;                    // advanced by one on the device by each applied step (mod 2^32)
  std::uint32_t found_inf = 0;               // result: 1 when the last call was skipped
  double scale = 0.0;                        // result: the s of the last call (drawn or given)
  std::uint64_t first_nonfinite = kNone;     // result: position of its first non-finite gradient in
                                             // the concatenated grads, or kNone
  std::uint64_t pending_nonfinite = 0;       // scratch of the finiteness pass: ~position of the first
                                             // non-finite gradient seen (atomicMax), 0 between calls
  std::uint32_t blocks_done = 0;             // scratch of the update's last block: 0 between calls
  std::uint32_t reserved = 0;
};
static_assert(sizeof(O2ncDeviceState) == 48, "O2ncDeviceState is viewed as six int64 words");

// A fresh state for (seed, step), to copy into device memory.
inline O2ncDeviceState o2nc_device_state(std::uint64_t seed, std::uint32_t step) {
  O2ncDeviceState s;
  s.seed = seed;
  s.step = step;
  return s;
}

// The update of o2nc_update on CUDA arrays with seed and step from `state` (options.seed and
// options.step are not used; options.scale, if given, replaces the draw), enqueued on options.stream.
// Every check of o2nc_update runs on the host first; a non-finite gradient (check_finite) skips the
// step on the device, or, with nan_policy = raise, makes this call synchronize and throw homotopt::Error
// (refused under CUDA graph capture, where nothing may synchronize).
HOMOTOPT_API void o2nc_update_device(const std::vector<ArrayView>& params, const std::vector<ArrayView>& grads,
                                     const std::vector<ArrayView>& buffers, const std::vector<O2ncGroup>& groups,
                                     const O2ncOptions& options, const ArrayView& state);

// ---- A prepared call: the tensor table kept between steps ----------------------------------------------
// A training loop updates the same parameters every step; only the gradients' memory changes. O2ncTable
// checks the params and buffers once (dtypes, sizes, device, writability, overlaps: what o2nc_update
// checks of them) and keeps the table; step() then takes the grads as bare pointers, checks only that no
// gradient overlaps a written array, and runs the update with seed and step from `state`, as
// o2nc_update_device does (CPU or CUDA memory, the params' device; results written there: on the CPU
// the step is done when step() returns). Rebuild the table whenever a param's or buffer's memory,
// size or dtype changes (homotopt.torch keys it on pointer, shape, strides and dtype).
class HOMOTOPT_API O2ncTable {
 public:
  // params[i], buffers[i]: the memory of tensor i (dense, C-contiguous views), in groups of group_sizes
  // consecutive tensors.
  O2ncTable(const std::vector<ArrayView>& params, const std::vector<ArrayView>& buffers,
            const std::vector<std::int64_t>& group_sizes);
  ~O2ncTable();
  O2ncTable(O2ncTable&&) noexcept;
  O2ncTable& operator=(O2ncTable&&) noexcept;

  // grads[i]: params[i]'s gradient, dense, of params[i]'s dtype, size and layout (a pointer carries
  // nothing else to check: the caller vouches for it), or nullptr to leave tensor i out of this step.
  // hypers: one per group. options.seed and options.step are not used (they are in `state`).
  void step(const std::vector<const void*>& grads, const std::vector<O2ncHyper>& hypers, const O2ncOptions& options,
            const ArrayView& state) const;

  std::int64_t size() const;  // tensors
  Device device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// Test hook for machines without a GPU: checks CPU arrays as o2nc_update does, then runs the CUDA
// kernel's schedule (launches of at most max_slots tensors and max_groups groups, blocks, threads, packs;
// cuda/o2nc.cu) serially through the same functions, with s = options.scale (required). Returns the
// position of the first non-finite gradient in the concatenated grads (check_finite; -1 if none, and
// then nothing is written) and the number of update launches the plan makes.
struct O2ncScheduleRun {
  std::int64_t first_nonfinite = -1;
  std::int64_t launches = 0;
};
HOMOTOPT_API O2ncScheduleRun o2nc_cuda_schedule_on_cpu(const std::vector<ArrayView>& params,
                                                       const std::vector<ArrayView>& grads,
                                                       const std::vector<ArrayView>& buffers,
                                                       const std::vector<O2ncGroup>& groups,
                                                       const O2ncOptions& options, int max_slots, int max_groups);
}  // namespace detail

}  // namespace homotopt
