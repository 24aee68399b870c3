// Front end of the built-in problems' evaluation functions for Python (fitness on a set of data, for mu
// of shape (d,) or (R, d)): the checks, then the CPU backend (cpu/problems.cpp).
#include <cstdint>

#include "backend.hpp"

namespace homotopt {

void two_layer_relu_fitness(const ArrayView& W, const ArrayView& X, const ArrayView& y, std::int64_t k,
                            const ArrayView& out) {
  check_float(X, "X");
  HOMOTOPT_CHECK(X.ndim == 2 && X.shape[0] >= 1 && X.shape[1] >= 1, "X: expected shape (m, n), got ", X.shape_string());
  const std::int64_t m = X.shape[0], n = X.shape[1];
  HOMOTOPT_CHECK(k >= 1, "k: expected >= 1, got ", k);
  check_same_dtype(W, X, "mu", "X");
  check_same_dtype(y, X, "y", "X");
  HOMOTOPT_CHECK((W.ndim == 1 || W.ndim == 2) && W.shape[W.ndim - 1] == k * n, "mu: expected shape (d,) or (R, d) with d = k n = ",
                 k * n, ", got ", W.shape_string());
  HOMOTOPT_CHECK(y.ndim == 1 && y.shape[0] == m, "y: expected shape (m,) = (", m, ",), got ", y.shape_string());
  for (const ArrayView* v : {&W, &X, &y}) check_contiguous(*v, "arrays");
  const std::int64_t R = W.ndim == 2 ? W.shape[0] : 1;
  check_dtype(out, DType::float64, "out");
  HOMOTOPT_CHECK(out.numel() == R, "out: expected ", R, " elements");
  dispatch::kernel(&Kernels::two_layer_relu_fitness, X.device, "two_layer_relu_fitness")(W, X, y, k, out);
}

void toy1d_fitness(const ArrayView& w, const ArrayView& eps, const ArrayView& out) {
  check_dtype(w, DType::float64, "mu");
  check_contiguous(w, "mu");
  if (!eps.empty_view()) {
    check_dtype(eps, DType::float64, "eps");
    check_contiguous(eps, "eps");
  }
  check_dtype(out, DType::float64, "out");
  HOMOTOPT_CHECK(out.numel() == w.numel(), "out: expected ", w.numel(), " elements");
  dispatch::kernel(&Kernels::toy1d_fitness, w.device, "toy1d_fitness")(w, eps, out);
}

}  // namespace homotopt
