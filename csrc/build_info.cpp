// homotopt::build_info() and the CPU thread count. The strings come from CMake (cmake/build_info.cmake).
#include "homotopt/build_info.hpp"

#include "backend.hpp"
#include "cpu/kernels.hpp"
#include "cpu/parallel.hpp"
#include "homotopt/error.hpp"

namespace homotopt {

BuildInfo build_info() {
  BuildInfo info;
  info.version = HOMOTOPT_VERSION_STRING;
  info.compiler = HOMOTOPT_COMPILER;
  info.cxx_flags = HOMOTOPT_CXX_FLAGS;
  info.build_type = HOMOTOPT_BUILD_TYPE;
#if defined(HOMOTOPT_WITH_OPENMP)
  info.openmp = true;
  info.openmp_version = _OPENMP;
#endif
#if defined(HOMOTOPT_WITH_CUDA)
  info.cuda = true;
  info.cuda_version = HOMOTOPT_CUDA_VERSION;
  info.cuda_architectures = HOMOTOPT_CUDA_ARCHS;
#endif
  info.cpu_capabilities = cpu::compiled_capabilities();
  info.cpu_capability = cpu::capability();
  return info;
}

int cuda_device_count() {
#if defined(HOMOTOPT_WITH_CUDA)
  return cuda::device_count();
#else
  return 0;
#endif
}

int num_threads() { return cpu::max_threads(); }

void set_num_threads(int n) {
  HOMOTOPT_CHECK(n >= 1, "threads: expected n >= 1, got ", n);
  cpu::thread_setting().store(n, std::memory_order_relaxed);  // process-wide (cpu/parallel.hpp)
}

}  // namespace homotopt
