// Internal: the one-shot power-gradient result written on the device (cuda/power_finalize.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/power_gradient.hpp"

namespace homotopt::cuda {

// What PowerState(d).merge_parts(power, parts, u) then result(direction, gradient) give, without u
// leaving the device: the state merged into an empty one and the summary on the host (a few scalars),
// then direction (and gradient, when not empty) written from `u` (d float64, device memory) by one
// kernel in the outputs' dtypes, enqueued on `stream` (no copy, no wait). Outputs: checked, contiguous,
// (d,), float32 or float64, on the current device.
PowerResultStats write_power_result(const double* u, std::int64_t d, double power, const PowerState::Parts& parts,
                                    const ArrayView& direction, const ArrayView& gradient, cudaStream_t stream);

}  // namespace homotopt::cuda
