// Internal: the argument checks shared by the front ends (one file per op: power_gradient.cpp,
// phase_retrieval.cpp, random.cpp, o2nc.cpp, runner.cpp, problems.cpp). Messages name the argument and say
// expected versus got.
#pragma once

#include <cmath>
#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/error.hpp"

namespace homotopt::front_end {

inline bool on_cuda(const ArrayView& v) { return v.device.type == DeviceType::cuda; }

inline void check_power(double power) {
  HOMOTOPT_CHECK(std::isfinite(power) && power >= 0.0, "power: expected a finite N >= 0, got ", power);
}

inline void check_nonempty(const ArrayView& v, const char* name, const char* what) {
  for (int i = 0; i < v.ndim; ++i)
    HOMOTOPT_CHECK(v.shape[i] >= 1, name, ": expected shape ", what, " with every size >= 1, got ",
                   v.shape_string());
}

inline void check_vector(const ArrayView& v, std::int64_t n, const char* name, const char* what) {
  HOMOTOPT_CHECK(v.ndim == 1 && v.shape[0] == n, name, ": expected shape ", what, " = (", n, ",), got ",
                 v.shape_string());
}


}  // namespace homotopt::front_end
