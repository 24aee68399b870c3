// Internal: 32-byte SIMD vectors through GCC/Clang vector extensions (AVX2 registers with
// the avx2 and avx512 capabilities on x86-64, pairs of 16-byte registers otherwise). No intrinsics
// beyond fmadd's, so the same code compiles for any target. The backend builds with -ffp-contract=off,
// so fused multiply-adds are asked for explicitly with fmadd(): one instruction with FMA hardware, a
// correctly rounded fma per lane otherwise, so every capability gives the same bits.
#pragma once

#include <cstring>

#include "cpu/capability_namespace.hpp"
#include "homotopt/macros.hpp"

#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace HOMOTOPT_CPU_NS {

template <class T> struct Vec;
template <> struct Vec<float> {
  typedef float type __attribute__((vector_size(32)));
  static constexpr int width = 8;
};
template <> struct Vec<double> {
  typedef double type __attribute__((vector_size(32)));
  static constexpr int width = 4;
};

template <class T>
HOMOTOPT_INLINE typename Vec<T>::type load(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
HOMOTOPT_INLINE void store(T* p, const typename Vec<T>::type& v) {
  std::memcpy(p, &v, sizeof v);
}

// All lanes x (one vbroadcastss/sd from memory; `V{} + x` would be an add, since 0 + x != x for x = -0).
HOMOTOPT_INLINE Vec<float>::type broadcast(float x) { return Vec<float>::type{x, x, x, x, x, x, x, x}; }
HOMOTOPT_INLINE Vec<double>::type broadcast(double x) { return Vec<double>::type{x, x, x, x}; }

// a * b + c.
HOMOTOPT_INLINE Vec<float>::type fmadd(Vec<float>::type a, Vec<float>::type b, Vec<float>::type c) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  Vec<float>::type r;  // lane by lane, correctly rounded (libm's fma without FMA hardware): the same bits
  for (int l = 0; l < 8; ++l) r[l] = __builtin_fmaf(a[l], b[l], c[l]);
  return r;
#endif
}
HOMOTOPT_INLINE Vec<double>::type fmadd(Vec<double>::type a, Vec<double>::type b, Vec<double>::type c) {
#if defined(__FMA__)
  return _mm256_fmadd_pd(a, b, c);
#else
  Vec<double>::type r;
  for (int l = 0; l < 4; ++l) r[l] = __builtin_fma(a[l], b[l], c[l]);
  return r;
#endif
}

// Sum of the lanes as a tree (halves, then pairs): log2(width) shuffles and adds.
HOMOTOPT_INLINE float horizontal_sum(Vec<float>::type v) {
  typedef float v4 __attribute__((vector_size(16)));
  v4 h = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  h += __builtin_shufflevector(h, h, 2, 3, 0, 1);
  h += __builtin_shufflevector(h, h, 1, 0, 3, 2);
  return h[0];
}
HOMOTOPT_INLINE double horizontal_sum(Vec<double>::type v) {
  typedef double v2 __attribute__((vector_size(16)));
  v2 h = __builtin_shufflevector(v, v, 0, 1) + __builtin_shufflevector(v, v, 2, 3);
  return h[0] + h[1];
}

}  // namespace HOMOTOPT_CPU_NS
