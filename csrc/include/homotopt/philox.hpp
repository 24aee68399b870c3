// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), one implementation for the CPU
// and CUDA backends and the reference for homotopt.reference.philox4x32 in NumPy.
//
// Every random number has an address: (seed, stream, trial, step, index). The 64-bit seed is the key;
// the 128-bit counter holds (block, step, trial, stream | block_hi << 8), where block = index / 4 for
// normals and integers (one Philox call gives four) and index / 2 for uniforms and exponentials (52 bits
// each). So a trial's noise at a step is the same whatever the thread count, the backend, or the other
// trials in the batch.
//
// Transforms (all branch-free, so CPU loops vectorize; every multiply-add is an explicit fma and no other
// product feeds a sum, so compilers have nothing to contract and the CPU and CUDA backends round alike):
//   uniform in [0, 1) from 52 bits of two words; Exp(1) as -log(u), u in (0, 1] from 52 bits; normal
//   pairs by Box-Muller from two words in float32 (radius from 23 bits, angle from 32 bits with the
//   quadrant taken from the top two, so range reduction is exact); integers in [0, n) as
//   (word * n) >> 32 (bias below n / 2^32). The normals are float32-accurate (a few ulp) with tails cut
//   at 5.77 sigma (probability 8e-9): ample for an optimizer's noise, and four times cheaper than
//   float64 Box-Muller on 52-bit inputs, which matters because the runners spend most of their time
//   drawing noise.
#pragma once

#include <cmath>
#include <cstdint>

#include "homotopt/bits.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

// Which consumer a stream of random numbers belongs to: part of every address, so that two consumers
// never share numbers.
enum class RandomStream : std::uint32_t {
  samples = 1,     // Gaussian samples w_k = mu + sigma * eps_k of Prog-PowerHP
  minibatch = 2,   // row indices of a minibatch
  scale = 3,       // the O2NC step scale s
  start = 4,       // starting points
  problem = 5,     // data of a random problem instance
  inputs = 6,      // fresh inputs drawn each step (teacher-student)
  directions = 7,  // search directions of baselines (SLGH)
  user = 8,        // homotopt.random called without a stream
};

struct RandomKey {
  std::uint64_t seed = 0;
  std::uint32_t stream = static_cast<std::uint32_t>(RandomStream::user);
  std::uint32_t trial = 0;
  std::uint32_t step = 0;
};

struct PhiloxBlock {
  std::uint32_t w[4];
};

