// Internal: calls f(T{}) with T = float or double by a checked float dtype.
#pragma once

#include "homotopt/array.hpp"

namespace homotopt {

template <class F>
decltype(auto) visit_float(DType dtype, F&& f) {
  if (dtype == DType::float32) return f(float{});
  HOMOTOPT_ASSERT(dtype == DType::float64);
  return f(double{});
}

}  // namespace homotopt
