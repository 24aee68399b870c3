// Internal: the functions each backend provides, and THE dispatch point that picks them.
//
// A front end (csrc/<op>.cpp) checks an op's arguments once, then asks dispatch::kernel for the op's
// entry in the table of the arrays' device: cpu::kernels() (csrc/cpu/kernel_table.cpp) or cuda::kernels()
// (cuda/kernels.cu). Backends assume checked inputs (shapes, dtypes, devices, ranges). On the CPU there is
// one table per CPU capability (baseline, avx2, avx512); cpu::kernels() returns the one chosen at first
// use (cpu/capability.cpp), so no front end knows of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/o2nc.hpp"
#include "homotopt/perturb.hpp"
#include "homotopt/power_accumulate.hpp"
#include "homotopt/power_merge.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/random.hpp"
#include "homotopt/runner.hpp"

namespace homotopt {

// Shapes of checked power-gradient inputs: P = K J pairs of dimension d.
struct PairShape {
  std::int64_t pairs;  // P
  std::int64_t J;      // 1 when values is (K,)
  std::int64_t d;
};

// One checked O2NC triple: contiguous x, g, D of n elements, x and g of `dtype`, D of `buffer_dtype`
// (dtype, or float32 for float16/bfloat16 x), hyper-parameters of `group`.
struct O2ncTensor {
  void* x;
  const void* g;
  void* D;
  std::int64_t n;
  DType dtype;
  std::int32_t group;
  DType buffer_dtype;
};

class RunnerImpl;  // runner_impl.hpp

// One backend's ops, one entry each; a null entry: this backend lacks the op (dispatch::kernel says so).
struct Kernels {
  const char* name;  // "cpu", "cuda"
  // Reduces checked pairs into a fresh state: fills parts and u (d float64, zeroed by the caller).
  void (*reduce_power)(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                       NanPolicy policy, PowerState::Parts& parts, double* u);
  PowerWeightsStats (*power_weights)(const ArrayView& values, double power, NanPolicy policy,
                                     const ArrayView& weights);
  void (*phase_retrieval_reduce)(const ArrayView& A, const ArrayView& y, const ArrayView& mu, const ArrayView& rows,
                                 const SampleSpec& spec, PowerState::Parts& parts, double* u);
  void (*phase_retrieval_fitness)(const ArrayView& A, const ArrayView& y, const ArrayView& mu, const ArrayView& out);
  void (*two_layer_relu_fitness)(const ArrayView& W, const ArrayView& X, const ArrayView& y, std::int64_t k,
                                 const ArrayView& out);
  void (*toy1d_fitness)(const ArrayView& w, const ArrayView& eps, const ArrayView& out);
  void (*random_fill)(const ArrayView& out, Distribution distribution, const RandomKey& key, std::uint64_t offset);
  void (*random_indices)(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset);
  // O2NC on checked tensors of device index `device`: the step's s, the optional finiteness check and
  // the update (none when a gradient is not finite; raises under nan_policy = raise).
  O2ncResult (*o2nc_update)(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                            const O2ncOptions& options, int device);
  // The state path: the step with seed and step read from `state` (memory of this device) and the results
  // written back there; on CUDA enqueued on options.stream, on the CPU done when it returns.
  void (*o2nc_update_device)(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                             const O2ncOptions& options, O2ncDeviceState* state, int device);
  std::unique_ptr<RunnerImpl> (*make_runner)(const ProblemViews& problem, const RunConfig& config,
                                             const ArrayView& mu0);
  // u <- a_g u + b_g g over checked non-empty tensors of device index `device`, on `stream`.
  void (*power_accumulate)(const std::vector<PowerAccumulateTensor>& tensors, int device, const double* coefficients,
                           double* flag, void* stream);
  // w <- mu + sigma eps over checked non-empty tensors of device index `device`, on `stream`.
  void (*random_perturb)(const std::vector<PerturbTensor>& tensors, int device, const RandomKey& key, void* stream);
  // One sample's merge into the tied rows of the (G, 4) state (power_merge.hpp), checked, on `stream`.
  void (*power_merge_sample)(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows, int device,
                             void* stream);
  // The ranks' (W, G, 4) tables merged (power_merge.hpp), checked, on `stream`.
  void (*power_merge_ranks)(const PowerMergeRanksArgs& args, int device, void* stream);
  // Every group's step factor from the merged (G, 4) state (power_merge.hpp), checked, on `stream`.
  void (*power_step)(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas,
                     int device, void* stream);
  // Copies `bytes` from host memory into `dst` (on its stream) and waits.
  void (*copy_to_device)(const ArrayView& dst, const void* src, std::size_t bytes);
  // The one-shot power gradient with its result written where the arrays live: reduces checked pairs,
  // raises (before writing anything) as reduce_power does, then writes direction and, when not empty,
  // gradient (checked (d,) outputs on the values' device), as PowerState(d) updated once and its
  // result() would, and returns the scalars. Null (the CPU): the front end reduces with reduce_power
  // and writes the result from its host state, which on the CPU is where the outputs are.
  PowerResultStats (*power_gradient)(const ArrayView& values, const ArrayView& grads, const PairShape& shape,
                                     double power, NanPolicy policy, const ArrayView& direction,
                                     const ArrayView& gradient);
  // The fused estimator's one-shot form, likewise: reduces as phase_retrieval_reduce, calls `check` (the
  // front end's checks of the reduced parts, which raise) before writing anything, then writes direction
  // and gradient on the arrays' device. Null (the CPU): the front end's host state writes the result.
  PowerResultStats (*phase_retrieval_power_gradient)(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                                     const ArrayView& rows, const SampleSpec& spec,
                                                     void (*check)(const PowerState::Parts& parts),
                                                     const ArrayView& direction, const ArrayView& gradient);
};

namespace cpu {
// The table of the CPU capability this process runs (cpu/capability.cpp, cpu/kernels.hpp).
const Kernels& kernels();
}
#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
const Kernels& kernels();
}
#endif

