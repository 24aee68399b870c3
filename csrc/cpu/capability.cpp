// Chooses the CPU kernels' capability once per process (compiled once, for the baseline): the one
// named by HOMOTOPT_CPU_CAPABILITY, or the best one compiled in that this CPU supports. CMake defines
// HOMOTOPT_CPU_HAVE_<CAPABILITY> for each compiled one (cmake/cpu_capabilities.cmake).
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu/kernels.hpp"
#include "homotopt/build_info.hpp"
#include "homotopt/error.hpp"

namespace homotopt::cpu {
#if defined(HOMOTOPT_CPU_HAVE_BASELINE)
namespace baseline { extern const Kernels kKernels; }
#endif
#if defined(HOMOTOPT_CPU_HAVE_AVX2)
namespace avx2 { extern const Kernels kKernels; }
#endif
#if defined(HOMOTOPT_CPU_HAVE_AVX512)
namespace avx512 { extern const Kernels kKernels; }
#endif
#if defined(HOMOTOPT_CPU_HAVE_NATIVE)
namespace native { extern const Kernels kKernels; }
#endif

namespace {

struct Capability {
  const char* name;
  const Kernels* table;
  bool (*supported)();
  const char* requires_;  // the CPU features it needs, for messages
};

bool always() { return true; }

#if defined(__x86_64__) || defined(__i386__)
// __builtin_cpu_supports reads cpuid and checks that the OS saves the vector registers (XGETBV).
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512() {
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
#endif

// Compiled capabilities, best first.
std::vector<Capability> compiled() {
  std::vector<Capability> caps;
#if defined(HOMOTOPT_CPU_HAVE_NATIVE)
  caps.push_back({"native", &native::kKernels, always, "the CPU it was built on (-march=native)"});
#endif
#if defined(HOMOTOPT_CPU_HAVE_AVX512)
  caps.push_back({"avx512", &avx512::kKernels, has_avx512, "AVX-512 F/DQ/BW/VL, AVX2 and FMA"});
#endif
#if defined(HOMOTOPT_CPU_HAVE_AVX2)
  caps.push_back({"avx2", &avx2::kKernels, has_avx2, "AVX2 and FMA"});
#endif
#if defined(HOMOTOPT_CPU_HAVE_BASELINE)
  caps.push_back({"baseline", &baseline::kKernels, always, "nothing"});
#endif
  return caps;
}

std::string names(const std::vector<Capability>& caps, bool only_supported) {
  std::string out;
  for (auto it = caps.rbegin(); it != caps.rend(); ++it) {  // baseline first
    const Capability& c = *it;
    if (only_supported && !c.supported()) continue;
    out += out.empty() ? "" : ", ";
    out += c.name;
  }
  return out;
}

Capability choose() {
  const std::vector<Capability> caps = compiled();
  const char* forced = std::getenv("HOMOTOPT_CPU_CAPABILITY");
  if (forced == nullptr || *forced == '\0') {
    for (const Capability& c : caps)
      if (c.supported()) return c;
    throw InternalError("no CPU capability is compiled in");
  }
  for (const Capability& c : caps) {
    if (std::string(forced) != c.name) continue;
    HOMOTOPT_CHECK(c.supported(), "HOMOTOPT_CPU_CAPABILITY: this CPU cannot run \"", forced, "\" (it needs ",
                   c.requires_, "); supported here: ", names(caps, true));
    return c;
  }
  throw Error(detail::concat("HOMOTOPT_CPU_CAPABILITY: expected one of the capabilities compiled into this build (",
                             names(caps, false), "), got \"", forced, "\""));
}

const Capability& active() {
  static const Capability chosen = choose();  // a throw leaves it unset: the next call throws again
  return chosen;
}

}  // namespace

const Kernels& kernels() { return *active().table; }

const char* capability() { return active().name; }

std::vector<std::string> compiled_capabilities() {
  std::vector<std::string> out;
  const std::vector<Capability> caps = compiled();
  for (auto it = caps.rbegin(); it != caps.rend(); ++it) out.push_back(it->name);
  return out;
}

}  // namespace homotopt::cpu
