// The Gaussian sample of Prog-PowerHP (papers/prog_powerhp.md): w = mu + sigma eps, with eps a normal
// number of philox.hpp (float32, widened), formed in float64 and rounded once to the iterate's dtype T.
// Every backend draws its samples through this function (sigma = 0 callers copy mu instead).
#pragma once

#include "homotopt/macros.hpp"

namespace homotopt {

template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T sample_point(double mu, double sigma, double eps) {
  return static_cast<T>(mu + sigma * eps);
}

}  // namespace homotopt
