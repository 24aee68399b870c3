// The two-layer ReLU teacher-student problem (papers/prog_powerhp.md, after Safran and Shamir 2018):
// inputs x ~ N(0, I_n); teacher y = sum_{i<k} relu(v_i . x) with orthonormal v_i; student
// s_W(x) = sum_{i<k} relu(w_i . x), W in R^{k x n}, mu = vec(W) (row-major, d = k n); fitness
// f_W(x) = -(s_W(x) - y)^2. With h_i = w_i . x and e = s_W(x) - y:
//   grad_{w_i} f = -2 e 1(h_i > 0) x,
// so per pair only the k-vector of derivatives df/dh_i = -2 e 1(h_i > 0) is needed, and a weighted
// sum of pair gradients is sum_j M_j x_j^T with M_j = sum_k c_kj df/dh(k, j): one pass over the inputs.
#pragma once

#include <cstdint>

#include "homotopt/array.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T relu(T h) {
  return h > T(0) ? h : T(0);
}

// The residual e = sum_i relu(h_i) - y of one pair, from its k pre-activations h.
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T relu_residual(const T* h, std::int64_t k, T y) {
  T s = T(0);
  for (std::int64_t i = 0; i < k; ++i) s += relu(h[i]);
  return s - y;
}

// f = -e^2 and df/dh_i = -2 e 1(h_i > 0).
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T relu_fitness(T e) {
  return -(e * e);
}
template <class T>
HOMOTOPT_HD HOMOTOPT_INLINE T relu_dfdh(T e, T h) {
  return h > T(0) ? T(-2) * e : T(0);
}

// Mean fitness over inputs X (m, n) with labels y (m,) for students W of shape (d,) or (R, d), d = k n;
// out: float64 (R,).
HOMOTOPT_API void two_layer_relu_fitness(const ArrayView& W, const ArrayView& X, const ArrayView& y, std::int64_t k,
                                         const ArrayView& out);

}  // namespace homotopt
