// CUDA backend of perturb.hpp: one launch per batch of up to 64 tensors, the tensor table in the kernel
// parameters (nothing uploaded). Thread t of a tensor takes one Philox block (four normals, philox.hpp's
// normal_quad, the code random_fill runs), so w holds the same numbers as on the CPU; block b of the launch
// takes kThreads Philox blocks of one tensor (found by binary search on the slots' first blocks).
#include <cstdint>
#include <vector>

#include "launch.cuh"
#include "slots.hpp"
#include "backend.hpp"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kSlots = 64;

struct Slot {
  void* w;
  const void* mu;
  std::int64_t n;
  std::uint64_t offset;
  double sigma;
  std::int64_t first_block;  // the launch's first CUDA block for this tensor
  std::int32_t dtype;
};

struct Batch {
  Slot slot[kSlots];
  std::int32_t slots;
};

template <class T>
__device__ void quad(const Slot& s, const RandomKey& key, std::uint64_t philox_block) {
  float n[4];
  normal_quad(random_block(key, philox_block), n);
  T* w = static_cast<T*>(s.w);
  const T* mu = static_cast<const T*>(s.mu);
  const std::int64_t e0 = static_cast<std::int64_t>(4 * philox_block) - static_cast<std::int64_t>(s.offset);
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const std::int64_t e = e0 + q;
    if (e >= 0 && e < s.n) w[e] = perturb_element(mu[e], static_cast<double>(n[q]), s.sigma);
  }
}

__global__ void perturb_kernel(Batch batch, RandomKey key) {
  const std::int64_t block = static_cast<std::int64_t>(blockIdx.x);
  const Slot& s = batch.slot[detail::slot_of(batch.slot, batch.slots, block)];
  const std::uint64_t first = s.offset / 4, last = (s.offset + static_cast<std::uint64_t>(s.n) - 1) / 4;
  const std::uint64_t b = first + static_cast<std::uint64_t>(block - s.first_block) * kThreads + threadIdx.x;
  if (b > last) return;
  if (s.dtype == static_cast<std::int32_t>(DType::float32)) quad<float>(s, key, b);
  else quad<double>(s, key, b);
}

}  // namespace

void random_perturb(const std::vector<PerturbTensor>& tensors, int device, const RandomKey& key, void* stream) {
  DeviceGuard guard(device);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  Batch batch{};
  std::int64_t blocks = 0;
  auto flush = [&] {
    launch(perturb_kernel, static_cast<unsigned>(blocks), kThreads, st, batch, key);
    batch.slots = 0;
    blocks = 0;
  };
  constexpr std::int64_t kMaxBlocks = std::int64_t{1} << 30;
  for (const PerturbTensor& t : tensors) {
    std::int64_t done = 0;
    while (done < t.n) {  // a tensor too large for one launch is cut at a multiple of 4 elements
      const std::int64_t room = (kMaxBlocks - blocks) * kThreads * 4 - 4;  // elements that surely fit
      std::int64_t take = t.n - done;
      if (take > room) take = room - room % 4;
      const std::size_t item = t.dtype == DType::float32 ? 4 : 8;
      Slot& s = batch.slot[batch.slots++];
      s.w = static_cast<char*>(t.w) + done * item;
      s.mu = static_cast<const char*>(t.mu) + done * item;
      s.n = take;
      s.offset = t.offset + static_cast<std::uint64_t>(done);
      s.sigma = t.sigma;
      s.first_block = blocks;
      s.dtype = static_cast<std::int32_t>(t.dtype);
      const std::uint64_t philox = (s.offset + static_cast<std::uint64_t>(take) - 1) / 4 - s.offset / 4 + 1;
      blocks += static_cast<std::int64_t>((philox + kThreads - 1) / kThreads);
      done += take;
      if (batch.slots == kSlots || blocks >= kMaxBlocks - 1) flush();
    }
  }
  if (batch.slots > 0) flush();
}

}  // namespace homotopt::cuda
