// Internal: numbers offset + i, i in [i0, i1), of a Philox stream, handed to emit(i, x) in order.
// Normals come four per block, uniforms and exponentials two (philox.hpp). The middle runs in batches
// of 8 blocks (philox_batch.hpp, then a transform loop the compiler vectorizes); the edges number by
// number.
#pragma once

#include <cstdint>

#include "cpu/philox_batch.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/random.hpp"

namespace homotopt::cpu {

template <Distribution D>
constexpr int kPerBlock = D == Distribution::normal ? 4 : 2;

template <Distribution D>
HOMOTOPT_INLINE double number_at(const RandomKey& key, std::uint64_t index) {
  if constexpr (D == Distribution::normal) {
    return normal_at(key, index);
  } else {
    const PhiloxBlock b = random_block(key, index >> 1);
    const unsigned j = (index & 1u) ? 2u : 0u;
    if constexpr (D == Distribution::uniform) return uniform_from(b.w[j], b.w[j + 1]);
    else return exponential_from(b.w[j], b.w[j + 1]);
  }
}

// The kPerBlock<D> * 8 numbers of blocks b0 .. b0 + 7, in stream order.
template <Distribution D>
HOMOTOPT_INLINE void batch_numbers(const RandomKey& key, std::uint64_t b0, double* x) {
  std::uint32_t w[4][kBatchBlocks];
  philox_batch(key, b0, w);
  for (int l = 0; l < kBatchBlocks; ++l) {
    if constexpr (D == Distribution::normal) {
      normal_pair(w[0][l], w[1][l], x[4 * l], x[4 * l + 1]);
      normal_pair(w[2][l], w[3][l], x[4 * l + 2], x[4 * l + 3]);
    } else if constexpr (D == Distribution::uniform) {
      x[2 * l] = uniform_from(w[0][l], w[1][l]);
      x[2 * l + 1] = uniform_from(w[2][l], w[3][l]);
    } else {
      x[2 * l] = exponential_from(w[0][l], w[1][l]);
      x[2 * l + 1] = exponential_from(w[2][l], w[3][l]);
    }
  }
}

template <Distribution D, class Emit>
HOMOTOPT_INLINE void generate_span(std::int64_t i0, std::int64_t i1, const RandomKey& key,
                                   std::uint64_t offset, Emit&& emit) {
  constexpr std::uint64_t kBatch = static_cast<std::uint64_t>(kPerBlock<D>) * kBatchBlocks;
  std::int64_t i = i0;
  for (; i < i1 && (offset + static_cast<std::uint64_t>(i)) % kBatch != 0; ++i)
    emit(i, number_at<D>(key, offset + i));
  double x[kBatch];
  for (; i + static_cast<std::int64_t>(kBatch) <= i1; i += kBatch) {
    batch_numbers<D>(key, (offset + static_cast<std::uint64_t>(i)) / kPerBlock<D>, x);
    for (std::uint64_t q = 0; q < kBatch; ++q) emit(i + static_cast<std::int64_t>(q), x[q]);
  }
  for (; i < i1; ++i) emit(i, number_at<D>(key, offset + i));
}

}  // namespace homotopt::cpu
