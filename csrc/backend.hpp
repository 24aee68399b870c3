// Internal: the functions each backend provides. dispatch.cpp checks the inputs once and calls the
// backend of the arrays' device; backends assume checked inputs (shapes, dtypes, devices, ranges).
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/o2nc.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/random.hpp"

namespace homotopt {

// Shapes of checked power-gradient inputs: P = K J pairs of dimension d.
struct PairShape {
  std::int64_t pairs;  // P
  std::int64_t J;      // 1 when values is (K,)
  std::int64_t d;
};

// One checked O2NC triple: contiguous x, g, D of n elements and one dtype, hyper-parameters of `group`.
struct O2ncTensor {
  void* x;
  const void* g;
  void* D;
  std::int64_t n;
  DType dtype;
  std::int32_t group;
};

// dispatch.cpp: the edge checks shared by the public entry points, and the backend choice.
namespace dispatch {
PairShape check_power_inputs(const ArrayView& values, const ArrayView& grads, double power);
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
void check_result_output(const ArrayView& out, std::int64_t d, const char* name);
// The error of nan_policy = raise for grads[tensor][element] = value (every backend raises this one).
[[noreturn]] void o2nc_raise_nonfinite(std::size_t tensor, std::int64_t element, double value);
}  // namespace dispatch

namespace cpu {
// Reduces the pairs into a fresh state: fills parts and u (d float64, zeroed by the caller).
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
PowerWeightsStats power_weights(const ArrayView& values, double power, NanPolicy policy,
                                const ArrayView& weights);
void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec, PowerState::Parts& parts,
                            double* u);
void phase_retrieval_fitness(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                             const ArrayView& out);
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset);
void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset);
// O2NC over the concatenated elements of `tensors` (`total` of them). o2nc_first_nonfinite: the
// (tensor, element) of the first NaN or inf gradient, or (-1, -1) when all are finite.
struct O2ncPosition {
  std::int64_t tensor = -1, element = -1;
  double value = 0.0;
};
O2ncPosition o2nc_first_nonfinite(const std::vector<O2ncTensor>& tensors, std::int64_t total);
void o2nc_update(const std::vector<O2ncTensor>& tensors, std::int64_t total,
                 const std::vector<O2ncGroup>& groups, double scale);
}  // namespace cpu

#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
int device_count();
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec, PowerState::Parts& parts,
                            double* u);
// Copies `bytes` from host memory into the device array `dst` (on its stream) and waits.
void copy_to_device(const ArrayView& dst, const void* src, std::size_t bytes);
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset);
// O2NC on checked tensors of CUDA device `device` (cuda/o2nc.cu). o2nc_update_device enqueues the step
// on options.stream with seed and step from `state` (device memory) and returns at once, unless
// nan_policy = raise; o2nc_update runs it on a temporary state and synchronizes to return the result.
void o2nc_update_device(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                        const O2ncOptions& options, O2ncDeviceState* state, int device);
O2ncResult o2nc_update(const std::vector<O2ncTensor>& tensors, const std::vector<O2ncGroup>& groups,
                       const O2ncOptions& options, int device);
}  // namespace cuda
#endif

}  // namespace homotopt
