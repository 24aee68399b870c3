// CUDA backend of the fused phase-retrieval estimator (problems/phase_retrieval.hpp):
//   1. samples: W = mu + sigma eps (K x d) from the same Philox stream as the CPU, one thread per block
//      of four normals (normal_quad: the CPU's numbers, rounded alike);
//   2. blocks of 16 minibatch rows: Z = A_rows W^T through shared-memory tiles, then the block's max
//      of N f, its weights, c_j = sum_k e^{a_jk - m_b} df/dz_jk and u_b = sum_j c_j a_j (A's rows are
//      read from memory once for Z; the second touch hits L2);
//   3. one merge of the blocks' (m_b, s_b, u_b) in order.
// Deterministic: fixed grids, tree reductions, no float atomics.
#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "common.cuh"
#include "dtype_dispatch.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/problems/phase_retrieval.hpp"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRows = 16;   // minibatch rows per block
constexpr int kTile = 32;   // columns per shared-memory tile
constexpr int kLanesPerRow = kThreads / kRows;

template <class T>
__global__ void samples_kernel(const T* mu, std::int64_t K, std::int64_t d, double sigma, RandomKey key, T* W) {
  const std::int64_t q = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  if (4 * q >= K * d) return;
  float n[4];
  normal_quad(random_block(key, static_cast<std::uint64_t>(q)), n);
  for (int j = 0; j < 4; ++j) {
    const std::int64_t i = 4 * q + j;
    if (i < K * d) W[i] = static_cast<T>(static_cast<double>(mu[i % d]) + sigma * n[j]);
  }
}

__global__ void check_kernel(const std::int64_t* rows, std::int64_t J, std::int64_t n, unsigned long long* bad_row) {
  for (std::int64_t j = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; j < J;
       j += static_cast<std::int64_t>(gridDim.x) * kThreads)
    if (rows[j] < 0 || rows[j] >= n) atomicMin(bad_row, static_cast<unsigned long long>(j));
}

struct BlockState {
  double m, s;
};

// Block b: rows [16 b, 16 b + 16) of the minibatch. Dynamic shared memory: Z (kRows x K) and the A and
// W tiles.
template <class T>
__global__ void rows_kernel(const T* A, const T* y, const std::int64_t* rows, std::int64_t J, std::int64_t d,
                            const T* W, std::int64_t K, double power, BlockState* states, double* partial_u) {
  extern __shared__ unsigned char smem[];
  T* z = reinterpret_cast<T*>(smem);              // kRows x K
  T* a_tile = z + kRows * K;                      // kRows x kTile
  T* w_tile = a_tile + kRows * kTile;             // kTile(samples) x kTile(columns)
  __shared__ double reduce[kThreads];
  __shared__ double c_row[kRows];
  const std::int64_t j0 = blockIdx.x * static_cast<std::int64_t>(kRows);
  const int nr = static_cast<int>(J - j0 < kRows ? J - j0 : kRows);
  auto row_of = [&](int r) { return rows ? rows[j0 + r] : j0 + r; };

  // Z = A_rows W^T, samples in groups of kTile, columns in tiles of kTile.
  for (std::int64_t k0 = 0; k0 < K; k0 += kTile) {
    const int kn = static_cast<int>(K - k0 < kTile ? K - k0 : kTile);
    double acc[kRows * kTile / kThreads] = {};  // this thread's (r, k) outputs: 2 of the 16 x 32
    for (std::int64_t c0 = 0; c0 < d; c0 += kTile) {
      __syncthreads();
      for (int i = threadIdx.x; i < kRows * kTile; i += kThreads) {  // rows x columns
        const int r = i / kTile, c = i % kTile;
        a_tile[i] = (r < nr && c0 + c < d) ? A[row_of(r) * d + c0 + c] : T(0);
      }
      for (int i = threadIdx.x; i < kTile * kTile; i += kThreads) {  // samples x columns
        const int k = i / kTile, c = i % kTile;
        w_tile[i] = (k < kn && c0 + c < d) ? W[(k0 + k) * d + c0 + c] : T(0);
      }
      __syncthreads();
      for (int o = 0; o < kRows * kTile / kThreads; ++o) {
        const int idx = threadIdx.x + o * kThreads, r = idx / kTile, k = idx % kTile;
        for (int c = 0; c < kTile; ++c)
          acc[o] = fma(static_cast<double>(a_tile[r * kTile + c]), static_cast<double>(w_tile[k * kTile + c]), acc[o]);
      }
    }
    for (int o = 0; o < kRows * kTile / kThreads; ++o) {
      const int idx = threadIdx.x + o * kThreads, r = idx / kTile, k = idx % kTile;
      if (k < kn) z[r * K + k0 + k] = static_cast<T>(acc[o]);
    }
  }
  __syncthreads();

  // The block's max of a = N f over its real pairs.
  double mb = -kInf;
  for (std::int64_t i = threadIdx.x; i < kRows * K; i += kThreads) {
    const int r = static_cast<int>(i / K);
    if (r >= nr) continue;
    const double a = power_exponent(power, static_cast<double>(phase_retrieval_pair(z[i], y[row_of(r)]).f));
    mb = a > mb ? a : mb;
  }
  reduce[threadIdx.x] = mb;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) reduce[threadIdx.x] = fmax(reduce[threadIdx.x], reduce[threadIdx.x + half]);
    __syncthreads();
  }
  mb = reduce[0];
  __syncthreads();

  // Weights, s_b and c_j: kLanesPerRow threads per row, each over a stride of the samples.
  const int r = threadIdx.x / kLanesPerRow, lane = threadIdx.x % kLanesPerRow;
  double s = 0.0, cj = 0.0;
  if (r < nr && mb != -kInf) {
    const T yr = y[row_of(r)];
    for (std::int64_t k = lane; k < K; k += kLanesPerRow) {
      const PairValue<T> pv = phase_retrieval_pair(z[r * K + k], yr);
      const double w = exp_nonpositive(power_exponent(power, static_cast<double>(pv.f)) - mb);
      s += w;
      if (w > 0.0) cj = fma(w, static_cast<double>(pv.dfdz), cj);
    }
  }
  for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2) {  // within the row's lanes, fixed order
    s += __shfl_down_sync(0xffffffffu, s, offset, kLanesPerRow);
    cj += __shfl_down_sync(0xffffffffu, cj, offset, kLanesPerRow);
  }
  if (lane == 0) {
    c_row[r] = cj;
    reduce[r] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int i = 0; i < kRows; ++i) total += i < nr ? reduce[i] : 0.0;
    states[blockIdx.x] = BlockState{mb, total};
  }
  // u_b = sum_j c_j a_j (relative to m_b).
  for (std::int64_t c = threadIdx.x; c < d; c += kThreads) {
    double acc = 0.0;
    for (int i = 0; i < nr; ++i) acc = fma(c_row[i], static_cast<double>(A[row_of(i) * d + c]), acc);
    partial_u[blockIdx.x * d + c] = acc;
  }
}

