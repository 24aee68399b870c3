// Binding of power_merge.hpp over raw data pointers (homotopt.torch passes tensors' data_ptr();
// counted = 0: no mask, the omit rule; norms, found = 0: none).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

#include "homotopt/power_merge.hpp"

namespace homotopt::bindings {

namespace py = pybind11;

void bind_power_merge(py::module_& m) {
  m.def(
      "power_merge_sample_pointers",
      [](std::uintptr_t f, std::uintptr_t counted, std::int64_t J, DType dtype, double power, std::uintptr_t state,
         std::int64_t groups, const std::vector<std::int32_t>& rows, std::uintptr_t coefficients,
         std::uintptr_t weights, DeviceType device_type, int device_index, std::uintptr_t stream, double sign) {
        const PowerMergeArgs args{reinterpret_cast<const void*>(f), reinterpret_cast<const std::uint8_t*>(counted), J,
                                  dtype, power, reinterpret_cast<double*>(state), groups,
                                  reinterpret_cast<double*>(coefficients), reinterpret_cast<void*>(weights), sign};
        const Device device{device_type, device_index};
        py::gil_scoped_release release;
        power_merge_sample(args, rows, device, reinterpret_cast<void*>(stream));
      },
      py::arg("f"), py::arg("counted"), py::arg("J"), py::arg("dtype"), py::arg("power"), py::arg("state"),
      py::arg("groups"), py::arg("rows"), py::arg("coefficients"), py::arg("weights"), py::arg("device_type"),
      py::arg("device_index"), py::arg("stream"), py::arg("sign") = 1.0);
  m.def(
      "power_merge_ranks_pointers",
      [](std::uintptr_t gathered, std::int64_t ranks, std::int64_t groups, std::int64_t rank, std::uintptr_t merged,
         std::uintptr_t factors, DeviceType device_type, int device_index, std::uintptr_t stream) {
        const PowerMergeRanksArgs args{reinterpret_cast<const double*>(gathered), ranks, groups, rank,
                                       reinterpret_cast<double*>(merged), reinterpret_cast<double*>(factors)};
        const Device device{device_type, device_index};
        py::gil_scoped_release release;
        power_merge_ranks(args, device, reinterpret_cast<void*>(stream));
      },
      py::arg("gathered"), py::arg("ranks"), py::arg("groups"), py::arg("rank"), py::arg("merged"),
      py::arg("factors"), py::arg("device_type"), py::arg("device_index"), py::arg("stream"));
  m.def(
      "power_step_pointers",
      [](std::uintptr_t state, std::int64_t groups, StepRule rule, const std::vector<double>& powers,
         const std::vector<double>& alphas, std::uintptr_t norms, std::uintptr_t found, std::uintptr_t coefficients,
         DeviceType device_type, int device_index, std::uintptr_t stream) {
        const PowerStepArgs args{reinterpret_cast<const double*>(state), groups, rule,
                                 reinterpret_cast<const double*>(norms), reinterpret_cast<const std::uint8_t*>(found),
                                 reinterpret_cast<double*>(coefficients)};
        const Device device{device_type, device_index};
        py::gil_scoped_release release;
        power_step(args, powers, alphas, device, reinterpret_cast<void*>(stream));
      },
      py::arg("state"), py::arg("groups"), py::arg("rule"), py::arg("powers"), py::arg("alphas"), py::arg("norms"),
      py::arg("found"), py::arg("coefficients"), py::arg("device_type"), py::arg("device_index"), py::arg("stream"));
}

}  // namespace homotopt::bindings
