// The 16-bit storage formats of training (IEEE binary16 "float16" and bfloat16) as plain bit patterns,
// with conversions to and from float32 in the shared math (HOMOTOPT_HD: the CPU and CUDA backends run
// the same code). Arithmetic never happens in these types: values are widened to float32 on load and
// rounded once, to nearest even, on store.
#pragma once

#include <cstdint>
#include <type_traits>

#include "homotopt/bits.hpp"
#include "homotopt/macros.hpp"

namespace homotopt {

struct Float16 {
  std::uint16_t bits;
};
struct BFloat16 {
  std::uint16_t bits;
};

namespace detail {

// bfloat16 is the top half of a float32: widening is a shift, exact.
HOMOTOPT_HD HOMOTOPT_INLINE float float_of(BFloat16 h) { return float_of(static_cast<std::uint32_t>(h.bits) << 16); }

// Round to nearest even by adding 0x7fff plus the lowest kept bit, then truncating; a NaN keeps its
// sign and becomes a quiet NaN (the add could carry a NaN payload into the exponent, making it inf).
HOMOTOPT_HD HOMOTOPT_INLINE BFloat16 bfloat16_of(float x) {
  const std::uint32_t b = bits_of(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) return BFloat16{static_cast<std::uint16_t>((b >> 16) | 0x0040u)};
  return BFloat16{static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16)};
}

// float16 -> float32, exact: normal numbers rebias the exponent (15 -> 127); subnormals are m 2^-24,
// which one float multiply gives exactly; inf and NaN keep their payload.
HOMOTOPT_HD HOMOTOPT_INLINE float float_of(Float16 h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0x1fu) return float_of(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // 2^-24
    return sign ? -magnitude : magnitude;
  }
  return float_of(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// float32 -> float16, rounded to nearest even. Overflow (|x| >= 65520 after rounding) gives inf, NaN
// a quiet NaN. Results below 2^-14 are subnormal: adding 0.5 in float32 puts the 2^-24 grid into the
// float's low mantissa bits, so the float adder does the rounding (to nearest even) for us.
HOMOTOPT_HD HOMOTOPT_INLINE Float16 float16_of(float x) {
  const std::uint32_t b = bits_of(x);
  const std::uint16_t sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  const std::uint32_t magnitude = b & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return Float16{static_cast<std::uint16_t>(sign | 0x7e00u)};
  if (magnitude >= 0x477ff000u) return Float16{static_cast<std::uint16_t>(sign | 0x7c00u)};  // rounds to >= 2^16
  if (magnitude < 0x38800000u) {  // below 2^-14: subnormal or zero
    const float shifted = float_of(magnitude) + 0.5f;  // ulp of 0.5 is 2^-24, the float16 subnormal step
    return Float16{static_cast<std::uint16_t>(sign | (bits_of(shifted) - 0x3f000000u))};
  }
  // Normal: rebias, then round the 13 dropped bits to nearest even (a carry may step the exponent).
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return Float16{static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13))};
}

// Widening load and rounding store between a storage type S and a compute type C (float for the 16-bit
// formats, the type itself for float and double, where both are the identity).
template <class C, class S>
HOMOTOPT_HD HOMOTOPT_INLINE C load_as(S x) {
  if constexpr (std::is_same<S, Float16>::value || std::is_same<S, BFloat16>::value) return static_cast<C>(float_of(x));
  else return static_cast<C>(x);
}

template <class S, class C>
HOMOTOPT_HD HOMOTOPT_INLINE S store_as(C x) {
  if constexpr (std::is_same<S, Float16>::value) return float16_of(static_cast<float>(x));
  else if constexpr (std::is_same<S, BFloat16>::value) return bfloat16_of(static_cast<float>(x));
  else return static_cast<S>(x);
}

// The type arithmetic on S happens in.
template <class S> struct compute_type { using type = S; };
template <> struct compute_type<Float16> { using type = float; };
template <> struct compute_type<BFloat16> { using type = float; };

}  // namespace detail
}  // namespace homotopt
