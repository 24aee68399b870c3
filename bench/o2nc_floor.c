/* The practical memory floor of the O2NC update, for bench/o2nc.py: the plainest C loop over the
 * tensors, one pass, reading x, g, D and writing x, D (20 bytes per float32 parameter), OpenMP threads
 * taking static shares of each tensor. Compiled at bench time with the system compiler
 * (cc -O3 -march=native -fopenmp -shared -fPIC) and loaded with ctypes; no part of the library. */
#include <stdint.h>

void o2nc_floor(int64_t count, float* const* x, const float* const* g, float* const* D, const int64_t* n,
                float discount, float lr, float s, int threads) {
#pragma omp parallel num_threads(threads)
  for (int64_t t = 0; t < count; ++t) {
    float* restrict xt = x[t];
    const float* restrict gt = g[t];
    float* restrict Dt = D[t];
#pragma omp for simd schedule(static) nowait
    for (int64_t i = 0; i < n[t]; ++i) {
      const float d = discount * (Dt[i] - lr * gt[i]);
      Dt[i] = d;
      xt[i] += s * d;
    }
  }
}
