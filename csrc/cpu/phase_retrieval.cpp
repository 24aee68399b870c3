// CPU backend of the fused phase-retrieval estimator and fitness (problems/phase_retrieval.hpp): the
// kernel is cpu/phase_retrieval_kernel.hpp; here threads take whole blocks of rows, keep their own
// (m, s, u) and are merged in thread order.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "cpu/phase_retrieval_kernel.hpp"
#include "dtype_dispatch.hpp"

namespace homotopt::cpu {
namespace {

template <class T>
void reduce_typed(const ArrayView& A_view, const ArrayView& y_view, const ArrayView& mu_view,
                  const ArrayView& rows_view, const SampleSpec& spec, PowerState::Parts& parts,
                  double* u) {
  const T* A = A_view.ptr<const T>();
  const T* y = y_view.ptr<const T>();
  const std::int64_t d = A_view.shape[1];
  const std::int64_t* rows = rows_view.empty_view() ? nullptr : rows_view.ptr<const std::int64_t>();
  const std::int64_t J = rows ? rows_view.shape[0] : A_view.shape[0];
  const std::int64_t K = spec.num_samples;

  PanelRows<T> W;
  std::vector<float> eps;
  draw_samples(mu_view.ptr<const T>(), d, spec, W, eps);

  const std::int64_t nblocks = (J + kBlockRows - 1) / kBlockRows;
  const int nt = threads_for(2 * J * d * K, nblocks);
  std::vector<Partial> partials(static_cast<std::size_t>(nt));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Partial& p = partials[static_cast<std::size_t>(thread_id())];
    p.u.assign(static_cast<std::size_t>(d), 0.0);
    BlockScratch<T> scratch;
    std::int64_t j0, j1;
    split_range(J, team_size(), thread_id(), kBlockRows, j0, j1);
    reduce_rows(scratch, W, A, y, [rows](std::int64_t j) { return rows ? rows[j] : j; }, j0, j1, spec.power, p);
  }
  LseState lse;
  for (const Partial& p : partials) {
    const LseScale c = lse.merge(p.lse);
    for (std::int64_t i = 0; i < d; ++i) u[i] = u[i] * c.self + p.u[i] * c.other;
  }
  parts = PowerState::Parts{lse, J * K, 0};
}

template <class T>
void fitness_typed(const ArrayView& A_view, const ArrayView& y_view, const ArrayView& mu_view,
                   const ArrayView& out_view) {
  const T* A = A_view.ptr<const T>();
  const T* y = y_view.ptr<const T>();
  double* out = out_view.ptr<double>();
  const std::int64_t n = A_view.shape[0], d = A_view.shape[1];
  const std::int64_t R = mu_view.ndim == 2 ? mu_view.shape[0] : 1;
  PanelRows<T> mu;
  mu.assign(mu_view.ptr<const T>(), R, d);
  const int nt = threads_for(2 * n * d * R, (n + kBlockRows - 1) / kBlockRows);
  std::vector<std::vector<double>> sums(static_cast<std::size_t>(nt), std::vector<double>(R, 0.0));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    BlockScratch<T> scratch;
    std::int64_t j0, j1;
    split_range(n, team_size(), thread_id(), kBlockRows, j0, j1);
    fitness_rows(scratch, mu, A, y, [](std::int64_t j) { return j; }, j0, j1,
                 sums[static_cast<std::size_t>(thread_id())].data());
  }
  for (std::int64_t t = 0; t < R; ++t) {
    double total = 0.0;
    for (const auto& sum : sums) total += sum[t];
    out[t] = total / static_cast<double>(n);
  }
}

}  // namespace

void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                            const ArrayView& rows, const SampleSpec& spec, PowerState::Parts& parts,
                            double* u) {
  visit_float(A.dtype, [&](auto t) { reduce_typed<decltype(t)>(A, y, mu, rows, spec, parts, u); });
}

void phase_retrieval_fitness(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                             const ArrayView& out) {
  visit_float(A.dtype, [&](auto t) { fitness_typed<decltype(t)>(A, y, mu, out); });
}

}  // namespace homotopt::cpu
