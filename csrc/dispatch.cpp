// THE dispatch point: the one place where a device picks a backend (backend.hpp). Front ends call
// dispatch::kernel(&Kernels::op, device, "op") after their checks; nothing else branches on a device.
// On the CPU, the table is cpu::kernels(): the one of the CPU capability chosen at first use.
#include <string_view>

#include "backend.hpp"

namespace homotopt::dispatch {

const Kernels& backend(const Device& device, [[maybe_unused]] const char* op) {
  if (device.type == DeviceType::cuda) {
#if defined(HOMOTOPT_WITH_CUDA)
    return cuda::kernels();
#else
    throw Error(detail::concat(op, ": homotopt was built without CUDA; pass CPU (NumPy) arrays or rebuild "
                                   "with a CUDA compiler (CMake option HOMOTOPT_CUDA=ON)"));
#endif
  }
  return cpu::kernels();
}

void unsupported(const Kernels& kernels, const char* op) {
  if (kernels.name == std::string_view("cuda"))
    throw Error(detail::concat(op, ": CUDA arrays are not supported by this operation yet; pass CPU arrays"));
  throw Error(detail::concat(op, ": not supported on the ", kernels.name, " backend"));
}

}  // namespace homotopt::dispatch
