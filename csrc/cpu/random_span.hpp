// Internal: numbers offset + i, i in [i0, i1), of a Philox stream, handed to emit(i, x) in order.
// Normals come four per block, uniforms and exponentials two (philox.hpp). Spans run in batches of
// kBatchBlocks blocks (philox_batch.hpp, then a transform loop the compiler vectorizes), edges included;
// spans under 16 numbers number by number.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/capability_namespace.hpp"
#include "cpu/philox_batch.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/random.hpp"

namespace HOMOTOPT_CPU_NS {

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

// The kPerBlock<D> * kBatchBlocks numbers of blocks b0, b0 + 1, ..., in stream order.
template <Distribution D>
HOMOTOPT_INLINE void batch_numbers(const RandomKey& key, std::uint64_t b0, double* x) {
  std::uint32_t w[4][kBatchBlocks];
  philox_batch(key, b0, w);
  if constexpr (D == Distribution::normal) {
    float n[4][kBatchBlocks];  // structure of arrays: the transform runs on a vector of lanes at once
    for (int l = 0; l < kBatchBlocks; ++l) {
      normal_pair(w[0][l], w[1][l], n[0][l], n[1][l]);
      normal_pair(w[2][l], w[3][l], n[2][l], n[3][l]);
    }
    for (int l = 0; l < kBatchBlocks; ++l)
      for (int j = 0; j < 4; ++j) x[4 * l + j] = n[j][l];
    return;
  }
  for (int l = 0; l < kBatchBlocks; ++l) {
    if constexpr (D == Distribution::uniform) {
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
  if (i1 - i0 < 16) {  // a few numbers: one Philox block each is cheaper than a batch
    for (std::int64_t i = i0; i < i1; ++i) emit(i, number_at<D>(key, offset + i));
    return;
  }
  // Whole batches, the edges included (a batch's unused numbers are dropped): a scalar edge costs one
  // Philox block per number, up to kBatch - 1 of them on each side.
  double x[kBatch];
  for (std::int64_t i = i0; i < i1;) {
    const std::uint64_t idx = offset + static_cast<std::uint64_t>(i);
    const std::uint64_t skip = idx % kBatch;
    batch_numbers<D>(key, (idx - skip) / kPerBlock<D>, x);
    const std::int64_t n = std::min<std::int64_t>(static_cast<std::int64_t>(kBatch - skip), i1 - i);
    for (std::int64_t q = 0; q < n; ++q) emit(i + q, x[skip + static_cast<std::uint64_t>(q)]);
    i += n;
  }
}

// Integers in [0, n) (four per block) offset + i, i in [i0, i1), handed to emit(i, value) in order.
template <class Emit>
HOMOTOPT_INLINE void generate_index_span(std::int64_t i0, std::int64_t i1, const RandomKey& key,
                                         std::uint64_t offset, std::uint64_t n, Emit&& emit) {
  constexpr std::uint64_t kBatch = 4 * kBatchBlocks;
  // One block for the run of indices that share it (edges and short spans).
  auto by_blocks = [&](std::int64_t a, std::int64_t b) {
    while (a < b) {
      const std::uint64_t idx = offset + static_cast<std::uint64_t>(a);
      const PhiloxBlock blk = random_block(key, idx >> 2);
      for (std::uint64_t lane = idx & 3u; lane < 4 && a < b; ++lane, ++a) emit(a, index_from(blk.w[lane], n));
    }
  };
  std::int64_t i = i0;
  const std::int64_t head = std::min<std::int64_t>(
      i1, i0 + static_cast<std::int64_t>((kBatch - (offset + static_cast<std::uint64_t>(i0)) % kBatch) % kBatch));
  by_blocks(i, head);
  i = head;
  std::uint32_t w[4][kBatchBlocks];
  for (; i + static_cast<std::int64_t>(kBatch) <= i1; i += kBatch) {
    philox_batch(key, (offset + static_cast<std::uint64_t>(i)) / 4, w);
    for (int l = 0; l < kBatchBlocks; ++l)
      for (int j = 0; j < 4; ++j) emit(i + 4 * l + j, index_from(w[j][l], n));
  }
  by_blocks(i, i1);
}

}  // namespace HOMOTOPT_CPU_NS
