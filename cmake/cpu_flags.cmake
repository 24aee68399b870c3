# Compiler flags of the CPU backend: OpenMP and optional -march=native (FMA and AVX2 on x86-64).
set(HOMOTOPT_WITH_OPENMP OFF)
if(HOMOTOPT_OPENMP)
  find_package(OpenMP COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    set(HOMOTOPT_WITH_OPENMP ON)
    target_link_libraries(homotopt PUBLIC OpenMP::OpenMP_CXX)
    target_compile_definitions(homotopt PUBLIC HOMOTOPT_WITH_OPENMP=1)
  endif()
endif()

set(HOMOTOPT_CPU_FLAGS "")
if(HOMOTOPT_NATIVE AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  list(APPEND HOMOTOPT_CPU_FLAGS -march=native)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  # -fno-math-errno, -fno-trapping-math: sqrt vectorizes and selects like `w > 0 ? w * g : 0` become
  #   branch-free (homotopt never reads errno or floating-point exception flags; results are unchanged).
  # -ffp-contract=off: no product is silently fused into a following add, so a value computed twice
  #   (N f in two passes, say) rounds the same both times; fused multiply-adds are written explicitly
  #   (std::fma in the shared math, fmadd() in the SIMD kernels).
  # -fopenmp-simd: `#pragma omp simd` reductions vectorize even in builds without OpenMP threads.
  list(APPEND HOMOTOPT_CPU_FLAGS -fno-math-errno -fno-trapping-math -ffp-contract=off -fopenmp-simd -Wall -Wextra)
endif()
target_compile_options(homotopt PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${HOMOTOPT_CPU_FLAGS}>)
