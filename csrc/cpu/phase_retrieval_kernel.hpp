// Internal: the fused phase-retrieval estimator's building blocks (problems/phase_retrieval.hpp), shared
// by the one-call estimator (cpu/phase_retrieval.cpp) and the runner's phase-retrieval model.
//
// Draw W = mu + sigma * eps (K x d) from Philox straight into dot_block's panels; then, over the
// minibatch rows in blocks of kBlockRows: Z = A_blk W^T (dot_block), the pairs' exponents a = N f and
// the block max, an online merge into (m, s), c_j = sum_k e^{a_jk - m} df/dz_jk and u += c_j a_j while
// the block's rows are still in cache. Per-pair gradients never exist.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/capability_namespace.hpp"
#include "cpu/dot_block.hpp"
#include "cpu/parallel.hpp"
#include "cpu/random_span.hpp"
#include "homotopt/lse.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/sample.hpp"

namespace HOMOTOPT_CPU_NS {

// W[k, c] = mu[c] + sigma * eps[k*d + c], eps from the normal stream at spec.key: one flat span of
// K d numbers (so whole Philox batches), split across threads when large.
// panel[c][kk] = mu[c] + sigma e[kk][c] for kk < KN (a compile-time count when KN > 0, so the inner
// loop unrolls), e row-major with rows d apart.
template <int KN, class T>
HOMOTOPT_INLINE void place_panel(T* HOMOTOPT_RESTRICT panel, std::int64_t width, const T* mu, std::int64_t d,
                                 double sigma, const float* HOMOTOPT_RESTRICT e, std::int64_t kn = KN) {
  for (std::int64_t c = 0; c < d; ++c) {
    const double m = static_cast<double>(mu[c]);
    if constexpr (KN > 0) {
      for (int kk = 0; kk < KN; ++kk) panel[c * width + kk] = sample_point<T>(m, sigma, e[kk * d + c]);
    } else {
      for (std::int64_t kk = 0; kk < kn; ++kk) panel[c * width + kk] = sample_point<T>(m, sigma, e[kk * d + c]);
    }
  }
}

// The noise straight into the panels, for d a multiple of 4: a Philox block then holds 4 consecutive
// columns c .. c + 3 of one sample (numbers k d + c ...), so 8 blocks, one per sample of a group of 8,
// give a 4 x 8 tile of the panel, stored as 4 contiguous runs of 8. Same numbers as the stream order.
template <class T>
void draw_samples_by_columns(const T* mu, std::int64_t d, const SampleSpec& spec, PanelRows<T>& W) {
  const std::int64_t K = spec.num_samples, width = W.width(), quads = d / 4;
  const double sigma = spec.sigma;
  constexpr int kGroup = 8;  // samples per tile (the panels' widths are multiples of 8)
  for (std::int64_t k0 = 0; k0 < K; k0 += kGroup) {  // samples k0 .. k0 + 7 (fewer at the end)
    const std::int64_t kn = std::min<std::int64_t>(kGroup, K - k0);
    T* panel = W.panel_data(k0 / width) + k0 % width;
    std::uint64_t blocks[kGroup];
    for (std::int64_t q = 0; q < quads; ++q) {
      for (int l = 0; l < kGroup; ++l)
        blocks[l] = static_cast<std::uint64_t>((k0 + std::min<std::int64_t>(l, kn - 1)) * quads + q);
      std::uint32_t w[4][kGroup];
      philox_blocks(spec.key, blocks, w);
      float n[4][kGroup];
      for (int l = 0; l < kGroup; ++l) {
        normal_pair(w[0][l], w[1][l], n[0][l], n[1][l]);
        normal_pair(w[2][l], w[3][l], n[2][l], n[3][l]);
      }
      for (int j = 0; j < 4; ++j) {
        const std::int64_t c = 4 * q + j;
        const double m = static_cast<double>(mu[c]);
        T* dst = panel + c * width;
        for (std::int64_t l = 0; l < kn; ++l) dst[l] = sample_point<T>(m, sigma, n[j][l]);
      }
    }
  }
}

// sigma = 0 (used by the baselines, whose "samples" are the point itself) copies mu, drawing nothing.
// The noise is drawn into `eps` first (contiguous stores, whole Philox batches), then placed into the
// panels, which are column-major within a panel.
template <class T>
void draw_samples(const T* mu, std::int64_t d, const SampleSpec& spec, PanelRows<T>& W, std::vector<float>& eps) {
  const std::int64_t K = spec.num_samples, total = K * d;
  W.reset(K, d);
  if (spec.sigma == 0.0) {
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t c = 0; c < d; ++c) W.at(k, c) = mu[c];
    return;
  }
  if (d % 4 == 0 && threads_for(total * 16, K) == 1) {
    draw_samples_by_columns(mu, d, spec, W);
    return;
  }
  eps.resize(static_cast<std::size_t>(total));
  float* e = eps.data();
  constexpr std::int64_t kGrain = 1024;
  const int nt = threads_for(total * 16, (total + kGrain - 1) / kGrain);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t i0, i1;
    split_range(total, team_size(), thread_id(), kGrain, i0, i1);
    generate_span<Distribution::normal>(i0, i1, spec.key, 0, [e](std::int64_t i, double x) { e[i] = static_cast<float>(x); });
  }
  const std::int64_t width = W.width();
  for (std::int64_t p = 0; p < W.panels(); ++p) {  // panel p holds samples p width .. + width - 1
    const std::int64_t k0 = p * width, kn = std::min(width, K - k0);
    if (kn == 8) place_panel<8>(W.panel_data(p), width, mu, d, spec.sigma, e + k0 * d);
    else if (kn == 4) place_panel<4>(W.panel_data(p), width, mu, d, spec.sigma, e + k0 * d);
    else place_panel<0>(W.panel_data(p), width, mu, d, spec.sigma, e + k0 * d, kn);
  }
}