namespace detail {

// 52 random bits: the top 52 of the 64-bit word (hi, lo).
HOMOTOPT_HD HOMOTOPT_INLINE std::uint64_t bits52(std::uint32_t hi, std::uint32_t lo) {
  return ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 12;
}

// x in [1, 2) with the 52 bits as mantissa.
HOMOTOPT_HD HOMOTOPT_INLINE double one_to_two(std::uint64_t b52) {
  return double_of(0x3ff0000000000000ull | b52);
}

// log x for a positive normal double x, about 1 ulp. x = 2^k m with m in [sqrt(2)/2, sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^19 (truncation < 1e-17).
HOMOTOPT_HD HOMOTOPT_INLINE double log_positive(double x) {
  std::uint64_t ix = bits_of(x) + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
  const int k = static_cast<int>(ix >> 52) - 0x3ff;
  ix = (ix & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull;
  const double f = double_of(ix) - 1.0;  // exact
  const double s = f / (2.0 + f);
  const double z = s * s;
  double p = 1.0 / 19;
  p = ::fma(p, z, 1.0 / 17);
  p = ::fma(p, z, 1.0 / 15);
  p = ::fma(p, z, 1.0 / 13);
  p = ::fma(p, z, 1.0 / 11);
  p = ::fma(p, z, 1.0 / 9);
  p = ::fma(p, z, 1.0 / 7);
  p = ::fma(p, z, 1.0 / 5);
  p = ::fma(p, z, 1.0 / 3);
  const double two_s = 2.0 * s;
  const double log_m = ::fma(two_s * z, p, two_s);
  constexpr double kLn2Hi = 0.6931471805599453;      // double(ln 2)
  constexpr double kLn2Lo = 2.3190468138462996e-17;  // ln 2 - kLn2Hi
  const double kd = static_cast<double>(k);
  return ::fma(kd, kLn2Hi, ::fma(kd, kLn2Lo, log_m));
}

// sin and cos of 2 pi t / 2^52 for a 52-bit integer t. The quadrant comes from the top bits (exact
// reduction); the rest is x in [-pi/4, pi/4), where the Taylor series to x^17 (sin) and x^18 (cos)
// are below 1e-16 relative.
HOMOTOPT_HD HOMOTOPT_INLINE void sincos_turn(std::uint64_t t, double& sin_out, double& cos_out) {
  const std::uint64_t g = (t + (1ull << 49)) & ((1ull << 52) - 1);  // shift by half a quadrant
  const std::uint32_t q = static_cast<std::uint32_t>(g >> 50);       // quadrant 0..3
  // (g mod 2^50) as a double, exactly (it is below 2^52), then centred: an integer in [-2^49, 2^49).
  const double v = double_of(0x4330000000000000ull | (g & ((1ull << 50) - 1))) - 4503599627370496.0;
  const double x = (v - 562949953421312.0) * 1.3951473992034527e-15;  // * (pi/2) / 2^50 = pi / 2^51
  const double z = x * x;
  double ps = 2.8114572543455206e-15;  // 1/17!
  ps = ::fma(ps, z, -7.6471637318198165e-13);
  ps = ::fma(ps, z, 1.6059043836821613e-10);
  ps = ::fma(ps, z, -2.5052108385441720e-08);
  ps = ::fma(ps, z, 2.7557319223985893e-06);
  ps = ::fma(ps, z, -1.9841269841269841e-04);
  ps = ::fma(ps, z, 8.3333333333333333e-03);
  ps = ::fma(ps, z, -1.6666666666666666e-01);
  const double sn = ::fma(x * z, ps, x);
  double pc = -1.5619206968586225e-16;  // -1/18!
  pc = ::fma(pc, z, 4.7794773323873853e-14);
  pc = ::fma(pc, z, -1.1470745597729725e-11);
  pc = ::fma(pc, z, 2.0876756987868099e-09);
  pc = ::fma(pc, z, -2.7557319223985891e-07);
  pc = ::fma(pc, z, 2.4801587301587302e-05);
  pc = ::fma(pc, z, -1.3888888888888889e-03);
  pc = ::fma(pc, z, 4.1666666666666664e-02);
  pc = ::fma(pc, z, -0.5);
  const double cs = ::fma(z, pc, 1.0);
  // angle = q pi/2 + x: q = 1 swaps to (cos, -sin), q = 2 negates both, q = 3 gives (-cos, sin).
  const bool swap = (q & 1u) != 0;
  const double a = swap ? cs : sn;
  const double b = swap ? sn : cs;
  sin_out = (q & 2u) ? -a : a;
  cos_out = ((q + 1u) & 2u) ? -b : b;
}

// log x for x in (0, 1], float32, about 1 ulp: the same reduction as log_positive, series to s^9
// (truncation below 3e-9 relative).
HOMOTOPT_HD HOMOTOPT_INLINE float log_unit(float x) {
  std::uint32_t ix = bits_of(x) + (0x3f800000u - 0x3f3504f3u);
  const int k = static_cast<int>(ix >> 23) - 127;
  ix = (ix & 0x007fffffu) + 0x3f3504f3u;
  const float f = float_of(ix) - 1.0f;  // exact
  const float s = f / (2.0f + f);
  const float z = s * s;
  float p = 1.0f / 9;
  p = ::fmaf(p, z, 1.0f / 7);
  p = ::fmaf(p, z, 1.0f / 5);
  p = ::fmaf(p, z, 1.0f / 3);
  const float two_s = 2.0f * s;
  const float log_m = ::fmaf(two_s * z, p, two_s);
  const float kf = static_cast<float>(k);
  return ::fmaf(kf, 0.693145751953125f, ::fmaf(kf, 1.428606765330187e-06f, log_m));  // ln 2 = hi + lo
}

// sin and cos of 2 pi w / 2^32, float32: the quadrant from the top two bits of w (exact reduction),
// then x in [-pi/4, pi/4] with Taylor series to x^9 (sin) and x^10 (cos), below 2e-9.
HOMOTOPT_HD HOMOTOPT_INLINE void sincos_turn32(std::uint32_t w, float& sin_out, float& cos_out) {
  const std::uint32_t g = w + (1u << 29);                                          // half a quadrant on
  const std::uint32_t q = g >> 30;                                                 // quadrant 0..3
  const int t = static_cast<int>(g & ((1u << 30) - 1)) - (1 << 29);                 // in [-2^29, 2^29)
  const float x = static_cast<float>(t) * 1.4629180792671596e-09f;                  // * pi / 2^31
  const float z = x * x;
  float ps = 2.7557319e-06f;  // 1/9!
  ps = ::fmaf(ps, z, -1.9841270e-04f);
  ps = ::fmaf(ps, z, 8.3333333e-03f);
  ps = ::fmaf(ps, z, -1.6666667e-01f);
  const float sn = ::fmaf(x * z, ps, x);
  float pc = -2.7557319e-07f;  // -1/10!
  pc = ::fmaf(pc, z, 2.4801587e-05f);
  pc = ::fmaf(pc, z, -1.3888889e-03f);
  pc = ::fmaf(pc, z, 4.1666667e-02f);
  pc = ::fmaf(pc, z, -0.5f);
  const float cs = ::fmaf(z, pc, 1.0f);
  const bool swap = (q & 1u) != 0;
  const float a = swap ? cs : sn;
  const float b = swap ? sn : cs;
  sin_out = (q & 2u) ? -a : a;
  cos_out = ((q + 1u) & 2u) ? -b : b;
}

HOMOTOPT_HD HOMOTOPT_INLINE void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                         std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

}  // namespace detail

// Philox4x32 with 10 rounds; key bumped by the Weyl constants between rounds.
HOMOTOPT_HD HOMOTOPT_INLINE PhiloxBlock philox4x32_10(PhiloxBlock c, std::uint32_t k0, std::uint32_t k1) {
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    std::uint32_t hi0, lo0, hi1, lo1;
    detail::mulhilo(0xD2511F53u, c.w[0], hi0, lo0);
    detail::mulhilo(0xCD9E8D57u, c.w[2], hi1, lo1);
    c = PhiloxBlock{{hi1 ^ c.w[1] ^ k0, lo1, hi0 ^ c.w[3] ^ k1, lo0}};
  }
  return c;
}

