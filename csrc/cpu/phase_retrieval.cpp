// CPU backend of the fused phase-retrieval estimator and fitness (problems/phase_retrieval.hpp).
//
// Per call: draw W = mu + sigma * eps (K x d) from Philox, straight into dot_block's panels, then one
// pass over the minibatch rows in blocks of kBlockRows: Z = A_blk W^T (dot_block), the pairs'
// exponents a = N f and the block max, an online merge into (m, s), c_j = sum_k e^{a_jk - m} df/dz_jk
// and u += c_j a_j while the block's rows are still in cache. Per-pair gradients never exist. Threads take whole blocks, keep their own (m, s, u)
// and are merged in thread order.
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "cpu/dot_block.hpp"
#include "cpu/parallel.hpp"
#include "cpu/random_span.hpp"
#include "dtype_dispatch.hpp"

namespace homotopt::cpu {
namespace {

// W[k, c] = mu[c] + sigma * eps[k*d + c], eps from the normal stream at spec.key: one flat span of
// K d numbers (so whole Philox batches), split across threads when large.
template <class T>
void draw_samples(const T* mu, std::int64_t d, const SampleSpec& spec, PanelRows<T>& W) {
  W.reset(spec.num_samples, d);
  const std::int64_t total = spec.num_samples * d;
  constexpr std::int64_t kGrain = 1024;
  const int nt = threads_for(total * 16, (total + kGrain - 1) / kGrain);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t i0, i1;
    split_range(total, team_size(), thread_id(), kGrain, i0, i1);
    std::int64_t k = i0 / d, c = i0 % d;
    const std::int64_t width = W.width();
    T* wk = &W.at(k, 0);  // sample k's column-strided slots in its panel
    generate_span<Distribution::normal>(i0, i1, spec.key, 0, [&](std::int64_t, double x) {
      wk[c * width] = static_cast<T>(static_cast<double>(mu[c]) + spec.sigma * x);
      if (++c == d) {
        c = 0;
        if (++k < spec.num_samples) wk = &W.at(k, 0);
      }
    });
  }
}

struct Partial {
  double m = -kInf;
  double s = 0.0;
  std::vector<double> u;
};

// Scratch of one thread for one block. z and the exponents a are kBlockRows x Kp (K padded to the
// panel width, a multiple of 8): the per-pair loops run over whole vectors, with a = -inf (weight 0)
// for padded samples and for rows beyond a short last block.
template <class T>
struct BlockScratch {
  std::vector<T> z;
  std::vector<double> a;
  BlockRows<T> pack;  // the block's rows of A
  const T* rows[kBlockRows];
  T y[kBlockRows];
  explicit BlockScratch(std::int64_t padded_K) : z(kBlockRows * padded_K), a(kBlockRows * padded_K) {}
};

template <class T>
void accumulate_block(BlockScratch<T>& b, std::int64_t nr, const PanelRows<T>& W, double power, Partial& p) {
  const std::int64_t d = W.d(), K = W.K(), Kp = W.padded_K();
  for (std::int64_t r = nr; r < kBlockRows; ++r) b.y[r] = T(0);
  b.pack.pack(b.rows, nr, d);
  dot_block(b.pack, W, b.z.data());

  // Exponents a = N f and the block's max.
  double mb = -kInf;
  for (std::int64_t r = 0; r < kBlockRows; ++r) {
    const T yr = b.y[r];
    const T* z = b.z.data() + r * Kp;
    double* a = b.a.data() + r * Kp;
    const std::int64_t valid = r < nr ? K : 0;
#pragma omp simd reduction(max : mb)
    for (std::int64_t k = 0; k < Kp; ++k) {
      const double ak = power_exponent(power, static_cast<double>(phase_retrieval_pair(z[k], yr).f));
      a[k] = k < valid ? ak : -kInf;
      mb = a[k] > mb ? a[k] : mb;
    }
  }
  if (mb == -kInf) return;  // every pair of the block has weight exactly 0
  if (mb > p.m) {           // a new running max: move the sums to it (u is all zeros while s == 0)
    const double c = lse_rescale(p.m, mb);
    if (p.s > 0.0) {
      p.s *= c;
      for (double& ui : p.u) ui *= c;
    }
    p.m = mb;
  }

  // Weights e^{a - m}, their sum, and c_j = sum_k e^{a_jk - m} df/dz_jk per row.
  const double m = p.m;
  double c[kBlockRows];
  for (std::int64_t r = 0; r < kBlockRows; ++r) {
    const T yr = b.y[r];
    const T* z = b.z.data() + r * Kp;
    const double* a = b.a.data() + r * Kp;
    double cj = 0.0, sr = 0.0;
#pragma omp simd reduction(+ : cj, sr)
    for (std::int64_t k = 0; k < Kp; ++k) {
      const double w = exp_nonpositive(a[k] - m);  // 0 for a = -inf
      sr += w;
      const double g = static_cast<double>(phase_retrieval_pair(z[k], yr).dfdz);
      cj += w > 0.0 ? w * g : 0.0;  // a pair of weight 0 may have an infinite df/dz
    }
    p.s += sr;
    c[r] = cj;
  }

  // u += sum_j c_j a_j: one pass over u for the whole block (rows beyond nr are zero, c_j too).
  const T* ar[kBlockRows];
  for (std::int64_t r = 0; r < kBlockRows; ++r) ar[r] = b.pack.row(r);
  double* HOMOTOPT_RESTRICT u = p.u.data();
#pragma omp simd
  for (std::int64_t col = 0; col < d; ++col) {
    double acc = u[col];
    for (std::int64_t r = 0; r < kBlockRows; ++r) acc = std::fma(c[r], static_cast<double>(ar[r][col]), acc);
    u[col] = acc;
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
  draw_samples(mu_view.ptr<const T>(), d, spec, W);

  const std::int64_t nblocks = (J + kBlockRows - 1) / kBlockRows;
  const int nt = threads_for(2 * J * d * K, nblocks);
  std::vector<Partial> partials(static_cast<std::size_t>(nt));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    Partial& p = partials[static_cast<std::size_t>(thread_id())];
    p.u.assign(static_cast<std::size_t>(d), 0.0);
    BlockScratch<T> scratch(W.padded_K());
#pragma omp for schedule(static)
    for (std::int64_t blk = 0; blk < nblocks; ++blk) {
      const std::int64_t j0 = blk * kBlockRows;
      const std::int64_t nr = std::min(kBlockRows, J - j0);
      for (std::int64_t r = 0; r < nr; ++r) {
        const std::int64_t row = rows ? rows[j0 + r] : j0 + r;
        scratch.rows[r] = A + row * d;
        scratch.y[r] = y[row];
      }
      accumulate_block(scratch, nr, W, spec.power, p);
    }
  }
  double m = -kInf, s = 0.0;
  for (const Partial& p : partials) {
    const LseScale c = lse_merge(m, s, p.m, p.s);
    for (std::int64_t i = 0; i < d; ++i) u[i] = u[i] * c.self + p.u[i] * c.other;
  }
  parts = PowerState::Parts{m, s, J * K, 0};
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
  const std::int64_t Rp = mu.padded_K();
  const std::int64_t nblocks = (n + kBlockRows - 1) / kBlockRows;
  const int nt = threads_for(2 * n * d * R, nblocks);
  std::vector<std::vector<double>> sums(static_cast<std::size_t>(nt));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<double>& sum = sums[static_cast<std::size_t>(thread_id())];
    sum.assign(static_cast<std::size_t>(R), 0.0);
    std::vector<T> z(static_cast<std::size_t>(kBlockRows * Rp));
    BlockRows<T> pack;
    const T* rows[kBlockRows];
#pragma omp for schedule(static)
    for (std::int64_t blk = 0; blk < nblocks; ++blk) {
      const std::int64_t j0 = blk * kBlockRows;
      const std::int64_t nr = std::min(kBlockRows, n - j0);
      for (std::int64_t r = 0; r < nr; ++r) rows[r] = A + (j0 + r) * d;
      pack.pack(rows, nr, d);
      dot_block(pack, mu, z.data());
      for (std::int64_t r = 0; r < nr; ++r)
        for (std::int64_t t = 0; t < R; ++t)
          sum[t] += static_cast<double>(phase_retrieval_pair(z[r * Rp + t], y[j0 + r]).f);
    }
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