// Merges the blocks' states in order: (m, s) by one thread, then u column by column.
__global__ void merge_kernel(const BlockState* states, int blocks, const double* partial_u, std::int64_t d,
                             BlockState* total, double* u) {
  __shared__ double m_all;
  if (threadIdx.x == 0) {  // every block merges the same way; block 0 reports
    double m = -kInf, s = 0.0;
    for (int b = 0; b < blocks; ++b) lse_merge(m, s, states[b].m, states[b].s);
    if (blockIdx.x == 0) *total = BlockState{m, s};
    m_all = m;
  }
  __syncthreads();
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x; c < d;
       c += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    double acc = 0.0;
    for (int b = 0; b < blocks; ++b)
      if (states[b].s > 0.0) acc = fma(lse_rescale(states[b].m, m_all), partial_u[b * d + c], acc);
    u[c] = acc;
  }
}

template <class T>
void reduce_typed(const ArrayView& A_view, const ArrayView& y_view, const ArrayView& mu_view,
                  const ArrayView& rows_view, const SampleSpec& spec, PowerState::Parts& parts, double* u_host) {
  const cudaStream_t stream = stream_of(A_view);
  const std::int64_t n = A_view.shape[0], d = A_view.shape[1], K = spec.num_samples;
  const std::int64_t* rows = rows_view.empty_view() ? nullptr : rows_view.ptr<const std::int64_t>();
  const std::int64_t J = rows ? rows_view.shape[0] : n;
  if (rows) {
    DeviceBuffer<unsigned long long> bad(1, stream);
    const unsigned long long none = ~0ull;
    bad.from_host(&none, 1);
    launch(check_kernel, blocks_for(J, kThreads), kThreads, stream, rows, J, n, bad.get());
    const unsigned long long j = bad.to_host()[0];
    HOMOTOPT_CHECK(j == none, "rows: expected row indices in [0, n) = [0, ", n, "), got one out of range at position ", j);
  }
  DeviceBuffer<T> W(static_cast<std::size_t>(K * d), stream);
  launch(samples_kernel<T>, blocks_for((K * d + 3) / 4, kThreads), kThreads, stream, mu_view.ptr<const T>(), K, d,
         spec.sigma, spec.key, W.get());
  const int blocks = static_cast<int>((J + kRows - 1) / kRows);
  DeviceBuffer<BlockState> states(blocks, stream), total(1, stream);
  DeviceBuffer<double> partial_u(static_cast<std::size_t>(blocks) * d, stream), u(d, stream);
  const std::size_t shared = (kRows * K + kRows * kTile + kTile * kTile) * sizeof(T);
  if (shared > 48 * 1024)
    HOMOTOPT_CUDA_CHECK(cudaFuncSetAttribute(rows_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(shared)));
  launch(rows_kernel<T>, dim3(blocks), kThreads, shared, stream, A_view.ptr<const T>(), y_view.ptr<const T>(), rows, J,
         d, static_cast<const T*>(W.get()), K, spec.power, states.get(), partial_u.get());
  launch(merge_kernel, blocks_for(d, kThreads), kThreads, stream, static_cast<const BlockState*>(states.get()), blocks,
         static_cast<const double*>(partial_u.get()), d, total.get(), u.get());
  const std::vector<double> uh = u.to_host();
  const BlockState t = total.to_host()[0];
  for (std::int64_t c = 0; c < d; ++c) u_host[c] = uh[c];
  parts = PowerState::Parts{t.m, t.s, J * K, 0};
}

}  // namespace

void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu, const ArrayView& rows,
                            const SampleSpec& spec, PowerState::Parts& parts, double* u) {
  DeviceGuard guard(A.device.index);
  visit_float(A.dtype, [&](auto t) { reduce_typed<decltype(t)>(A, y, mu, rows, spec, parts, u); });
}

}  // namespace homotopt::cuda