// One thread's state: (m, s) and its u (d entries).
struct Partial {
  LseState lse;
  std::vector<double> u;
};

// Scratch of one thread for one block. z and the exponents a are kBlockRows x Kp (K padded to the
// panel width, a multiple of 8): the per-pair loops run over whole vectors, with a = -inf (weight 0)
// for padded samples and for rows beyond a short last block.
template <class T>
struct BlockScratch {
  std::vector<T> z;
  std::vector<double> a;
  const T* rows[kBlockRows];
  T y[kBlockRows];
  void ensure(std::int64_t padded_K) {
    if (static_cast<std::int64_t>(z.size()) != kBlockRows * padded_K) {
      z.assign(kBlockRows * padded_K, T(0));
      a.assign(kBlockRows * padded_K, 0.0);
    }
  }
};

constexpr std::int64_t kWeightChunk = 64;  // pairs whose weights are summed per pass (a multiple of 4)

// u += sum_j c_j a_j, four rows per pass over u (rows beyond nr are zero, and so is their c_j).
template <class T>
void add_rows(const BlockScratch<T>& b, std::int64_t nr, std::int64_t d, const double* c,
              double* HOMOTOPT_RESTRICT u) {
  for (std::int64_t r0 = 0; r0 < nr; r0 += 4) {
    const T *a0 = b.rows[r0], *a1 = b.rows[r0 + 1], *a2 = b.rows[r0 + 2], *a3 = b.rows[r0 + 3];
    const double c0 = c[r0], c1 = c[r0 + 1], c2 = c[r0 + 2], c3 = c[r0 + 3];
#pragma omp simd
    for (std::int64_t col = 0; col < d; ++col) {
      double acc = std::fma(c0, static_cast<double>(a0[col]), u[col]);
      acc = std::fma(c1, static_cast<double>(a1[col]), acc);
      acc = std::fma(c2, static_cast<double>(a2[col]), acc);
      u[col] = std::fma(c3, static_cast<double>(a3[col]), acc);
    }
  }
}

