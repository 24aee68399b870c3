// Internal: Z = A_rows W^T for a block of rows, the GEMM-shaped part of the fused estimators.
//
// Z[r][k] = sum_c A_r[c] W_k[c], rows of A given by pointers (a minibatch gathers them), W held as
// PackedRows: 64-byte aligned, each row zero-padded to a multiple of the vector width, and rows
// `width` elements apart beyond that so that the rows of a tile do not fall in the same L1 sets.
// The block's rows of A are copied chunk by chunk (1 KB per row) into the same packed form, so every
// load of the micro-kernel is aligned and in L1 and no column tail needs scalar code.
// The micro-kernel keeps a 3 x 3 tile of 32-byte accumulators: per vector of columns it loads 3 rows
// of A and 3 of W for 9 fused multiply-adds (13 of the 16 AVX2 registers live), and reduces each
// accumulator across lanes once per chunk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/simd.hpp"

namespace homotopt::cpu {

// Rows of equal length, packed as described above. Reused across calls to avoid reallocation.
template <class T>
class PackedRows {
 public:
  static constexpr std::int64_t kWidth = Vec<T>::width;

  // Shapes the buffer for `rows` rows of `cols` elements, all zero.
  void reset(std::int64_t rows, std::int64_t cols) {
    rows_ = rows;
    cols_ = cols;
    stride_ = (cols + kWidth - 1) / kWidth * kWidth + kWidth;
    const std::size_t need = static_cast<std::size_t>(rows * stride_) + 64 / sizeof(T);
    storage_.assign(need, T(0));
    const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
    base_ = storage_.data() + ((64 - addr % 64) % 64) / sizeof(T);
  }
  // Packs `rows` rows of `cols` elements from src (row r at src + r * src_stride).
  void assign(const T* src, std::int64_t rows, std::int64_t cols, std::int64_t src_stride) {
    reset(rows, cols);
    for (std::int64_t r = 0; r < rows; ++r) std::memcpy(row(r), src + r * src_stride, cols * sizeof(T));
  }
  T* row(std::int64_t r) { return base_ + r * stride_; }
  const T* row(std::int64_t r) const { return base_ + r * stride_; }
  std::int64_t stride() const { return stride_; }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }

 private:
  std::vector<T> storage_;
  T* base_ = nullptr;
  std::int64_t rows_ = 0, cols_ = 0, stride_ = 0;
};

namespace detail_dot {

// z[r * z_stride + k] += sum_{i < len} a[r * as + i] * w[k * ws + i]; len a multiple of the width.
template <class T, int R, int KT>
HOMOTOPT_INLINE void tile(const T* a, std::int64_t as, const T* w, std::int64_t ws, std::int64_t len, T* z,
                          std::int64_t z_stride) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::width;
  V acc[R][KT];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < KT; ++k) acc[r][k] = V{};
  for (std::int64_t i = 0; i < len; i += W) {
    V av[R];
    for (int r = 0; r < R; ++r) av[r] = load(a + r * as + i);
    for (int k = 0; k < KT; ++k) {
      const V wv = load(w + k * ws + i);
      for (int r = 0; r < R; ++r) acc[r][k] = fmadd(av[r], wv, acc[r][k]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < KT; ++k) z[r * z_stride + k] += horizontal_sum(acc[r][k]);
}

template <class T, int R>
HOMOTOPT_INLINE void tile_k(int kt, const T* a, std::int64_t as, const T* w, std::int64_t ws, std::int64_t len,
                            T* z, std::int64_t z_stride) {
  switch (kt) {
    case 3: tile<T, R, 3>(a, as, w, ws, len, z, z_stride); break;
    case 2: tile<T, R, 2>(a, as, w, ws, len, z, z_stride); break;
    default: tile<T, R, 1>(a, as, w, ws, len, z, z_stride); break;
  }
}

}  // namespace detail_dot

// z (rows x K, row-major) = A_rows W^T; a: `rows` pointers to rows of W.cols() elements; `pack` is
// scratch (its contents are overwritten).
template <class T>
void dot_block(const T* const* a, std::int64_t rows, const PackedRows<T>& w, std::int64_t K, T* z,
               PackedRows<T>& pack) {
  constexpr std::int64_t kWidth = Vec<T>::width;
  constexpr std::int64_t kChunk = 1024 / sizeof(T);
  const std::int64_t d = w.cols();
  std::fill(z, z + rows * K, T(0));
  if (pack.cols() != kChunk || pack.rows() < rows) pack.reset(rows, kChunk);
  for (std::int64_t c0 = 0; c0 < d; c0 += kChunk) {
    const std::int64_t len = std::min(kChunk, d - c0);
    const std::int64_t padded = (len + kWidth - 1) / kWidth * kWidth;
    for (std::int64_t r = 0; r < rows; ++r) {
      T* dst = pack.row(r);
      std::memcpy(dst, a[r] + c0, len * sizeof(T));
      std::fill(dst + len, dst + padded, T(0));
    }
    for (std::int64_t k0 = 0; k0 < K; k0 += 3) {
      const int kt = static_cast<int>(std::min<std::int64_t>(3, K - k0));
      const T* wk = w.row(k0) + c0;
      for (std::int64_t r0 = 0; r0 < rows; r0 += 3) {
        const T* ar = pack.row(r0);
        T* zt = z + r0 * K + k0;
        switch (std::min<std::int64_t>(3, rows - r0)) {
          case 3: detail_dot::tile_k<T, 3>(kt, ar, pack.stride(), wk, w.stride(), padded, zt, K); break;
          case 2: detail_dot::tile_k<T, 2>(kt, ar, pack.stride(), wk, w.stride(), padded, zt, K); break;
          default: detail_dot::tile_k<T, 1>(kt, ar, pack.stride(), wk, w.stride(), padded, zt, K); break;
        }
      }
    }
  }
}

}  // namespace homotopt::cpu
