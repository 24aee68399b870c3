// CUDA backend of power_accumulate.hpp: one launch per batch of up to 64 tensors, the tensor table in
// the kernel parameters (nothing uploaded, so the call can be captured in a CUDA graph). Block b takes
// one chunk of kChunk elements of one tensor (found by binary search on the slots' first blocks); the
// coefficients (a, b) of the tensor's group are read from device memory, so the host never waits.
#include <cstdint>
#include <vector>

#include "launch.cuh"
#include "slots.hpp"
#include "backend.hpp"

namespace homotopt::cuda {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kChunk = 16384;  // elements per block
constexpr int kSlots = 64;

struct Slot {
  void* u;
  const void* g;
  std::int64_t n;
  std::int32_t first_block;
  std::int32_t group;
  std::int32_t dtype;
};

struct Batch {
  Slot slot[kSlots];
  std::int32_t slots;
};

template <class T>
__device__ void chunk(const Slot& s, std::int64_t begin, std::int64_t end, double a, double b, double* flag) {
  T* u = static_cast<T*>(s.u);
  const T* g = static_cast<const T*>(s.g);
  T probe = T(0);
  if (g == nullptr) b = 0.0;                // no g: u <- a u
  if (a == 1.0 && b == 0.0) return;         // u <- u: nothing to write
  for (std::int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    if (b == 0.0) {
      u[i] = power_accumulate_element(u[i], T(0), a, 0.0);
    } else {
      const T gi = g[i];
      u[i] = power_accumulate_element(u[i], gi, a, b);
      probe += power_accumulate_probe(gi);
    }
  }
  if (!(probe == T(0))) *flag = 1.0;  // every writer stores the same value
}

__global__ void accumulate_kernel(Batch batch, const double* coefficients, double* flag) {
  const std::int32_t block = static_cast<std::int32_t>(blockIdx.x);
  const Slot& s = batch.slot[detail::slot_of(batch.slot, batch.slots, block)];
  const std::int64_t begin = static_cast<std::int64_t>(block - s.first_block) * kChunk;
  const std::int64_t end = begin + kChunk < s.n ? begin + kChunk : s.n;
  const double a = coefficients[2 * s.group], b = coefficients[2 * s.group + 1];
  if (s.dtype == static_cast<std::int32_t>(DType::float32)) chunk<float>(s, begin, end, a, b, flag);
  else chunk<double>(s, begin, end, a, b, flag);
}

}  // namespace

void power_accumulate(const std::vector<PowerAccumulateTensor>& tensors, int device, const double* coefficients,
                      double* flag, void* stream) {
  DeviceGuard guard(device);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  Batch batch{};
  std::int32_t blocks = 0;
  auto flush = [&] {
    launch(accumulate_kernel, static_cast<unsigned>(blocks), kThreads, st, batch, coefficients, flag);
    batch.slots = 0;
    blocks = 0;
  };
  for (const PowerAccumulateTensor& t : tensors) {
    std::int64_t done = 0;
    while (done < t.n) {  // a tensor too large for one launch's 2^31 blocks is cut into pieces
      const std::int64_t room = (std::int64_t{1} << 30) - blocks;
      const std::int64_t take = t.n - done < room * kChunk ? t.n - done : room * kChunk;
      const std::size_t item = t.dtype == DType::float32 ? 4 : 8;
      Slot& s = batch.slot[batch.slots++];
      s.u = static_cast<char*>(t.u) + done * item;
      s.g = t.g == nullptr ? nullptr : static_cast<const char*>(t.g) + done * item;
      s.n = take;
      s.first_block = blocks;
      s.group = t.group;
      s.dtype = static_cast<std::int32_t>(t.dtype);
      blocks += static_cast<std::int32_t>((take + kChunk - 1) / kChunk);
      done += take;
      if (batch.slots == kSlots || blocks >= (1 << 30)) flush();
    }
  }
  if (batch.slots > 0) flush();
}

}  // namespace homotopt::cuda
