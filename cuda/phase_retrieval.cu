// CUDA backend of the fused phase-retrieval estimator (problems/phase_retrieval.hpp):
//   1. samples: W = mu + sigma eps (K x d) from the same Philox stream as the CPU, one thread per block
//      of four normals (normal_quad: the CPU's numbers, rounded alike);
//   2. rows_kernel, one block per BM minibatch rows: Z = A_rows W^T for a group of KG samples, each of
//      the 8 warps over its own 128-byte column tiles, staged through the warp's shared memory (whole
//      lines loaded, stored transposed and swizzled), an 8 x 4 register tile of z per thread accumulated
//      in the inputs' dtype as on the CPU, the warps' partial tiles summed by a fixed tree in shared
//      memory; then per row the online (m, s, c) of the
//      weights e^{a - m} and c_j = sum_k e^{a_jk - m} df/dz_jk, group after group; then the block's
//      (m_b, s_b) and u_b = sum_j c_j a_j (A's rows again, from L2);
//   3. merge_kernel: the blocks' (m_b, s_b, u_b) in a fixed order; the host copies u, m and s (and
//      the first out-of-range row index, if any) back in one transfer, into pinned memory; the one-shot
//      form copies only the scalars and writes its result on the device (power_finalize.cuh).
// Scratch (W, the blocks' states and u) from the stream's workspace (workspace.cuh): no allocation per call.
// Deterministic: fixed grids, tree reductions, no float atomics.
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "homotopt/sample.hpp"
#include "common.cuh"
#include "dtype_dispatch.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "power_finalize.cuh"
#include "workspace.cuh"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kTileRows = 8;     // rows of z per thread (read from shared memory as two groups of four)
constexpr int kTileSamples = 4;  // samples of z per thread

template <class T>
__global__ void samples_kernel(const T* mu, std::int64_t K, std::int64_t d, double sigma, RandomKey key, T* W) {
  const std::int64_t q = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  if (4 * q >= K * d) return;
  float n[4];
  normal_quad(random_block(key, static_cast<std::uint64_t>(q)), n);
  for (int j = 0; j < 4; ++j) {
    const std::int64_t i = 4 * q + j;
    if (i < K * d) W[i] = sample_point<T>(static_cast<double>(mu[i % d]), sigma, n[j]);
  }
}

// Four consecutive T in shared memory (16-byte aligned) into registers.
template <class T>
__device__ __forceinline__ void lds4(const T* p, T (&out)[4]) {
  if constexpr (sizeof(T) == 4) {
    const float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
  } else {
    const double2 v0 = reinterpret_cast<const double2*>(p)[0], v1 = reinterpret_cast<const double2*>(p)[1];
    out[0] = v0.x, out[1] = v0.y, out[2] = v1.x, out[3] = v1.y;
  }
}

// Slot of (column c, row r) in a warp's transposed staging tile of `stride` rows: column-major, rows
// XOR-swizzled in groups of four by the column's 16-byte piece, so that the transposing stores of a
// warp hit 32 different banks while every group of four rows stays contiguous and aligned.
template <int kPiece>
__device__ __forceinline__ int slot(int c, int r, int stride) {
  const int groups = stride / 4 < 8 ? stride / 4 : 8;
  return c * stride + (r ^ (4 * ((c / kPiece) % groups)));
}

