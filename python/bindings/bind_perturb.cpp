// Binding of perturb.hpp over raw data pointers (homotopt.torch passes tensors' data_ptr()).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

#include "homotopt/error.hpp"
#include "homotopt/perturb.hpp"

namespace homotopt::bindings {

namespace py = pybind11;

void bind_perturb(py::module_& m) {
  m.def(
      "random_perturb_pointers",
      [](const std::vector<std::uintptr_t>& ws, const std::vector<std::uintptr_t>& mus,
         const std::vector<std::int64_t>& numels, const std::vector<DType>& dtypes, const std::vector<double>& sigmas,
         const std::vector<std::uint64_t>& offsets, DeviceType device_type, int device_index, std::uint64_t seed,
         std::uint32_t stream, std::uint32_t trial, std::uint32_t step, std::uintptr_t cuda_stream) {
        const std::size_t n = ws.size();
        HOMOTOPT_CHECK(mus.size() == n && numels.size() == n && dtypes.size() == n && sigmas.size() == n &&
                           offsets.size() == n,
                       "ws, mus, numels, dtypes, sigmas, offsets: expected lists of one length, got ", n, ", ",
                       mus.size(), ", ", numels.size(), ", ", dtypes.size(), ", ", sigmas.size(), ", ", offsets.size());
        std::vector<PerturbTensor> tensors(n);
        for (std::size_t i = 0; i < n; ++i)
          tensors[i] = {reinterpret_cast<void*>(ws[i]), reinterpret_cast<const void*>(mus[i]), numels[i], dtypes[i],
                        sigmas[i], offsets[i]};
        const Device device{device_type, device_index};
        py::gil_scoped_release release;
        random_perturb(tensors, device, RandomKey{seed, stream, trial, step}, reinterpret_cast<void*>(cuda_stream));
      },
      py::arg("ws"), py::arg("mus"), py::arg("numels"), py::arg("dtypes"), py::arg("sigmas"), py::arg("offsets"),
      py::arg("device_type"), py::arg("device_index"), py::arg("seed"), py::arg("stream"), py::arg("trial"),
      py::arg("step"), py::arg("cuda_stream"));
}

}  // namespace homotopt::bindings
