// Internal: the argument checks shared by the front ends (one file per op: power_gradient.cpp,
// phase_retrieval.cpp, random.cpp, o2nc.cpp, runner.cpp, problems.cpp). Messages name the argument and say
// expected versus got.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/error.hpp"
#include "homotopt/o2nc.hpp"

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

// A result output of the power gradient (direction or gradient): float, (d,), contiguous, writable, on a
// device this build supports (power_gradient.cpp).
void check_result_output(const ArrayView& out, std::int64_t d, const char* name);

// O2NC checks shared by the front ends of o2nc_update (o2nc.cpp, where they are defined) and O2ncTable:
// one group's hyper-parameters (the group named when there are several), and buffers[i]'s dtype D for
// params of dtype x (x's own, or float32 for float16/bfloat16 x).
void o2nc_check_hyper(const O2ncHyper& h, std::size_t group, std::size_t groups);
void o2nc_check_buffer_dtype(DType x, DType D, std::size_t i);

}  // namespace homotopt::front_end
