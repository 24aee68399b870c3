// Internal: the functions each backend provides. dispatch.cpp checks the inputs once and calls the
// backend of the arrays' device; backends assume checked inputs (shapes, dtypes, devices, ranges).
#pragma once

#include <cstdint>

#include "homotopt/array.hpp"
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

// dispatch.cpp: the edge checks shared by the public entry points, and the backend choice.
namespace dispatch {
PairShape check_power_inputs(const ArrayView& values, const ArrayView& grads, double power);
void reduce_power(const ArrayView& values, const ArrayView& grads, const PairShape& shape, double power,
                  NanPolicy policy, PowerState::Parts& parts, double* u);
void check_result_output(const ArrayView& out, std::int64_t d, const char* name);
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
}  // namespace cpu

#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
int device_count();
void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset);
}  // namespace cuda
#endif

}  // namespace homotopt