// Copies rows[0, count) x columns [c0, c0 + kPiece * 8) of the row-major matrix into the warp's tile,
// transposed: lane L moves the 16-byte piece L % 8 of rows L / 8, L / 8 + 4, ..., eight rows per batch
// so that loads are in flight together. Each instruction reads 4 whole 128-byte lines. Columns past d
// are zero; without `vectorized` (d or the address not 16-byte aligned) pieces load element by element.
template <class T, bool kVectorized>
__device__ __forceinline__ void stage(T* tile, int count, const std::int64_t* row_of, const T* base,
                                      std::int64_t d, std::int64_t c0, int lane) {
  constexpr int kPiece = 16 / sizeof(T);
  const int piece = lane % 8;
  const std::int64_t col = c0 + kPiece * piece;
  for (int r0 = lane / 8; r0 < count; r0 += 32) {
    T v[8][kPiece];
#pragma unroll
    for (int b = 0; b < 8; ++b) {
      const int r = r0 + 4 * b;
      const T* src = base + row_of[r < count ? r : 0] * d + col;
      if (kVectorized && col < d && r < count) {
        const uint4 raw = __ldg(reinterpret_cast<const uint4*>(src));
        memcpy(v[b], &raw, 16);
      } else {
#pragma unroll
        for (int e = 0; e < kPiece; ++e) v[b][e] = (r < count && col + e < d) ? __ldg(src + e) : T(0);
      }
    }
#pragma unroll
    for (int b = 0; b < 8; ++b)
      if (r0 + 4 * b < count)
#pragma unroll
        for (int e = 0; e < kPiece; ++e) tile[slot<kPiece>(kPiece * piece + e, r0 + 4 * b, count)] = v[b][e];
  }
}

