// CUDA backend of random.hpp: the same Philox streams and transforms as the CPU (philox.hpp), one
// thread per Philox block (two numbers), so a stream's numbers are identical on both backends up to
// the rounding of the shared transform.
#include <cstdint>

#include "backend.hpp"
#include "launch.cuh"
#include "dtype_dispatch.hpp"
#include "homotopt/philox.hpp"

namespace homotopt::cuda {
namespace {

template <Distribution D>
constexpr unsigned kPerBlock = D == Distribution::normal ? 4u : 2u;

// Thread t takes Philox block first_block + t: numbers kPerBlock * b ... of the stream, elements
// kPerBlock * b - offset ... where those fall in [0, n).
template <Distribution D, class T>
__global__ void fill_kernel(T* out, std::int64_t n, RandomKey key, std::uint64_t offset,
                            std::uint64_t first_block, std::uint64_t blocks) {
  const std::uint64_t t = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
  if (t >= blocks) return;
  const std::uint64_t b = first_block + t;
  const PhiloxBlock blk = random_block(key, b);
  double x[4];
  if constexpr (D == Distribution::normal) {
    float n[4];
    normal_quad(blk, n);
    for (int j = 0; j < 4; ++j) x[j] = n[j];
  } else if constexpr (D == Distribution::uniform) {
    x[0] = uniform_from(blk.w[0], blk.w[1]);
    x[1] = uniform_from(blk.w[2], blk.w[3]);
  } else {
    x[0] = exponential_from(blk.w[0], blk.w[1]);
    x[1] = exponential_from(blk.w[2], blk.w[3]);
  }
  const std::int64_t e0 = static_cast<std::int64_t>(kPerBlock<D> * b) - static_cast<std::int64_t>(offset);
#pragma unroll
  for (unsigned q = 0; q < kPerBlock<D>; ++q) {
    const std::int64_t e = e0 + q;
    if (e >= 0 && e < n) out[e] = static_cast<T>(x[q]);
  }
}

template <Distribution D, class T>
void fill(T* out, std::int64_t n, const RandomKey& key, std::uint64_t offset, cudaStream_t stream) {
  const std::uint64_t first = offset / kPerBlock<D>;
  const std::uint64_t last = (offset + static_cast<std::uint64_t>(n) - 1) / kPerBlock<D>;
  const std::uint64_t blocks = last - first + 1;
  constexpr unsigned kThreads = 256;
  launch(fill_kernel<D, T>, blocks_for(static_cast<long long>(blocks), kThreads), kThreads, stream,
         out, n, key, offset, first, blocks);
}

}  // namespace

void random_fill(const ArrayView& out, Distribution distribution, const RandomKey& key,
                 std::uint64_t offset) {
  DeviceGuard guard(out.device.index);
  visit_float(out.dtype, [&](auto t) {
    using T = decltype(t);
    T* o = out.ptr<T>();
    const std::int64_t n = out.numel();
    const auto stream = static_cast<cudaStream_t>(out.stream);  // the producer's stream (ArrayView::stream)
    switch (distribution) {
      case Distribution::normal: fill<Distribution::normal>(o, n, key, offset, stream); break;
      case Distribution::uniform: fill<Distribution::uniform>(o, n, key, offset, stream); break;
      case Distribution::exponential: fill<Distribution::exponential>(o, n, key, offset, stream); break;
    }
  });
}

}  // namespace homotopt::cuda
