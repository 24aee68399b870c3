// CUDA devices visible to this process (0 when the driver or a device is missing: never an error).
#include <cuda_runtime.h>

#include "backend.hpp"

namespace homotopt::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a machine without a driver
    return 0;
  }
  return count;
}

}  // namespace homotopt::cuda
