// What this build of homotopt holds, and the CPU thread count it uses.
#pragma once

#include <string>
#include <vector>

#include "homotopt/macros.hpp"

namespace homotopt {

struct BuildInfo {
  std::string version;
  std::string compiler;            // e.g. "GNU 12.2.0"
  std::string cxx_flags;           // the CPU backend's common flags (each capability adds its own)
  std::string build_type;          // CMake build type
  bool openmp = false;
  int openmp_version = 0;          // _OPENMP, e.g. 201511
  bool cuda = false;               // the CUDA backend was compiled in
  std::string cuda_version;        // nvcc version, empty without CUDA
  std::string cuda_architectures;  // e.g. "80,90,100"
  // CPU kernels: the capabilities compiled in ("baseline", "avx2", "avx512"; "native" alone in a
  // HOMOTOPT_NATIVE build) and the one this process runs (HOMOTOPT_CPU_CAPABILITY, or the best one the
  // CPU supports). build_info() throws homotopt::Error if HOMOTOPT_CPU_CAPABILITY names one that is not
  // compiled in or that this CPU cannot run.
  std::vector<std::string> cpu_capabilities;
  std::string cpu_capability;
};

HOMOTOPT_API BuildInfo build_info();

// CUDA devices this process can use: 0 without a CUDA build, a driver or a GPU.
HOMOTOPT_API int cuda_device_count();

// Threads used by the CPU backend (OpenMP); 1 without OpenMP. set_num_threads(n) with n >= 1 sets the
// count for the whole process (every thread, including ones started later); it does not call
// omp_set_num_threads, so other libraries on the same OpenMP runtime (torch.set_num_threads) keep
// their own setting, and theirs does not change homotopt's once homotopt's is set. Until then,
// num_threads() is OpenMP's default for the calling thread (OMP_NUM_THREADS or the cores, or what
// omp_set_num_threads / torch.set_num_threads set on that thread).
HOMOTOPT_API int num_threads();
HOMOTOPT_API void set_num_threads(int n);

}  // namespace homotopt
