// Bindings of random.hpp and the raw Philox4x32-10 block (for known-answer tests).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>

#include "arrays.hpp"
#include "homotopt/philox.hpp"
#include "homotopt/random.hpp"

namespace homotopt::bindings {

void bind_random(py::module_& m) {
  m.def(
      "random_fill",
      [](const py::object& out, Distribution distribution, std::uint64_t seed, std::uint32_t stream,
         std::uint32_t trial, std::uint32_t step, std::uint64_t offset) {
        const ArrayView o = view_of(out, "out");
        py::gil_scoped_release release;
        random_fill(o, distribution, RandomKey{seed, stream, trial, step}, offset);
      },
      py::arg("out"), py::arg("distribution"), py::arg("seed"), py::arg("stream"), py::arg("trial"),
      py::arg("step"), py::arg("offset"));

  m.def(
      "random_indices",
      [](const py::array& out, std::uint64_t n, std::uint64_t seed, std::uint32_t stream, std::uint32_t trial,
         std::uint32_t step, std::uint64_t offset) {
        const ArrayView o = view_of(out, "out");
        py::gil_scoped_release release;
        random_indices(o, n, RandomKey{seed, stream, trial, step}, offset);
      },
      py::arg("out"), py::arg("n"), py::arg("seed"), py::arg("stream"), py::arg("trial"), py::arg("step"),
      py::arg("offset"));

  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
        const PhiloxBlock b = philox4x32_10(PhiloxBlock{{counter[0], counter[1], counter[2], counter[3]}},
                                            key[0], key[1]);
        return std::array<std::uint32_t, 4>{b.w[0], b.w[1], b.w[2], b.w[3]};
      },
      py::arg("counter"), py::arg("key"));
}

}  // namespace homotopt::bindings
