// CPU backend of the fused phase-retrieval estimator and fitness (problems/phase_retrieval.hpp): the
// kernel is cpu/phase_retrieval_kernel.hpp. The rows are cut into a fixed set of slabs (whole blocks;
// how many depends on J and d only), each slab reduces into its own (m, s, u) or sums, threads take
// contiguous runs of slabs, and the slabs are merged in slab order: the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/kernels.hpp"
#include "backend.hpp"
#include "cpu/phase_retrieval_kernel.hpp"
#include "dtype_dispatch.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

// Slabs of `n` rows for per-slab buffers of `width` doubles: about 4 blocks of rows each (fewer merges
// for small n) but at least 16 slabs where there are 16 blocks (work for 16 threads), at most 64, and
// at most 2^21 buffered doubles (16 MiB) in all.
std::int64_t slab_count(std::int64_t n, std::int64_t width) {
  constexpr std::int64_t kMaxSlabs = 64, kMinSlabs = 16, kBlocksPerSlab = 4;
  constexpr std::int64_t kMaxDoubles = std::int64_t{1} << 21;
  const std::int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
  const std::int64_t want = std::min(kMaxSlabs, std::max(std::min(blocks, kMinSlabs), blocks / kBlocksPerSlab));
  return std::max<std::int64_t>(1, std::min(want, kMaxDoubles / std::max<std::int64_t>(width, 1)));
}

// Calls body(scratch, slab, row_begin, row_end) for every slab, threads taking contiguous runs of
// slabs, each with one Scratch for all its slabs.
template <class Scratch, class Body>
void for_each_slab(std::int64_t n, std::int64_t slabs, std::int64_t work, Body body) {
  const int nt = threads_for(work, slabs);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Scratch scratch;
    std::int64_t s0, s1;
    split_range(slabs, team_size(), thread_id(), 1, s0, s1);
    for (std::int64_t sl = s0; sl < s1; ++sl) {
      std::int64_t j0, j1;
      split_range(n, static_cast<int>(slabs), static_cast<int>(sl), kBlockRows, j0, j1);
      body(scratch, sl, j0, j1);
    }
  }
}

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

  const std::int64_t slabs = slab_count(J, d);
  std::vector<Partial> partials(static_cast<std::size_t>(slabs));
  for_each_slab<BlockScratch<T>>(J, slabs, 2 * J * d * K, [&](BlockScratch<T>& scratch, std::int64_t sl,
                                                                std::int64_t j0, std::int64_t j1) {
    Partial& p = partials[static_cast<std::size_t>(sl)];
    p.u.assign(static_cast<std::size_t>(d), 0.0);
    reduce_rows(scratch, W, A, y, [rows](std::int64_t j) { return rows ? rows[j] : j; }, j0, j1, spec.power, p);
  });
  LseState lse;
  for (const Partial& p : partials) {  // slab order
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
  const std::int64_t slabs = slab_count(n, R);
  std::vector<std::vector<double>> sums(static_cast<std::size_t>(slabs), std::vector<double>(R, 0.0));
  for_each_slab<BlockScratch<T>>(n, slabs, 2 * n * d * R, [&](BlockScratch<T>& scratch, std::int64_t sl,
                                                                std::int64_t j0, std::int64_t j1) {
    fitness_rows(scratch, mu, A, y, [](std::int64_t j) { return j; }, j0, j1, sums[static_cast<std::size_t>(sl)].data());
  });
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

}  // namespace HOMOTOPT_CPU_NS
