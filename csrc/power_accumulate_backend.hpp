// Internal: the backends of power_accumulate.hpp. csrc/power_accumulate.cpp checks the inputs once and
// calls the backend of the device; backends assume checked inputs (non-empty tensors only).
#pragma once

#include <cstdint>
#include <vector>

#include "homotopt/power_accumulate.hpp"

namespace homotopt {
namespace cpu {
void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, const double* coefficients, double* flag);
}  // namespace cpu
#if defined(HOMOTOPT_WITH_CUDA)
namespace cuda {
void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, int device, const double* coefficients,
                      double* flag, void* stream);
}  // namespace cuda
#endif
}  // namespace homotopt