// lse.hpp's limit rule for a block whose largest exponent mb is +-inf (N f overflowed), off the hot
// path: the block's largest value top_b, then weight 1 for its ties when the block ranks at least as
// high as p's state, and u += sum_j c_j a_j for them.
template <class T>
HOMOTOPT_NOINLINE void limit_block(BlockScratch<T>& b, std::int64_t nr, const PanelRows<T>& W, double mb,
                                   Partial& p) {
  const std::int64_t d = W.d(), K = W.K(), Kp = W.padded_K();
  double c[kBlockRows] = {};
  double top_b = -kInf;
  for (std::int64_t r = 0; r < nr; ++r)
    for (std::int64_t k = 0; k < K; ++k)
      top_b = std::max(top_b, static_cast<double>(phase_retrieval_pair(b.z[r * Kp + k], b.y[r]).f));
  bool counts = false;
  const double scale = p.lse.add_limit_block(mb, top_b, counts);
  if (scale != 1.0)
    for (double& ui : p.u) ui *= scale;
  if (!counts) return;
  for (std::int64_t r = 0; r < nr; ++r) {
    double cr = 0.0;
    for (std::int64_t k = 0; k < K; ++k) {
      const auto pair = phase_retrieval_pair(b.z[r * Kp + k], b.y[r]);
      if (p.lse.limit_weight(static_cast<double>(pair.f)) == 0.0) continue;
      p.lse.s += 1.0;
      cr += static_cast<double>(pair.dfdz);
    }
    c[r] = cr;
  }
  add_rows(b, nr, d, c, p.u.data());
}

template <class T>
void accumulate_block(BlockScratch<T>& b, std::int64_t nr, const PanelRows<T>& W, double power, Partial& p) {
  const std::int64_t d = W.d(), K = W.K(), Kp = W.padded_K();
  for (std::int64_t r = nr; r < kBlockRows; ++r) b.rows[r] = zero_row<T>(d);
  dot_block(b.rows, nr, W, b.z.data());

  // Exponents a = N f and the block's max (padded samples k >= K get -inf: weight 0).
  double mb = -kInf;
  for (std::int64_t r = 0; r < nr; ++r) {
    const T yr = b.y[r];
    const T* z = b.z.data() + r * Kp;
    double* a = b.a.data() + r * Kp;
#pragma omp simd reduction(max : mb)
    for (std::int64_t k = 0; k < Kp; ++k) {
      const double ak = power_exponent(power, static_cast<double>(phase_retrieval_pair(z[k], yr).f));
      a[k] = k < K ? ak : -kInf;
      mb = a[k] > mb ? a[k] : mb;
    }
  }
  if (!(mb > -kInf && mb < kInf)) {  // some N f overflowed (or every pair has weight 0): off the hot path
    if (mb == -kInf && p.lse.m > -kInf) return;  // every pair of the block has weight exactly 0
    limit_block(b, nr, W, mb, p);
    return;
  }
  const double scale = p.lse.add_block(mb);
  if (scale != 1.0)
    for (double& ui : p.u) ui *= scale;

  // Weights e^{a - m}, their sum, and c_j = sum_k e^{a_jk - m} df/dz_jk per row.
  const LseState lse = p.lse;
  double c[kBlockRows] = {};
  for (std::int64_t r = 0; r < nr; ++r) {
    const T yr = b.y[r];
    const T* z = b.z.data() + r * Kp;
    const double* a = b.a.data() + r * Kp;
    // The weights and weighted df/dz of a chunk (elementwise, vectorized), then their sums in four fixed
    // lanes (Kp is a multiple of 4) added in a fixed order: the same bits for every vector width, so
    // every CPU capability agrees (an `omp simd reduction` would sum in the ISA's width).
    double cl[4] = {}, sl[4] = {};
    for (std::int64_t k0 = 0; k0 < Kp; k0 += kWeightChunk) {
      const std::int64_t len = std::min(kWeightChunk, Kp - k0);
      double w[kWeightChunk], wg[kWeightChunk];
#pragma omp simd
      for (std::int64_t i = 0; i < len; ++i) {
        w[i] = lse.weight(a[k0 + i]);  // 0 for a = -inf
        const double g = static_cast<double>(phase_retrieval_pair(z[k0 + i], yr).dfdz);
        wg[i] = w[i] > 0.0 ? w[i] * g : 0.0;  // a pair of weight 0 may have an infinite df/dz
      }
      for (std::int64_t i = 0; i < len; i += 4)
        for (int l = 0; l < 4; ++l) {
          sl[l] += w[i + l];
          cl[l] += wg[i + l];
        }
    }
    p.lse.s += (sl[0] + sl[1]) + (sl[2] + sl[3]);
    c[r] = (cl[0] + cl[1]) + (cl[2] + cl[3]);
  }

  // u += sum_j c_j a_j, four rows per pass over u (rows beyond nr are zero, and so is their c_j).
  // The same loop as add_rows, written out on purpose: calling add_rows here (even forced inline) made
  // the estimator 8-17% slower (n = 4096, d = 1024, K = 32: 3.70-3.77 ms -> 4.33-4.38 ms, 1 thread,
  // alternating processes); the limit path, off the hot path, calls add_rows.
  double* HOMOTOPT_RESTRICT u = p.u.data();
  for (std::int64_t r0 = 0; r0 < nr; r0 += 4) {
    const T *a0 = b.rows[r0], *a1 = b.rows[r0 + 1], *a2 = b.rows[r0 + 2], *a3 = b.rows[r0 + 3];
    const double c0 = c[r0], c1 = c[r0 + 1], c2 = c[r0 + 2], c3 = c[r0 + 3];
#pragma omp simd
    for (std::int64_t col = 0; col < d; ++col) {
      double acc = std::fma(c0, static_cast<double>(a0[col]), u[col]);
      acc = std::fma(c1, static_cast<double>(a1[col]), acc);
      acc = std::fma(c2, static_cast<double>(a2[col]), acc);
      u[col] = std::fma(c3, static_cast<double>(a3[col]), acc);
    }
  }
}

