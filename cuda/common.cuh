// Internal: what the CUDA kernels share: a stream-ordered device buffer, the stream and device of a
// call, host copies, and a deterministic block reduction of the log-sum-exp scalars.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "homotopt/array.hpp"
#include "homotopt/lse.hpp"
#include "launch.cuh"

namespace homotopt::cuda {

inline cudaStream_t stream_of(const ArrayView& v) { return static_cast<cudaStream_t>(v.stream); }

// Device memory for the duration of a call, allocated and freed in stream order.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t n, cudaStream_t stream) : n_(n), stream_(stream) {
    if (n_ > 0) HOMOTOPT_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), n_ * sizeof(T), stream_));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), n_(o.n_), stream_(o.stream_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(n_, o.n_);
    std::swap(stream_, o.stream_);
    return *this;
  }
  T* get() const { return ptr_; }
  std::size_t size() const { return n_; }
  void zero() {
    if (n_ > 0) HOMOTOPT_CUDA_CHECK(cudaMemsetAsync(ptr_, 0, n_ * sizeof(T), stream_));
  }
  // Copies to the host and waits for the stream (the call's results are needed there).
  std::vector<T> to_host() const {
    std::vector<T> out(n_);
    if (n_ > 0) {
      HOMOTOPT_CUDA_CHECK(cudaMemcpyAsync(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost, stream_));
      HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    return out;
  }
  void from_host(const T* src, std::size_t n) {
    if (n > 0) HOMOTOPT_CUDA_CHECK(cudaMemcpyAsync(ptr_, src, n * sizeof(T), cudaMemcpyHostToDevice, stream_));
  }

 private:
  T* ptr_ = nullptr;
  std::size_t n_ = 0;
  cudaStream_t stream_ = nullptr;
};

// Shared memory for N LseStates: a __shared__ array may not have a type with default member
// initializers (LseState's empty state), so the bytes are declared plainly and viewed as LseStates.
template <int N>
struct LseShared {
  double raw[3 * N];
  __device__ LseState* get() { return reinterpret_cast<LseState*>(raw); }
};
static_assert(sizeof(LseState) == 3 * sizeof(double), "LseState is (m, s, top)");

// Merges the (m, s, top) of every thread of the block into thread 0's, as a tree over shared memory:
// the same order on every run (no float atomics), so results are bitwise reproducible.
template <int kThreads>
__device__ LseState block_merge(LseState mine, LseState* shared) {
  shared[threadIdx.x] = mine;
  __syncthreads();
#pragma unroll
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      LseState a = shared[threadIdx.x];
      a.merge(shared[threadIdx.x + half]);
      shared[threadIdx.x] = a;
    }
    __syncthreads();
  }
  return shared[0];
}

// Sum over the block, same tree (thread 0's result is returned to every thread).
template <int kThreads, class T>
__device__ T block_sum(T mine, T* shared) {
  shared[threadIdx.x] = mine;
  __syncthreads();
#pragma unroll
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const T total = shared[0];
  __syncthreads();
  return total;
}

}  // namespace homotopt::cuda
