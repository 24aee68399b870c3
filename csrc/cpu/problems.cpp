// CPU backend of the built-in problems' evaluation functions (problems.cpp checks): the same header
// math the runner models use (problems/*.hpp). Compiled once per CPU capability: the ReLU fitness runs
// the runner model's hot loop (relu_mean_fitness).
#include <cmath>
#include <vector>

#include "backend.hpp"
#include "cpu/kernels.hpp"
#include "cpu/models/relu_model.hpp"
#include "dtype_dispatch.hpp"
#include "homotopt/problems/toy1d.hpp"
#include "homotopt/problems/two_layer_relu.hpp"

namespace HOMOTOPT_CPU_NS {

void two_layer_relu_fitness(const ArrayView& W, const ArrayView& X, const ArrayView& y, std::int64_t k,
                            const ArrayView& out) {
  const std::int64_t m = X.shape[0], n = X.shape[1];
  const std::int64_t R = W.ndim == 2 ? W.shape[0] : 1;
  visit_float(X.dtype, [&](auto t) {
    using T = decltype(t);
    std::vector<T> h(static_cast<std::size_t>(k));
    for (std::int64_t r = 0; r < R; ++r)
      out.ptr<double>()[r] = relu_mean_fitness(W.ptr<const T>() + r * k * n, X.ptr<const T>(), y.ptr<const T>(), m, k, n,
                                               h.data());
  });
}

void toy1d_fitness(const ArrayView& w, const ArrayView& eps, const ArrayView& out) {
  const std::int64_t m = eps.empty_view() ? 0 : eps.numel();
  for (std::int64_t r = 0; r < w.numel(); ++r) {
    const double x = w.ptr<const double>()[r];
    double sum = 0.0;
    for (std::int64_t j = 0; j < m; ++j) sum += homotopt::toy1d_fitness(x, eps.ptr<const double>()[j]);
    out.ptr<double>()[r] = m == 0 ? homotopt::toy1d_fitness(x, 0.0) : sum / static_cast<double>(m);
  }
}

}  // namespace HOMOTOPT_CPU_NS