// Block b: minibatch rows [BM b, BM b + BM), BM = 8 * 32 / SG, samples in groups of KG = 4 SG. Lane
// (g, h) = (lane / SG, lane % SG) of a warp holds z for rows 8 g .. 8 g + 7 and samples 4 h .. 4 h + 3
// of the group, summed over the warp's column tiles (128 bytes of columns each, tiles warp, warp + 8,
// ...), which the warp stages through its own shared memory (transposed, swizzled); the warps' partial
// tiles are then tree-summed. Dynamic shared memory: 8 warps x (BM + KG) x 128 bytes.
template <class T, int SG, bool kVectorized>
__global__ void __launch_bounds__(kThreads) rows_kernel(const T* A, const T* y, const std::int64_t* rows,
                                                        std::int64_t J, std::int64_t n, std::int64_t d, const T* W,
                                                        std::int64_t K, double power, LseState* states,
                                                        double* partial_u, unsigned long long* bad_row) {
  constexpr int RG = 32 / SG, BM = kTileRows * RG, KG = kTileSamples * SG, kTile = BM * KG;
  constexpr int kPiece = 16 / sizeof(T), kCols = 8 * kPiece;  // columns per staged tile: 128 bytes
  constexpr int kRowThreads = kThreads / BM;  // threads per row in the weights step
  extern __shared__ __align__(16) unsigned char smem[];
  T* const a_tile = reinterpret_cast<T*>(smem) + (threadIdx.x / 32) * (BM + KG) * kCols;  // this warp's
  T* const w_tile = a_tile + BM * kCols;
  T (*partial)[kTile] = reinterpret_cast<T (*)[kTile]>(smem);  // the warps' tiles, tree-summed (aliases)
  __shared__ __align__(16) T z[kTile];                         // the group's z, row-major BM x KG
  __shared__ std::int64_t row_index[BM], sample_index[KG];
  __shared__ double c_row[BM], m_row[BM], s_row[BM], top_row[BM];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / SG, h = lane % SG;
  const std::int64_t j0 = blockIdx.x * static_cast<std::int64_t>(BM);
  const int nr = static_cast<int>(J - j0 < BM ? J - j0 : BM);
  for (int r = threadIdx.x; r < BM; r += kThreads) {
    std::int64_t row = r < nr ? (rows ? rows[j0 + r] : j0 + r) : 0;
    if (row < 0 || row >= n) {
      atomicMin(bad_row, static_cast<unsigned long long>(j0 + r));
      row = 0;  // read a real row; the host raises before any result is used
    }
    row_index[r] = row;
  }
  __syncthreads();

  // The weights step's row and its running (m, s, c), kept by the row's first thread.
  const int wr = threadIdx.x / kRowThreads, wl = threadIdx.x % kRowThreads;
  const T y_row = y[row_index[wr]];
  LseState run;
  double c_run = 0.0;

  for (std::int64_t k0 = 0; k0 < K; k0 += KG) {
    __syncthreads();  // the previous group's readers of sample_index (and of the aliased tiles) are done
    for (int k = threadIdx.x; k < KG; k += kThreads)
      sample_index[k] = k0 + k < K ? k0 + k : K - 1;  // padding samples repeat the last one; never used
    __syncthreads();
    T acc[kTileRows][kTileSamples] = {};
    for (std::int64_t c0 = static_cast<std::int64_t>(warp) * kCols; c0 < d; c0 += kWarps * kCols) {
      __syncwarp();  // the warp's reads of its previous tile are done
      stage<T, kVectorized>(a_tile, BM, row_index, A, d, c0, lane);
      stage<T, kVectorized>(w_tile, KG, sample_index, W, d, c0, lane);
      __syncwarp();
#pragma unroll 4
      for (int c = 0; c < kCols; ++c) {
        T a0[4], a1[4], w[4];
        lds4(a_tile + slot<kPiece>(c, kTileRows * g, BM), a0);
        lds4(a_tile + slot<kPiece>(c, kTileRows * g + 4, BM), a1);
        lds4(w_tile + slot<kPiece>(c, kTileSamples * h, KG), w);
#pragma unroll
        for (int j = 0; j < kTileSamples; ++j) {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            acc[i][j] = fma(a0[i], w[j], acc[i][j]);
            acc[i + 4][j] = fma(a1[i], w[j], acc[i + 4][j]);
          }
        }
      }
    }
    // Tree over the warps, 4 -> 2 -> 1 halves: warp w adds the tile of warp w + half.
    for (int half = kWarps / 2; half > 0; half /= 2) {
      __syncthreads();  // the previous round's (or group's) readers are done
      if (warp >= half && warp < 2 * half) {
#pragma unroll
        for (int i = 0; i < kTileRows; ++i)
#pragma unroll
          for (int j = 0; j < kTileSamples; ++j) partial[warp - half][(i * kTileSamples + j) * 32 + lane] = acc[i][j];
      }
      __syncthreads();
      if (warp < half) {
#pragma unroll
        for (int i = 0; i < kTileRows; ++i)
#pragma unroll
          for (int j = 0; j < kTileSamples; ++j) acc[i][j] += partial[warp][(i * kTileSamples + j) * 32 + lane];
      }
    }
    if (warp == 0) {
#pragma unroll
      for (int i = 0; i < kTileRows; ++i)
#pragma unroll
        for (int j = 0; j < kTileSamples; ++j) z[(kTileRows * g + i) * KG + kTileSamples * h + j] = acc[i][j];
    }
    __syncthreads();

    // This group's max, sum of weights and c for row wr, over kRowThreads adjacent lanes.
    const int kn = static_cast<int>(K - k0 < KG ? K - k0 : KG);
    // mg = the largest exponent, tg = the largest f (used by the limit rule only). Both reductions run in
    // every lane, before the branch below: rows of one warp may take different branches, and a
    // full-mask shuffle must be reached by all 32 lanes.
    double mg = -kInf, tg = -kInf;
    for (int k = wl; k < kn; k += kRowThreads) {
      const double f = static_cast<double>(phase_retrieval_pair(z[wr * KG + k], y_row).f);
      const double a = power_exponent(power, f);
      mg = a > mg ? a : mg;
      tg = fmax(tg, f);
    }
#pragma unroll
    for (int off = kRowThreads / 2; off > 0; off /= 2) {
      mg = fmax(mg, __shfl_xor_sync(0xffffffffu, mg, off));
      tg = fmax(tg, __shfl_xor_sync(0xffffffffu, tg, off));
    }
    LseState group;  // the group's terms relative to their own max mg
    double cg = 0.0;
    if (mg > -kInf && mg < kInf) {
      group.add_block(mg);
      for (int k = wl; k < kn; k += kRowThreads) {
        const PairValue<T> pv = phase_retrieval_pair(z[wr * KG + k], y_row);
        const double w = group.weight(power_exponent(power, static_cast<double>(pv.f)));
        group.s += w;
        if (w > 0.0) cg = fma(w, static_cast<double>(pv.dfdz), cg);
      }
    } else {  // N f overflowed (or no pair has a weight): lse.hpp's limit rule, weight 1 for the largest f's ties
      bool counts = false;
      group.add_limit_block(mg, tg, counts);
      if (counts)
        for (int k = wl; k < kn; k += kRowThreads) {
          const PairValue<T> pv = phase_retrieval_pair(z[wr * KG + k], y_row);
          if (group.limit_weight(static_cast<double>(pv.f)) == 0.0) continue;
          group.s += 1.0;
          cg += static_cast<double>(pv.dfdz);
        }
    }
#pragma unroll
    for (int off = kRowThreads / 2; off > 0; off /= 2) {
      group.s += __shfl_down_sync(0xffffffffu, group.s, off, kRowThreads);
      cg += __shfl_down_sync(0xffffffffu, cg, off, kRowThreads);
    }
    if (wl == 0) {
      const LseScale f = run.merge(group);
      c_run = c_run * f.self + cg * f.other;
    }
  }

  // The block's (m_b, s_b); c_j relative to m_b.
  if (wl == 0) {
    const bool real = wr < nr;
    m_row[wr] = real ? run.m : -kInf;
    s_row[wr] = real ? run.s : 0.0;
    top_row[wr] = real ? run.top : -kInf;
    c_row[wr] = real ? c_run : 0.0;
  }
  __syncthreads();
  __shared__ double m_block, top_block;
  if (threadIdx.x == 0) {
    LseState best;  // the highest-ranked row (lse.hpp: m, then top for the same infinite m)
    for (int r = 0; r < BM; ++r) {
      const LseState row{m_row[r], 1.0, top_row[r]};
      if (best.ranks_below(row)) best = row;
    }
    m_block = best.m;
    top_block = best.top;
  }
  __syncthreads();
  if (threadIdx.x < BM) {
    const double f = LseState{m_row[threadIdx.x], s_row[threadIdx.x], top_row[threadIdx.x]}.factor_to(
        LseState{m_block, 1.0, top_block});
    c_row[threadIdx.x] *= f;
    s_row[threadIdx.x] *= f;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0.0;
    for (int r = 0; r < BM; ++r) s += s_row[r];
    states[blockIdx.x] = LseState{m_block, s, top_block};
  }
  // u_b = sum_j c_j a_j (A's rows again, mostly from L2), eight loads in flight per thread.
  for (std::int64_t c = threadIdx.x; c < d; c += kThreads) {
    double acc = 0.0;
    int r = 0;
    for (; r + 8 <= nr; r += 8) {
      T a[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) a[i] = A[row_index[r + i] * d + c];
#pragma unroll
      for (int i = 0; i < 8; ++i) acc = fma(c_row[r + i], static_cast<double>(a[i]), acc);
    }
    for (; r < nr; ++r) acc = fma(c_row[r], static_cast<double>(A[row_index[r] * d + c]), acc);
    partial_u[blockIdx.x * d + c] = acc;
  }
}

