// Binding of power_accumulate.hpp over raw data pointers (homotopt.torch passes tensors' data_ptr()).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

#include "homotopt/error.hpp"
#include "homotopt/power_accumulate.hpp"

namespace homotopt::bindings {

namespace py = pybind11;

void bind_power_accumulate(py::module_& m) {
  m.def(
      "power_accumulate_pointers",
      [](const std::vector<std::uintptr_t>& us, const std::vector<std::uintptr_t>& gs,
         const std::vector<std::int64_t>& numels, const std::vector<DType>& dtypes, const std::vector<int>& groups,
         DeviceType device_type, int device_index, std::uintptr_t coefficients, std::int64_t num_groups,
         std::uintptr_t flag, std::uintptr_t stream) {
        const std::size_t n = us.size();
        HOMOTOPT_CHECK(gs.size() == n && numels.size() == n && dtypes.size() == n && groups.size() == n,
                       "us, gs, numels, dtypes, groups: expected lists of one length, got ", n, ", ", gs.size(),
                       ", ", numels.size(), ", ", dtypes.size(), ", ", groups.size());
        std::vector<PowerAccumulateTensor> tensors(n);
        for (std::size_t i = 0; i < n; ++i)
          tensors[i] = {reinterpret_cast<void*>(us[i]), reinterpret_cast<const void*>(gs[i]), numels[i],
                        dtypes[i], groups[i]};
        const Device device{device_type, device_index};
        py::gil_scoped_release release;
        power_accumulate(tensors, device, reinterpret_cast<const double*>(coefficients), num_groups,
                         reinterpret_cast<double*>(flag), reinterpret_cast<void*>(stream));
      },
      py::arg("us"), py::arg("gs"), py::arg("numels"), py::arg("dtypes"), py::arg("groups"), py::arg("device_type"),
      py::arg("device_index"), py::arg("coefficients"), py::arg("num_groups"), py::arg("flag"), py::arg("stream"));
}

}  // namespace homotopt::bindings
