// The 1-D example of papers/prog_powerhp.md: f_w(eps) = -log((w + eps + 1/2)^2 + 1e-5)
// - log((w + eps - 1/2)^2 + 1e-2), with data eps ~ N(0, noise^2) (noise = 0 allowed). The global
// maximum is the sharp peak near w = -1/2; a wider local maximum sits near +1/2.
#pragma once

#include <cmath>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

HOMOTOPT_HD inline double toy1d_fitness(double w, double eps) {
  const double a = w + eps + 0.5, b = w + eps - 0.5;
  return -::log(a * a + 1e-5) - ::log(b * b + 1e-2);
}

HOMOTOPT_HD inline double toy1d_derivative(double w, double eps) {
  const double a = w + eps + 0.5, b = w + eps - 0.5;
  return -2.0 * a / (a * a + 1e-5) - 2.0 * b / (b * b + 1e-2);
}

// Mean fitness over the noise draws eps (m,) (empty: eps = 0) at points w (R,) float64; out (R,).
HOMOTOPT_API void toy1d_fitness(const ArrayView& w, const ArrayView& eps, const ArrayView& out);

}  // namespace homotopt