// The Philox block at an address. Blocks below 2^56 are distinct for every (seed, stream, trial, step).
HOMOTOPT_HD HOMOTOPT_INLINE PhiloxBlock random_block(const RandomKey& key, std::uint64_t block) {
  const PhiloxBlock counter{{static_cast<std::uint32_t>(block), key.step, key.trial,
                             key.stream | (static_cast<std::uint32_t>(block >> 32) << 8)}};
  return philox4x32_10(counter, static_cast<std::uint32_t>(key.seed),
                       static_cast<std::uint32_t>(key.seed >> 32));
}

// Uniform in [0, 1) from words (hi, lo): 52 random bits.
HOMOTOPT_HD HOMOTOPT_INLINE double uniform_from(std::uint32_t hi, std::uint32_t lo) {
  return detail::one_to_two(detail::bits52(hi, lo)) - 1.0;
}

// Exp(1) from words (hi, lo): -log u with u = 2 - [1, 2) in (0, 1], so never log 0.
HOMOTOPT_HD HOMOTOPT_INLINE double exponential_from(std::uint32_t hi, std::uint32_t lo) {
  return -detail::log_positive(2.0 - detail::one_to_two(detail::bits52(hi, lo)));
}

// Two independent N(0, 1) draws (Box-Muller) from two 32-bit words, in float32: the radius from
// u = (floor(wu / 2^9) + 1/2) 2^-23 in (0, 1) (exact in float; |n| <= 5.77), the angle 2 pi wa / 2^32.
// n0 = r cos(theta), n1 = r sin(theta). float32 arithmetic, 8 lanes per AVX2 register: the noise of an
// optimizer needs no more than 24 bits, and drawing it is the runners' largest cost.
HOMOTOPT_HD HOMOTOPT_INLINE void normal_pair(std::uint32_t wu, std::uint32_t wa, float& n0, float& n1) {
  const float u = (static_cast<float>(static_cast<int>(wu >> 9)) + 0.5f) * 1.1920928955078125e-07f;
  const float r = ::sqrtf(-2.0f * detail::log_unit(u));
  float sn, cs;
  detail::sincos_turn32(wa, sn, cs);
  n0 = r * cs;
  n1 = r * sn;
}

// The four normals of a block: pairs (w0, w1) and (w2, w3).
HOMOTOPT_HD HOMOTOPT_INLINE void normal_quad(const PhiloxBlock& b, float (&n)[4]) {
  normal_pair(b.w[0], b.w[1], n[0], n[1]);
  normal_pair(b.w[2], b.w[3], n[2], n[3]);
}

// Normal number `index` of the stream at `key` (block index / 4, lane index % 4).
HOMOTOPT_HD HOMOTOPT_INLINE double normal_at(const RandomKey& key, std::uint64_t index) {
  const PhiloxBlock b = random_block(key, index >> 2);
  const unsigned pair = static_cast<unsigned>(index >> 1) & 1u;
  float n0, n1;
  normal_pair(b.w[2 * pair], b.w[2 * pair + 1], n0, n1);
  return (index & 1u) ? n1 : n0;
}

// An integer in [0, n), n <= 2^32, from one 32-bit word.
HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t index_from(std::uint32_t word, std::uint64_t n) {
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(word) * n) >> 32);
}

// Integer number `index` in [0, n) of the stream at `key` (four per block).
HOMOTOPT_HD HOMOTOPT_INLINE std::int64_t index_at(const RandomKey& key, std::uint64_t index,
                                                  std::uint64_t n) {
  return index_from(random_block(key, index >> 2).w[index & 3u], n);
}

}  // namespace homotopt
