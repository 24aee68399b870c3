# Runtime CPU dispatch (docs/design.md, "CPU capabilities"). The CPU kernels (HOMOTOPT_CPU_KERNEL_SOURCES,
# the functions of csrc/cpu/kernels.hpp) are compiled once per capability, each as an object library
# with its own flags and HOMOTOPT_CPU_CAPABILITY=<name>, which puts the code in the namespace
# homotopt::cpu::<name>; csrc/cpu/capability.cpp picks one table at first use (cpuid, or the environment
# variable HOMOTOPT_CPU_CAPABILITY). Everything else is compiled once, for the baseline.
#
#   baseline  x86-64 (SSE2) or the target's default: the portable C++ path, runs on any CPU
#   avx2      -mavx2 -mfma            (Haswell, Zen and later)
#   avx512    + -mavx512f/dq/bw/vl     (Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4 and later)
#   native    -march=native for the whole library (HOMOTOPT_NATIVE=ON, a local opt-in): no dispatch
#
# The objects of a capability other than the baseline are isolated (cmake/isolate_objects.cmake): their
# inline and template functions (ours, the standard library's) get names of their own, so the linker
# can never pick an AVX copy for code that runs on any CPU.
set(HOMOTOPT_CPU_KERNEL_SOURCES
  csrc/cpu/kernel_table.cpp csrc/cpu/o2nc.cpp csrc/cpu/phase_retrieval.cpp csrc/cpu/power_gradient.cpp
  csrc/cpu/power_accumulate.cpp csrc/cpu/power_merge.cpp csrc/cpu/problems.cpp csrc/cpu/random.cpp csrc/cpu/runner.cpp)
foreach(_src IN LISTS HOMOTOPT_CPU_KERNEL_SOURCES)
  list(REMOVE_ITEM HOMOTOPT_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${_src})
endforeach()

set(_homotopt_x86 OFF)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i[3-6]86)$")
  set(_homotopt_x86 ON)
endif()
set(_homotopt_default_caps baseline)
if(_homotopt_x86 AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_EXECUTABLE_FORMAT STREQUAL "ELF"
   AND CMAKE_OBJCOPY AND CMAKE_NM AND CMAKE_READELF)
  set(_homotopt_default_caps baseline avx2 avx512)
endif()
set(HOMOTOPT_CPU_CAPABILITIES "${_homotopt_default_caps}" CACHE STRING
    "CPU capabilities to compile the kernels for (baseline always; avx2 and avx512 on x86-64 ELF)")
if(HOMOTOPT_NATIVE)
  set(_homotopt_caps native)
else()
  set(_homotopt_caps ${HOMOTOPT_CPU_CAPABILITIES})
  list(REMOVE_DUPLICATES _homotopt_caps)
  list(REMOVE_ITEM _homotopt_caps baseline)
  list(PREPEND _homotopt_caps baseline)
endif()

set(HOMOTOPT_CPU_FLAGS_avx2 -mavx2 -mfma)
set(HOMOTOPT_CPU_FLAGS_avx512 -mavx2 -mfma -mavx512f -mavx512dq -mavx512bw -mavx512vl)

function(homotopt_add_cpu_capabilities target)
  foreach(cap IN LISTS _homotopt_caps)
    if(NOT cap MATCHES "^(baseline|avx2|avx512|native)$")
      message(FATAL_ERROR "HOMOTOPT_CPU_CAPABILITIES: unknown capability '${cap}' (expected baseline, avx2, avx512)")
    endif()
    if(cap MATCHES "^avx" AND NOT _homotopt_x86)
      message(FATAL_ERROR "HOMOTOPT_CPU_CAPABILITIES: '${cap}' needs an x86-64 target, got ${CMAKE_SYSTEM_PROCESSOR}")
    endif()
    set(obj homotopt_cpu_${cap})
    add_library(${obj} OBJECT ${HOMOTOPT_CPU_KERNEL_SOURCES})
    # The library's include directories, definitions and options (CPU flags, warnings, OpenMP), plus
    # the capability's own.
    target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
    target_compile_definitions(${obj} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>
                               HOMOTOPT_CPU_CAPABILITY=${cap})
    target_compile_options(${obj} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_OPTIONS> ${HOMOTOPT_CPU_FLAGS_${cap}})
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # GCC notes that 32-byte vector arguments are passed differently with and without AVX: true, and
      # harmless here (such functions are inline, or internal to one capability).
      target_compile_options(${obj} PRIVATE -Wno-psabi)
    endif()
    if(HOMOTOPT_WITH_OPENMP)
      target_link_libraries(${obj} PRIVATE OpenMP::OpenMP_CXX)
    endif()
    set_target_properties(${obj} PROPERTIES CXX_VISIBILITY_PRESET hidden)
    if(cap STREQUAL "baseline" OR cap STREQUAL "native")
      target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
    else()
      if(NOT (CMAKE_OBJCOPY AND CMAKE_NM AND CMAKE_READELF))
        message(FATAL_ERROR "HOMOTOPT_CPU_CAPABILITIES: '${cap}' needs objcopy, nm and readelf (binutils)")
      endif()
      set(dir ${CMAKE_CURRENT_BINARY_DIR}/cpu_${cap})
      set(outs "")
      foreach(src IN LISTS HOMOTOPT_CPU_KERNEL_SOURCES)
        get_filename_component(name ${src} NAME)
        list(APPEND outs ${dir}/${name}${CMAKE_CXX_OUTPUT_EXTENSION})
      endforeach()
      # A sanitizer adds a module constructor (registration of globals) to every object: allowed only
      # in sanitizer builds, which are test builds run on a machine that has every capability.
      set(allow_init OFF)
      if(CMAKE_CXX_FLAGS MATCHES "-fsanitize")
        set(allow_init ON)
      endif()
      add_custom_command(OUTPUT ${outs}
        COMMAND ${CMAKE_COMMAND} -DALLOW_INIT=${allow_init} -DNM=${CMAKE_NM} -DREADELF=${CMAKE_READELF} -DOBJCOPY=${CMAKE_OBJCOPY}
                -DPREFIX=homotopt_${cap}. -DOUTDIR=${dir} "-DINPUTS=$<JOIN:$<TARGET_OBJECTS:${obj}>,|>"
                -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/isolate_objects.cmake
        DEPENDS ${obj} $<TARGET_OBJECTS:${obj}> ${CMAKE_CURRENT_SOURCE_DIR}/cmake/isolate_objects.cmake
        COMMENT "homotopt: isolating the ${cap} kernels' inline functions" VERBATIM)
      set_source_files_properties(${outs} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
      target_sources(${target} PRIVATE ${outs})
    endif()
    string(TOUPPER ${cap} CAP)
    set_property(SOURCE csrc/cpu/capability.cpp APPEND PROPERTY COMPILE_DEFINITIONS HOMOTOPT_CPU_HAVE_${CAP}=1)
  endforeach()
  string(REPLACE ";" "," _list "${_homotopt_caps}")
  message(STATUS "homotopt: CPU capabilities ${_list}")
endfunction()
