// Internal: the words of 8 Philox blocks at once (structure of arrays, w[j][lane] is word j of the
// lane's block). With AVX2, the 8 counters run through the rounds together in 256-bit registers
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

constexpr int kBatchBlocks = 8;

#if defined(__AVX2__)
// hi and lo 32-bit halves of m * x in each of the 8 lanes.
HOMOTOPT_INLINE void mulhilo8(__m256i x, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(x, m);                                             // lanes 0,2,4,6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));  // lanes 1,3,5,7
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
#endif

// The words of the 8 blocks blocks[0..8) (any indices below 2^56).
HOMOTOPT_INLINE void philox_blocks(const RandomKey& key, const std::uint64_t (&blocks)[kBatchBlocks],
                                   std::uint32_t (&w)[4][kBatchBlocks]) {
#if defined(__AVX2__)
  alignas(32) std::uint32_t lo[kBatchBlocks], hi[kBatchBlocks];
  for (int l = 0; l < kBatchBlocks; ++l) {
    lo[l] = static_cast<std::uint32_t>(blocks[l]);
    hi[l] = key.stream | (static_cast<std::uint32_t>(blocks[l] >> 32) << 8);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  __m256i c1 = _mm256_set1_epi32(static_cast<int>(key.step));
  __m256i c2 = _mm256_set1_epi32(static_cast<int>(key.trial));
  __m256i c3 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  std::uint32_t k0 = static_cast<std::uint32_t>(key.seed), k1 = static_cast<std::uint32_t>(key.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    __m256i hi0, lo0v, hi1, lo1v;
    mulhilo8(c0, m0, hi0, lo0v);
    mulhilo8(c2, m1, hi1, lo1v);
    const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c0 = n0;
    c1 = lo1v;
    c2 = n2;
    c3 = lo0v;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[0]), c0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[1]), c1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[2]), c2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(w[3]), c3);
#else
  for (int l = 0; l < kBatchBlocks; ++l) {
    const PhiloxBlock b = random_block(key, blocks[l]);
    for (int j = 0; j < 4; ++j) w[j][l] = b.w[j];
  }
#endif
}

// The words of the 8 consecutive blocks b0 .. b0 + 7.
HOMOTOPT_INLINE void philox_batch(const RandomKey& key, std::uint64_t b0, std::uint32_t (&w)[4][kBatchBlocks]) {
  std::uint64_t blocks[kBatchBlocks];
  for (int l = 0; l < kBatchBlocks; ++l) blocks[l] = b0 + static_cast<std::uint64_t>(l);
  philox_blocks(key, blocks, w);
}

}  // namespace HOMOTOPT_CPU_NS
