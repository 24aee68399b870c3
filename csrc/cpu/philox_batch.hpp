// Internal: the words of kBatchBlocks Philox blocks at once (structure of arrays, w[j][lane] is word j of
// the lane's block). With AVX2, 8 counters at a time run through the rounds together in 256-bit registers
// (32 x 32 -> 64-bit products by even and odd lanes); otherwise block by block with philox.hpp. Both
// give the same bits.
#pragma once

#include <cstdint>

#include "cpu/capability_namespace.hpp"
#include "homotopt/philox.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace HOMOTOPT_CPU_NS {

constexpr int kBatchBlocks = 32;  // blocks of a span's batch (random_span.hpp): four AVX2 chains

#if defined(__AVX2__)
// hi and lo 32-bit halves of m * x in each of the 8 lanes.
HOMOTOPT_INLINE void mulhilo8(__m256i x, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(x, m);                                             // lanes 0,2,4,6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));  // lanes 1,3,5,7
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
#endif

// The words of the B blocks blocks[0..B) (any indices below 2^56), B a multiple of 8. With AVX2 the
// blocks run as B / 8 independent 8-lane chains interleaved round by round: one chain is a
// latency-bound sequence of 10 dependent multiplies, and the normal transform that follows it in
// generate_span leaves the out-of-order core too little independent work to hide that latency.
template <int B>
HOMOTOPT_INLINE void philox_blocks(const RandomKey& key, const std::uint64_t (&blocks)[B], std::uint32_t (&w)[4][B]) {
  static_assert(B % 8 == 0, "philox_blocks: a multiple of 8 blocks (the AVX2 lanes)");
#if defined(__AVX2__)
  constexpr int kChains = B / 8;
  alignas(32) std::uint32_t lo[B], hi[B];
  for (int l = 0; l < B; ++l) {
    lo[l] = static_cast<std::uint32_t>(blocks[l]);
    hi[l] = key.stream | (static_cast<std::uint32_t>(blocks[l] >> 32) << 8);
  }
  __m256i c0[kChains], c1[kChains], c2[kChains], c3[kChains];
  for (int c = 0; c < kChains; ++c) {
    c0[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo + 8 * c));
    c1[c] = _mm256_set1_epi32(static_cast<int>(key.step));
    c2[c] = _mm256_set1_epi32(static_cast<int>(key.trial));
    c3[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi + 8 * c));
  }
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  std::uint32_t k0 = static_cast<std::uint32_t>(key.seed), k1 = static_cast<std::uint32_t>(key.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const __m256i kk0 = _mm256_set1_epi32(static_cast<int>(k0)), kk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int c = 0; c < kChains; ++c) {
      __m256i hi0, lo0v, hi1, lo1v;
      mulhilo8(c0[c], m0, hi0, lo0v);
      mulhilo8(c2[c], m1, hi1, lo1v);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[c]), kk0);
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[c]), kk1);
      c0[c] = n0;
      c1[c] = lo1v;
      c2[c] = n2;
      c3[c] = lo0v;
    }
  }
  for (int c = 0; c < kChains; ++c) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[0] + 8 * c), c0[c]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[1] + 8 * c), c1[c]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[2] + 8 * c), c2[c]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[3] + 8 * c), c3[c]);
  }
#else
  for (int l = 0; l < B; ++l) {
    const PhiloxBlock b = random_block(key, blocks[l]);
    for (int j = 0; j < 4; ++j) w[j][l] = b.w[j];
  }
#endif
}

// The words of the kBatchBlocks consecutive blocks b0, b0 + 1, ...
HOMOTOPT_INLINE void philox_batch(const RandomKey& key, std::uint64_t b0, std::uint32_t (&w)[4][kBatchBlocks]) {
  std::uint64_t blocks[kBatchBlocks];
  for (int l = 0; l < kBatchBlocks; ++l) blocks[l] = b0 + static_cast<std::uint64_t>(l);
  philox_blocks(key, blocks, w);
}

}  // namespace HOMOTOPT_CPU_NS