namespace dispatch {
// THE dispatch point (dispatch.cpp): the table of `device`'s backend. A CUDA device in a CPU-only build
// is an error naming `op`.
const Kernels& backend(const Device& device, const char* op);
// An error naming `op`: the backend `kernels` lacks it.
[[noreturn]] void unsupported(const Kernels& kernels, const char* op);
// The entry `entry` of `device`'s backend, or an error naming `op` when that backend lacks it.
template <class Fn>
Fn kernel(Fn Kernels::*entry, const Device& device, const char* op) {
  const Kernels& k = backend(device, op);
  if (!(k.*entry)) unsupported(k, op);
  return k.*entry;
}
// The entry `entry` of `device`'s backend, or null when that backend lacks it (for ops with a fallback).
template <class Fn>
Fn optional_kernel(Fn Kernels::*entry, const Device& device, const char* op) {
  return backend(device, op).*entry;
}
// The error of nan_policy = raise for grads[tensor][element] = value (every backend raises this one).
[[noreturn]] void o2nc_raise_nonfinite(std::size_t tensor, std::int64_t element, double value);
// Bytes of one element of `t` (o2nc.cpp).
std::size_t item_size(DType t);
}  // namespace dispatch

// The CPU kernels: cpu/kernels.hpp (compiled once per CPU capability, one table each).

#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
int device_count();
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
// One host synchronization (a status copy) per call, then the weights kernel.
PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy, const ArrayView& weights);
void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec, PowerState::Parts& parts,
                            double* u);
PowerResultStats phase_retrieval_power_gradient(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                                const ArrayView& rows, const SampleSpec& spec,
                                                void (*check)(const PowerState::Parts& parts),
                                                const ArrayView& direction, const ArrayView& gradient);
void copy_to_device(const ArrayView& dst, const void* src, std::size_t bytes);
// One host synchronization (a status copy) per call; the result written on the device (power_finalize.cuh).
PowerResultStats power_gradient(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                                NanPolicy policy, const ArrayView& direction, const ArrayView& gradient);
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset);
// O2NC on checked tensors of CUDA device `device` (cuda/o2nc.cu). o2nc_update_device enqueues the step
// on options.stream with seed and step from `state` (device memory) and returns at once, unless
// nan_policy = raise; o2nc_update runs it on a temporary state and synchronizes to return the result.
void o2nc_update_device(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, O2ncDeviceState* state, int device);
O2ncResult o2nc_update(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options, int device);
std::unique_ptr<RunnerImpl> make_runner(const ProblemViews& problem, const RunConfig& config, const ArrayView& mu0);
void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, int device, const double* coefficients,
                      double* flag, void* stream);
void random_perturb(const std::vector<PerturbTensor>& tensors, int device, const RandomKey& key, void* stream);
void power_merge_sample(const PowerMergeArgs& args, const std::vector<std::int32_t>& rows, int device, void* stream);
void power_merge_ranks(const PowerMergeRanksArgs& args, int device, void* stream);
void power_step(const PowerStepArgs& args, const std::vector<double>& powers, const std::vector<double>& alphas,
                int device, void* stream);
}  // namespace cuda
#endif

}  // namespace homotopt