// Merges the blocks' states in a fixed order: (m, s) by a tree over the threads (in every block), then
// u for 32 columns per block, 8 threads per column each over every 8th state, summed in order.
// out: u (d), then m, s and (after the first bad row's slot) top.
constexpr int kMergeColumns = 32, kMergeLanes = kThreads / kMergeColumns;

__global__ void merge_kernel(const LseState* states, int blocks, const double* partial_u, std::int64_t d,
                             double* out) {
  __shared__ LseShared<kThreads> lse_shared;
  __shared__ double lanes[kMergeLanes][kMergeColumns];
  LseState mine;
  for (int b = threadIdx.x; b < blocks; b += kThreads) mine.merge(states[b]);
  const LseState all = block_merge<kThreads>(mine, lse_shared.get());
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    out[d] = all.m;
    out[d + 1] = all.s;
    out[d + 3] = all.top;
  }
  const int column = threadIdx.x % kMergeColumns, lane = threadIdx.x / kMergeColumns;
  const std::int64_t c = blockIdx.x * static_cast<std::int64_t>(kMergeColumns) + column;
  __shared__ double scale[kThreads];  // e^{m_b - m} of 256 states at a time (0 for empty states)
  double acc = 0.0;
  for (int b0 = 0; b0 < blocks; b0 += kThreads) {
    const int b = b0 + threadIdx.x;
    __syncthreads();
    scale[threadIdx.x] = b < blocks ? states[b].factor_to(all) : 0.0;
    __syncthreads();
    const int count = blocks - b0 < kThreads ? blocks - b0 : kThreads;
    if (c < d)
#pragma unroll 4
      for (int i = lane; i < count; i += kMergeLanes) acc = fma(scale[i], partial_u[(b0 + i) * d + c], acc);
  }
  lanes[lane][column] = acc;
  __syncthreads();
  if (lane == 0 && c < d) {
    double total = 0.0;
    for (int i = 0; i < kMergeLanes; ++i) total += lanes[i][column];
    out[c] = total;
  }
}

