// Real phase retrieval (papers/prog_powerhp.md, "Closed forms for the built-in problems").
// Data x_j = (a_j, y_j) with y_j = (a_j . x*)^2; fitness f_w(a, y) = -((a . w)^2 - y)^2.
// With z = a . w and r = z^2 - y: f = -r^2 and grad_w f = -4 r z a, so per pair only the scalar
// df/dz = -4 r z is needed and sum_kj e^{N f_kj - m} grad f_kj = A_J^T c with
// c_j = sum_k e^{N f_jk - m} (-4 r_jk z_jk): one pass over the rows of A gives the whole estimator.
// Metric M(mu) = min(||mu - x*||, ||mu + x*||) / ||x*||.
#pragma once

#include <cmath>
#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/power_gradient.hpp"

namespace homotopt {

template <class T>
struct PairValue {
  T f;     // fitness of the pair
  T dfdz;  // derivative of f with respect to z = a . w
};

template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE PairValue<T> phase_retrieval_pair(T z, T y) {
  const T r = z * z - y;
  return {-(r * r), T(-4) * r * z};
}

// M(mu) = min(||mu - x||, ||mu + x||) / ||x|| (x = x*, in float64), from the three sums of squares
// (summed over the coordinates in any order: a CUDA block sums its threads' shares).
struct MetricSums {
  double minus = 0.0, plus = 0.0, norm = 0.0;
  HOMOTOPT_HD void add(double m, double x) {
    minus += (m - x) * (m - x);
    plus += (m + x) * (m + x);
    norm += x * x;
  }
  HOMOTOPT_HD double metric() const { return ::sqrt(minus < plus ? minus : plus) / ::sqrt(norm); }
};

template <class T>
HOMOTOPT_HD inline double phase_retrieval_metric(const T* mu, const double* x, std::int64_t d) {
  MetricSums s;
  for (std::int64_t i = 0; i < d; ++i) s.add(static_cast<double>(mu[i]), x[i]);
  return s.metric();
}

// How the K Gaussian samples of one estimator call are drawn: w_k = mu + sigma eps_k, with eps_k
// numbers k*d .. k*d + d - 1 of the normal stream at `key` (stream RandomStream::samples).
struct SampleSpec {
  std::int64_t num_samples = 1;  // K
  double sigma = 1.0;
  double power = 1.0;            // N
  RandomKey key{0, static_cast<std::uint32_t>(RandomStream::samples), 0, 0};
};

// The fused estimator. A (n, d), y (n,), mu (d,) of one float dtype; rows: int64 (J,) indices into
// A's rows (the minibatch), or an empty view for all n rows. Writes direction (d,) (and the literal
// gradient when given) in A's dtype.
HOMOTOPT_API PowerResultStats phase_retrieval_power_gradient(const ArrayView& A, const ArrayView& y,
                                                             const ArrayView& mu, const ArrayView& rows,
                                                             const SampleSpec& spec,
                                                             const ArrayView& direction,
                                                             const ArrayView& gradient = ArrayView{});

// The same estimator into a PowerState (to merge minibatches or processes).
HOMOTOPT_API void phase_retrieval_power_update(PowerState& state, const ArrayView& A, const ArrayView& y,
                                               const ArrayView& mu, const ArrayView& rows,
                                               const SampleSpec& spec);

// Mean fitness over all rows, for mu of shape (d,) or (R, d); out: float64 (R,) (R = 1 for (d,)).
HOMOTOPT_API void phase_retrieval_fitness(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                          const ArrayView& out);

// The metric for mu of shape (d,) or (R, d) (float32 or float64) against x_true (d,) float64; out (R,).
HOMOTOPT_API void phase_retrieval_metric(const ArrayView& x_true, const ArrayView& mu, const ArrayView& out);

}  // namespace homotopt
