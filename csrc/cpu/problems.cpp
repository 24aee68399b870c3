// The built-in problems' evaluation functions for Python (fitness on a set of data, for mu of shape
// (d,) or (R, d)); the same header math the runner models use (problems/*.hpp).
#include <cmath>
#include <vector>

#include "dtype_dispatch.hpp"
#include "homotopt/problems/toy1d.hpp"
#include "homotopt/problems/two_layer_relu.hpp"

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
  visit_float(X.dtype, [&](auto t) {
    using T = decltype(t);
    std::vector<T> h(static_cast<std::size_t>(k));
    for (std::int64_t r = 0; r < R; ++r) {
      const T* w = W.ptr<const T>() + r * k * n;
      double sum = 0.0;
      for (std::int64_t j = 0; j < m; ++j) {
        const T* x = X.ptr<const T>() + j * n;
        for (std::int64_t i = 0; i < k; ++i) {
          double acc = 0.0;
          for (std::int64_t c = 0; c < n; ++c) acc += static_cast<double>(w[i * n + c]) * static_cast<double>(x[c]);
          h[i] = static_cast<T>(acc);
        }
        sum += static_cast<double>(relu_fitness(relu_residual(h.data(), k, y.ptr<const T>()[j])));
      }
      out.ptr<double>()[r] = sum / static_cast<double>(m);
    }
  });
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
  const std::int64_t m = eps.empty_view() ? 0 : eps.numel();
  for (std::int64_t r = 0; r < w.numel(); ++r) {
    const double x = w.ptr<const double>()[r];
    double sum = 0.0;
    for (std::int64_t j = 0; j < m; ++j) sum += homotopt::toy1d_fitness(x, eps.ptr<const double>()[j]);
    out.ptr<double>()[r] = m == 0 ? homotopt::toy1d_fitness(x, 0.0) : sum / static_cast<double>(m);
  }
}

}  // namespace homotopt