template <class T, int SG, bool kVectorized>
void launch_rows_as(int blocks, cudaStream_t stream, const T* A, const T* y, const std::int64_t* rows,
                    std::int64_t J, std::int64_t n, std::int64_t d, const T* W, std::int64_t K, double power,
                    LseState* states, double* partial_u, unsigned long long* bad_row) {
  constexpr int kRowsPerBlock = kTileRows * 32 / SG, kSamples = kTileSamples * SG;
  constexpr int kShared = kWarps * (kRowsPerBlock + kSamples) * 128;  // the warps' staging tiles
  HOMOTOPT_CUDA_CHECK(cudaFuncSetAttribute(rows_kernel<T, SG, kVectorized>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
  launch(rows_kernel<T, SG, kVectorized>, dim3(blocks), kThreads, kShared, stream, A, y, rows, J, n, d, W, K, power,
         states, partial_u, bad_row);
}

template <class T, int SG>
void launch_rows(bool vectorized, int blocks, cudaStream_t stream, const T* A, const T* y, const std::int64_t* rows,
                 std::int64_t J, std::int64_t n, std::int64_t d, const T* W, std::int64_t K, double power,
                 LseState* states, double* partial_u, unsigned long long* bad_row) {
  if (vectorized)
    launch_rows_as<T, SG, true>(blocks, stream, A, y, rows, J, n, d, W, K, power, states, partial_u, bad_row);
  else
    launch_rows_as<T, SG, false>(blocks, stream, A, y, rows, J, n, d, W, K, power, states, partial_u, bad_row);
}

// The reduction; then either u and the scalars come back to the host (u_host), or (the one-shot form,
// `direction` set) only the scalars do, `check` runs on the parts, and the result is written on the
// device from u where merge_kernel left it (power_finalize.cuh). One copy and one wait either way.
template <class T>
PowerResultStats reduce_typed(const ArrayView& A_view, const ArrayView& y_view, const ArrayView& mu_view,
                              const ArrayView& rows_view, const SampleSpec& spec, PowerState::Parts& parts,
                              double* u_host, void (*check)(const PowerState::Parts&), const ArrayView* direction,
                              const ArrayView* gradient) {
  const cudaStream_t stream = stream_of(mu_view);
  const std::int64_t n = A_view.shape[0], d = A_view.shape[1], K = spec.num_samples;
  const std::int64_t* rows = rows_view.empty_view() ? nullptr : rows_view.ptr<const std::int64_t>();
  const std::int64_t J = rows ? rows_view.shape[0] : n;
  const T* A = A_view.ptr<const T>();
  const int sg = K <= 8 ? 2 : K <= 16 ? 4 : 8;  // samples per group 4 sg, rows per block kTileRows 32 / sg
  const std::int64_t block_rows = kTileRows * 32 / sg;
  const int blocks = static_cast<int>((J + block_rows - 1) / block_rows);
  const bool vectorized = d % (16 / sizeof(T)) == 0 && reinterpret_cast<std::uintptr_t>(A) % 16 == 0;

  // The stream's workspace (workspace.cuh): W, the block states, the blocks' u, and the result (u, m, s,
  // first bad row, top), whose scalars come back to pinned memory.
  const std::int64_t out_count = d + 4;
  WorkspaceLayout layout;
  const std::size_t w_at = layout.add<T>(static_cast<std::size_t>(K * d)),
                    st_at = layout.add<LseState>(static_cast<std::size_t>(blocks)),
                    pu_at = layout.add<double>(static_cast<std::size_t>(blocks) * static_cast<std::size_t>(d)),
                    out_at = layout.add<double>(static_cast<std::size_t>(out_count));
  const WorkspaceLease work(stream, layout.bytes(), 4 * sizeof(double));
  T* W = work.device<T>(w_at);
  auto* states = work.device<LseState>(st_at);
  auto* partial_u = work.device<double>(pu_at);
  auto* out = work.device<double>(out_at);
  auto* bad_row = reinterpret_cast<unsigned long long*>(out + d + 2);
  HOMOTOPT_CUDA_CHECK(cudaMemsetAsync(bad_row, 0xff, sizeof *bad_row, stream));

  launch(samples_kernel<T>, blocks_for((K * d + 3) / 4, kThreads), kThreads, stream, mu_view.ptr<const T>(), K, d,
         spec.sigma, spec.key, W);
  const T* y = y_view.ptr<const T>();
  const auto rows_launch = sg == 2 ? launch_rows<T, 2> : sg == 4 ? launch_rows<T, 4> : launch_rows<T, 8>;
  rows_launch(vectorized, blocks, stream, A, y, rows, J, n, d, W, K, spec.power, states, partial_u, bad_row);
  launch(merge_kernel, blocks_for(d, kMergeColumns), kThreads, stream, static_cast<const LseState*>(states), blocks,
         static_cast<const double*>(partial_u), d, out);

  // Back to the host: the four scalars (m, s, first bad row, top) to the pinned block, and u straight
  // into u_host when the caller keeps a host state.
  if (u_host)
    HOMOTOPT_CUDA_CHECK(
        cudaMemcpyAsync(u_host, out, static_cast<std::size_t>(d) * sizeof(double), cudaMemcpyDeviceToHost, stream));
  HOMOTOPT_CUDA_CHECK(
      cudaMemcpyAsync(work.host<double>(), out + d, 4 * sizeof(double), cudaMemcpyDeviceToHost, stream));
  HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(stream));
  const double* scalars = work.host<const double>();
  unsigned long long bad;
  std::memcpy(&bad, &scalars[2], sizeof bad);
  HOMOTOPT_CHECK(bad == ~0ull, "rows: expected row indices in [0, n) = [0, ", n,
                 "), got one out of range at position ", bad);
  parts = PowerState::Parts{LseState{scalars[0], scalars[1], scalars[3]}, J * K, 0};
  if (u_host) return {};
  check(parts);
  return write_power_result(out, d, spec.power, parts, *direction, *gradient, stream);
}

}  // namespace

void phase_retrieval_reduce(const ArrayView& A, const ArrayView& y, const ArrayView& mu, const ArrayView& rows,
                            const SampleSpec& spec, PowerState::Parts& parts, double* u) {
  DeviceGuard guard(A.device.index);
  visit_float(A.dtype, [&](auto t) {
    reduce_typed<decltype(t)>(A, y, mu, rows, spec, parts, u, nullptr, nullptr, nullptr);
  });
}

PowerResultStats phase_retrieval_power_gradient(const ArrayView& A, const ArrayView& y, const ArrayView& mu,
                                                const ArrayView& rows, const SampleSpec& spec,
                                                void (*check)(const PowerState::Parts& parts),
                                                const ArrayView& direction, const ArrayView& gradient) {
  DeviceGuard guard(A.device.index);
  PowerState::Parts parts;
  return visit_float(A.dtype, [&](auto t) {
    return reduce_typed<decltype(t)>(A, y, mu, rows, spec, parts, nullptr, check, &direction, &gradient);
  });
}

}  // namespace homotopt::cuda
