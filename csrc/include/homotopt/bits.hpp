// Bit casts between double and uint64, float and uint32, for the shared math (memcpy: valid C++17, free after inlining,
// and compiled by nvcc for the device too).
#pragma once

#include <cstdint>
#include <cstring>

#include "homotopt/macros.hpp"

namespace homotopt::detail {

HOMOTOPT_HD HOMOTOPT_INLINE std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

HOMOTOPT_HD HOMOTOPT_INLINE double double_of(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

HOMOTOPT_HD HOMOTOPT_INLINE std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

HOMOTOPT_HD HOMOTOPT_INLINE float float_of(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

}  // namespace homotopt::detail