// Points b's row pointers and y values at minibatch rows [j, min(j + kBlockRows, j1)) (row j is A's
// row row_of(j)); returns how many.
template <class T, class RowOf>
std::int64_t gather_rows(BlockScratch<T>& b, const T* A, const T* y, std::int64_t d, RowOf row_of, std::int64_t j,
                         std::int64_t j1) {
  const std::int64_t nr = std::min(kBlockRows, j1 - j);
  for (std::int64_t r = 0; r < nr; ++r) {
    const std::int64_t row = row_of(j + r);
    b.rows[r] = A + row * d;
    b.y[r] = y[row];
  }
  return nr;
}

// The estimator's contribution of minibatch rows [j0, j1) (row j is A's row row_of(j)) into p, one
// block of kBlockRows at a time, single-threaded. p.u must have d entries.
template <class T, class RowOf>
void reduce_rows(BlockScratch<T>& b, const PanelRows<T>& W, const T* A, const T* y, RowOf row_of,
                 std::int64_t j0, std::int64_t j1, double power, Partial& p) {
  const std::int64_t d = W.d();
  b.ensure(W.padded_K());
  for (std::int64_t j = j0; j < j1; j += kBlockRows) {
    const std::int64_t nr = gather_rows(b, A, y, d, row_of, j, j1);
    accumulate_block(b, nr, W, power, p);
  }
}

// Adds sum_j f(a_j . w_p, y_j) over minibatch rows [j0, j1) to sums[p] for the P = points.K() points
// (the panels of PanelRows). Single-threaded.
template <class T, class RowOf>
void fitness_rows(BlockScratch<T>& b, const PanelRows<T>& points, const T* A, const T* y, RowOf row_of,
                  std::int64_t j0, std::int64_t j1, double* sums) {
  const std::int64_t d = points.d(), P = points.K(), Pp = points.padded_K();
  b.ensure(Pp);
  for (std::int64_t j = j0; j < j1; j += kBlockRows) {
    const std::int64_t nr = gather_rows(b, A, y, d, row_of, j, j1);
    for (std::int64_t r = nr; r < kBlockRows; ++r) b.rows[r] = zero_row<T>(d);
    dot_block(b.rows, nr, points, b.z.data());
    for (std::int64_t r = 0; r < nr; ++r)
      for (std::int64_t p = 0; p < P; ++p)
        sums[p] += static_cast<double>(phase_retrieval_pair(b.z[r * Pp + p], b.y[r]).f);
  }
}

}  // namespace HOMOTOPT_CPU_NS
