// What this build of homotopt holds, and the CPU thread count it uses.
#pragma once

#include <string>

#include "homotopt/macros.hpp"

namespace homotopt {

struct BuildInfo {
  std::string version;
  std::string compiler;            // e.g. "GNU 12.2.0"
  std::string cxx_flags;           // the CPU backend's extra flags (-march=native, ...)
  std::string build_type;          // CMake build type
  bool openmp = false;
  int openmp_version = 0;          // _OPENMP, e.g. 201511
  bool cuda = false;               // the CUDA backend was compiled in
  std::string cuda_version;        // nvcc version, empty without CUDA
  std::string cuda_architectures;  // e.g. "90"
};

HOMOTOPT_API BuildInfo build_info();

// CUDA devices this process can use: 0 without a CUDA build, a driver or a GPU.
HOMOTOPT_API int cuda_device_count();

// Threads used by the CPU backend (OpenMP); 1 without OpenMP. set_num_threads(n) with n >= 1.
HOMOTOPT_API int num_threads();
HOMOTOPT_API void set_num_threads(int n);

}  // namespace homotopt
