// Internal: Z = A_blk W^T for a block of kBlockRows rows of A, the GEMM-shaped part of the fused
// estimators (z_jk = a_j . w_k for the block's rows j and all K samples k).
//
// Outer-product micro-kernel, as in BLIS/GotoBLAS: W is packed in panels of P samples (P = two
// vectors, or one when K fits in a vector), column by column: panel[c][0..P). For each column c the
// kernel loads the panel's P values (1 or 2 vector loads) and broadcasts a_jc of each row of the tile,
// accumulating a tile of rows x P into registers: 6 x 16 floats (12 accumulators, 8 loads per 12
// fused multiply-adds) or 12 x 8 when K <= 8. No horizontal sums, no column tail, K padded with zero
// samples to a multiple of P. The block's rows are copied first into a 64-byte aligned buffer
// (PackedRows), zero rows completing a short last block; columns run in chunks so that the block's
// chunk and the panel's chunk stay in L1.
// Measured on the 2-core AMD EPYC dev machine (float32, one thread): 80-95 GFLOP/s for K >= 16,
// about OpenBLAS's SGEMM rate there; a first, dot-product form (vectors along d) reached 55-60.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/simd.hpp"

namespace homotopt::cpu {

constexpr std::int64_t kBlockRows = 12;  // rows of A per block: two 6-row tiles or one 12-row tile

// A 64-byte aligned, zero-initialized buffer of T.
template <class T>
class AlignedBuffer {
 public:
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

// kBlockRows rows of d elements, 64-byte aligned, rows one cache line apart beyond d (so that the
// rows of a tile do not share L1 sets).
template <class T>
class BlockRows {
 public:
  // Copies `rows` (<= kBlockRows) rows and zeroes the rest of the block.
  void pack(const T* const* a, std::int64_t rows, std::int64_t d) {
    if (d != d_) {
      d_ = d;
      stride_ = (d + 2 * 64 / static_cast<std::int64_t>(sizeof(T)) - 1) / (64 / sizeof(T)) * (64 / sizeof(T));
      buffer_.reset(static_cast<std::size_t>(kBlockRows * stride_));
      filled_ = 0;
    }
    for (std::int64_t r = 0; r < rows; ++r) std::memcpy(row(r), a[r], d * sizeof(T));
    for (std::int64_t r = rows; r < filled_; ++r) std::fill(row(r), row(r) + d, T(0));
    filled_ = rows;
  }
  const T* row(std::int64_t r) const { return buffer_.data() + r * stride_; }
  T* row(std::int64_t r) { return buffer_.data() + r * stride_; }
  std::int64_t stride() const { return stride_; }

 private:
  AlignedBuffer<T> buffer_;
  std::int64_t d_ = -1, stride_ = 0, filled_ = 0;
};

// K rows of d elements (the samples w_k, or points mu_r) in panels of `width()` rows, column-major
// within a panel; samples beyond K are zero.
template <class T>
class PanelRows {
 public:
  static constexpr std::int64_t kVec = Vec<T>::width;

  void reset(std::int64_t K, std::int64_t d) {
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

// z[r][0 .. NV * width) += sum_{c < len} a[r * as + c] * panel[c][..] for the R rows of the tile.
template <class T, int R, int NV>
HOMOTOPT_INLINE void tile(const T* a, std::int64_t as, const T* panel, std::int64_t len, T* z,
                          std::int64_t z_stride) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (std::int64_t c = 0; c < len; ++c) {
    V w[NV];
    for (int v = 0; v < NV; ++v) w[v] = load(panel + (c * NV + v) * W);
    for (int r = 0; r < R; ++r) {
      const V x = broadcast(a[r * as + c]);
      for (int v = 0; v < NV; ++v) acc[r][v] = fmadd(x, w[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(z + r * z_stride + v * W, load(z + r * z_stride + v * W) + acc[r][v]);
}

}  // namespace detail_dot

// z (kBlockRows x w.padded_K(), row-major) = A_blk W^T; rows of a beyond the block's real rows are
// zero, so are their z rows, and z's columns beyond K.
template <class T>
void dot_block(const BlockRows<T>& a, const PanelRows<T>& w, T* z) {
  constexpr std::int64_t kChunk = 2048 / sizeof(T);
  const std::int64_t d = w.d(), Kp = w.padded_K(), W = w.width();
  std::fill(z, z + kBlockRows * Kp, T(0));
  for (std::int64_t c0 = 0; c0 < d; c0 += kChunk) {
    const std::int64_t len = std::min(kChunk, d - c0);
    for (std::int64_t p = 0; p < w.panels(); ++p) {
      const T* panel = w.panel(p) + c0 * W;
      if (W == Vec<T>::width) {
        detail_dot::tile<T, 12, 1>(a.row(0) + c0, a.stride(), panel, len, z + p * W, Kp);
      } else {
        detail_dot::tile<T, 6, 2>(a.row(0) + c0, a.stride(), panel, len, z + p * W, Kp);
        detail_dot::tile<T, 6, 2>(a.row(6) + c0, a.stride(), panel, len, z + 6 * Kp + p * W, Kp);
      }
    }
  }
}

}  // namespace homotopt::cpu
