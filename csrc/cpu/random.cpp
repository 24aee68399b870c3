// CPU backend of random.hpp: fills arrays from the Philox streams, element i with number offset + i.
// Threads take disjoint slices; each number depends only on its address, so the bits do not depend on
// the thread count.
#include <cstdint>

#include "cpu/kernels.hpp"
#include "backend.hpp"
#include "cpu/parallel.hpp"
#include "cpu/random_span.hpp"
#include "dtype_dispatch.hpp"

namespace HOMOTOPT_CPU_NS {
namespace {

template <Distribution D, class T>
void fill(T* out, std::int64_t n, const RandomKey& key, std::uint64_t offset) {
  constexpr std::int64_t kGrain = 1024;
  const int nt = threads_for(n * 64, (n + kGrain - 1) / kGrain);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::int64_t i0, i1;
    split_range(n, team_size(), thread_id(), kGrain, i0, i1);
    T* HOMOTOPT_RESTRICT o = out;
    generate_span<D>(i0, i1, key, offset, [o](std::int64_t i, double x) { o[i] = static_cast<T>(x); });
  }
}

}  // namespace

void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset) {
  visit_float(out.dtype, [&](auto t) {
    using T = decltype(t);
    T* o = out.ptr<T>();
    const std::int64_t n = out.numel();
    switch (distribution) {
      case Distribution::normal: fill<Distribution::normal>(o, n, key, offset); break;
      case Distribution::uniform: fill<Distribution::uniform>(o, n, key, offset); break;
      case Distribution::exponential: fill<Distribution::exponential>(o, n, key, offset); break;
    }
  });
}

void random_perturb(const std::vector<PerturbTensor>& tensors, const RandomKey& key) {
  for (const PerturbTensor& t : tensors) {
    visit_float(t.dtype, [&](auto z) {
      using T = decltype(z);
      T* const w = static_cast<T*>(t.w);
      const T* const mu = static_cast<const T*>(t.mu);  // may equal w: each element read before it is written
      const double sigma = t.sigma;
      constexpr std::int64_t kGrain = 1024;
      const int nt = threads_for(t.n * 64, (t.n + kGrain - 1) / kGrain);
#pragma omp parallel num_threads(nt) if (nt > 1)
      {
        std::int64_t i0, i1;
        split_range(t.n, team_size(), thread_id(), kGrain, i0, i1);
        generate_span<Distribution::normal>(i0, i1, key, t.offset, [w, mu, sigma](std::int64_t i, double x) {
          w[i] = perturb_element(mu[i], x, sigma);
        });
      }
    });
  }
}

void random_indices(const ArrayView& out, std::uint64_t n, const RandomKey& key, std::uint64_t offset) {
  std::int64_t* o = out.ptr<std::int64_t>();
  generate_index_span(0, out.numel(), key, offset, n, [o](std::int64_t i, std::int64_t v) { o[i] = v; });
}

}  // namespace HOMOTOPT_CPU_NS
