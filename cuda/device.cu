// CUDA devices visible to this process (0 when the driver or a device is missing: never an error).
#include <cuda_runtime.h>

#include "backend.hpp"
#include "launch.cuh"

namespace homotopt::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a machine without a driver
    return 0;
  }
  return count;
}

void copy_to_device(const ArrayView& dst, const void* src, std::size_t bytes) {
  DeviceGuard guard(dst.device.index);
  const cudaStream_t stream = static_cast<cudaStream_t>(dst.stream);
  HOMOTOPT_CUDA_CHECK(cudaMemcpyAsync(dst.data, src, bytes, cudaMemcpyHostToDevice, stream));
  HOMOTOPT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace homotopt::cuda
