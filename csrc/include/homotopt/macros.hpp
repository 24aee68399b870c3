// Portability macros shared by every header: HOMOTOPT_HD marks math that compiles for the CPU and,
// under nvcc, for the GPU too (the rule of the house: each formula is written once).
#pragma once

#if defined(__CUDACC__)
#define HOMOTOPT_HD __host__ __device__
#define HOMOTOPT_DEVICE __device__
#else
#define HOMOTOPT_HD
#define HOMOTOPT_DEVICE
#endif

#if defined(_MSC_VER)
#define HOMOTOPT_INLINE __forceinline
#define HOMOTOPT_NOINLINE __declspec(noinline)
#else
#define HOMOTOPT_INLINE inline __attribute__((always_inline))
#define HOMOTOPT_NOINLINE __attribute__((noinline))  // slow paths kept out of hot loops
#endif

#if defined(__GNUC__) && !defined(__CUDACC__)
#define HOMOTOPT_RESTRICT __restrict__
#else
#define HOMOTOPT_RESTRICT
#endif

#if defined(_MSC_VER) || defined(__CUDACC__)
#define HOMOTOPT_API
#else
#define HOMOTOPT_API __attribute__((visibility("default")))
#endif
