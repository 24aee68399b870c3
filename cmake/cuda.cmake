# Decide whether the CUDA backend is compiled. AUTO compiles it whenever a CUDA compiler is found, so the
# .cu sources build on every machine that has nvcc, GPU or not, and never rot.
string(TOUPPER "${HOMOTOPT_CUDA}" _homotopt_cuda)
set(HOMOTOPT_WITH_CUDA OFF)
if(_homotopt_cuda STREQUAL "ON" OR _homotopt_cuda STREQUAL "AUTO")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(HOMOTOPT_WITH_CUDA ON)
  elseif(_homotopt_cuda STREQUAL "ON")
    message(FATAL_ERROR "HOMOTOPT_CUDA=ON but no CUDA compiler was found (set CUDACXX or put nvcc on PATH)")
  endif()
elseif(NOT _homotopt_cuda STREQUAL "OFF")
  message(FATAL_ERROR "HOMOTOPT_CUDA must be AUTO, ON or OFF, got '${HOMOTOPT_CUDA}'")
endif()

if(HOMOTOPT_WITH_CUDA)
  # By default, the data-centre GPUs in use: A100 (sm_80), H100/H200 (sm_90) and B200 (sm_100), as
  # machine code, plus PTX of sm_100 that newer GPUs compile at load. Override with, e.g.,
  # -DCMAKE_CUDA_ARCHITECTURES=90 (one GPU generation: a third of the CUDA compile time) or "native".
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 100)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "homotopt: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "homotopt: CUDA backend OFF")
endif()
