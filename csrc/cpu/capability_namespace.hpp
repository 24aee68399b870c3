// Internal: HOMOTOPT_CPU_NS, the namespace of the code compiled once per CPU capability:
// homotopt::cpu::<capability>, with <capability> from the build (HOMOTOPT_CPU_CAPABILITY=avx2, ...).
// Every CPU kernel file and kernel header opens `namespace HOMOTOPT_CPU_NS { ... }`, so each
// capability's functions, inline ones included, have names of their own and the linker never merges
// an AVX2 copy with a baseline one (the standard library's inline functions are renamed at build time
// instead, cmake/isolate_objects.cmake). Including a kernel header from a file that is not compiled per
// capability is an error.
#pragma once

#if !defined(HOMOTOPT_CPU_CAPABILITY)
#error "a CPU kernel header is included by a file that is not compiled per CPU capability (cmake/cpu_capabilities.cmake)"
#endif

#define HOMOTOPT_CPU_NS homotopt::cpu::HOMOTOPT_CPU_CAPABILITY
#define HOMOTOPT_CPU_STRINGIFY_(x) #x
#define HOMOTOPT_CPU_STRINGIFY(x) HOMOTOPT_CPU_STRINGIFY_(x)
#define HOMOTOPT_CPU_CAPABILITY_NAME HOMOTOPT_CPU_STRINGIFY(HOMOTOPT_CPU_CAPABILITY)
