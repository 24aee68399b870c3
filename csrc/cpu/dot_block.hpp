// Internal: Z = A_blk W^T for a block of kBlockRows rows of A, the GEMM-shaped part of the fused
// estimators (z_jk = a_j . w_k for the block's rows j and all K samples k).
//
// Outer-product micro-kernel, as in BLIS/GotoBLAS: W is packed in panels of P samples (P = two
// vectors, or one when K fits in a vector), column by column: panel[c][0..P). For each column c the
// kernel loads the panel's P values (1 or 2 vector loads) and broadcasts a_jc of each of the tile's 6
// rows, accumulating 6 x P in registers: 6 x 16 floats (12 accumulators, 8 loads per 12 fused
// multiply-adds) or 6 x 8. No horizontal sums, no column tail, K padded with zero samples to a
// multiple of P; columns run in chunks so that the rows' chunk and the panel's chunk stay in L1.
// Measured on the 2-core AMD EPYC dev machine (float32, one thread): 80-95 GFLOP/s for K >= 16,
// about OpenBLAS's SGEMM rate there; a first, dot-product form (vectors along d) reached 55-60.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/capability_namespace.hpp"
#include "cpu/simd.hpp"

namespace HOMOTOPT_CPU_NS {

constexpr std::int64_t kBlockRows = 12;  // rows of A per block: two 6-row tiles

// A 64-byte aligned, zero-initialized buffer of T.
template <class T>
class AlignedBuffer {
 public:
  // n elements, all zero.
  T* reset(std::size_t n) {
    storage_.assign(n + 64 / sizeof(T), T(0));
    const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
    data_ = storage_.data() + ((64 - addr % 64) % 64) / sizeof(T);
    return data_;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }

 private:
  std::vector<T> storage_;
  T* data_ = nullptr;
};

// K rows of d elements (the samples w_k, or points mu_r) in panels of `width()` rows, column-major
// within a panel; samples beyond K are zero.
template <class T>
class PanelRows {
 public:
  static constexpr std::int64_t kVec = Vec<T>::width;

  // Shapes the panels for K rows of d elements; all zero when the shape changes (a reused shape keeps
  // its contents: callers overwrite every real element, and the padding stays zero).
  void reset(std::int64_t K, std::int64_t d) {
    if (K == K_ && d == d_) return;
    K_ = K;
    d_ = d;
    width_ = K <= kVec ? kVec : 2 * kVec;
    panels_ = (K + width_ - 1) / width_;
    buffer_.reset(static_cast<std::size_t>(panels_ * width_ * d));
  }
  // Element (k, c).
  T& at(std::int64_t k, std::int64_t c) { return buffer_.data()[((k / width_) * d_ + c) * width_ + k % width_]; }
  // Copies K dense rows of d elements.
  void assign(const T* src, std::int64_t K, std::int64_t d) {
    reset(K, d);
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t c = 0; c < d; ++c) at(k, c) = src[k * d + c];
  }
  const T* panel(std::int64_t p) const { return buffer_.data() + p * d_ * width_; }
  T* panel_data(std::int64_t p) { return buffer_.data() + p * d_ * width_; }
  std::int64_t K() const { return K_; }
  std::int64_t d() const { return d_; }
  std::int64_t width() const { return width_; }
  std::int64_t panels() const { return panels_; }
  std::int64_t padded_K() const { return panels_ * width_; }

 private:
  AlignedBuffer<T> buffer_;
  std::int64_t K_ = 0, d_ = 0, width_ = 0, panels_ = 0;
};

namespace detail_dot {

// z[r][0 .. NV * width) += sum_{c < len} a_r[c] * panel[c][..] for the 6 rows a_r of the tile.
template <class T, int NV>
HOMOTOPT_INLINE void tile(const T* const* a, std::int64_t c0, const T* panel, std::int64_t len, T* z,
                          std::int64_t z_stride) {
  constexpr int R = 6;
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  const T* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = a[r] + c0;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (std::int64_t c = 0; c < len; ++c) {
    V w[NV];
    for (int v = 0; v < NV; ++v) w[v] = load(panel + (c * NV + v) * W);
    for (int r = 0; r < R; ++r) {
      const V x = broadcast(ar[r][c]);
      for (int v = 0; v < NV; ++v) acc[r][v] = fmadd(x, w[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(z + r * z_stride + v * W, load(z + r * z_stride + v * W) + acc[r][v]);
}

}  // namespace detail_dot

// z (rows rounded up to 6, x w.padded_K(), row-major) = A_blk W^T for the block's rows a[0 .. rows)
// (pointers to d elements; a[rows .. rounded) must point to zeros, see zero_row). Columns beyond K are
// zero. The rows are read where they are: the kernel only broadcasts their elements, so they need no
// alignment and no packing, and a minibatch's gathered rows cost nothing extra.
template <class T>
void dot_block(const T* const* a, std::int64_t rows, const PanelRows<T>& w, T* z) {
  constexpr std::int64_t kChunk = 2048 / sizeof(T);
  const std::int64_t d = w.d(), Kp = w.padded_K(), W = w.width();
  const std::int64_t zrows = (rows + 5) / 6 * 6;
  std::fill(z, z + zrows * Kp, T(0));
  for (std::int64_t c0 = 0; c0 < d; c0 += kChunk) {
    const std::int64_t len = std::min(kChunk, d - c0);
    for (std::int64_t p = 0; p < w.panels(); ++p) {
      const T* panel = w.panel(p) + c0 * W;
      for (std::int64_t r0 = 0; r0 < rows; r0 += 6) {
        if (W == Vec<T>::width) detail_dot::tile<T, 1>(a + r0, c0, panel, len, z + r0 * Kp + p * W, Kp);
        else detail_dot::tile<T, 2>(a + r0, c0, panel, len, z + r0 * Kp + p * W, Kp);
      }
    }
  }
}

// A row of d zeros that outlives the calls (for the padded rows of a block).
template <class T>
const T* zero_row(std::int64_t d) {
  thread_local std::vector<T> zeros;
  if (static_cast<std::int64_t>(zeros.size()) < d) zeros.assign(static_cast<std::size_t>(d), T(0));
  return zeros.data();
}

}  // namespace HOMOTOPT_CPU_NS
