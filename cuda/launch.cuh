// Internal: the one way CUDA work is launched and checked. Every runtime call goes through
// HOMOTOPT_CUDA_CHECK and every kernel through launch(), which skips empty grids and turns a launch
// error into homotopt::CudaError (Python: RuntimeError), never an abort.
#pragma once

#include <cuda_runtime.h>

#include "homotopt/error.hpp"

#define HOMOTOPT_CUDA_CHECK(expr)                                                                  \
  do {                                                                                             \
    const cudaError_t homotopt_err_ = (expr);                                                      \
    if (homotopt_err_ != cudaSuccess) {                                                            \
      cudaGetLastError(); /* clear it, or the next launch's check would report it again */         \
      throw ::homotopt::CudaError(::homotopt::detail::concat(#expr, " failed: ",                   \
                                                             cudaGetErrorString(homotopt_err_),   \
                                                             " (", __FILE__, ":", __LINE__, ")")); \
    }                                                                                              \
  } while (0)

namespace homotopt::cuda {

template <class Kernel, class... Args>
void launch(Kernel kernel, dim3 grid, unsigned block, std::size_t shared_bytes, cudaStream_t stream, Args... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
  HOMOTOPT_CUDA_CHECK(cudaGetLastError());
}

template <class Kernel, class... Args>
void launch(Kernel kernel, unsigned grid, unsigned block, cudaStream_t stream, Args... args) {
  launch(kernel, dim3(grid), block, 0, stream, args...);
}

// Makes `index` the current device for the scope, restoring the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    HOMOTOPT_CUDA_CHECK(cudaGetDevice(&previous_));
    if (index != previous_) HOMOTOPT_CUDA_CHECK(cudaSetDevice(index));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

inline unsigned blocks_for(long long items, unsigned threads) {
  return static_cast<unsigned>((items + threads - 1) / threads);
}

}  // namespace homotopt::cuda
