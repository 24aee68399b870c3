// Bindings of power_gradient.hpp: power_gradient, power_weights and PowerState.
#include <limits>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "homotopt/power_gradient.hpp"

namespace homotopt::bindings {
namespace {

py::tuple result_tuple(const py::array& direction, const py::array& gradient, const PowerResultStats& s) {
  return py::make_tuple(direction, gradient, s.log_scale, s.log_mean_exp, s.count, s.omitted);
}

// (direction, gradient) outputs of length d = the last size of `grads`.
std::pair<py::array, py::array> direction_outputs(DType dtype, const ArrayView& grads) {
  const std::int64_t d = grads.ndim > 0 ? std::max<std::int64_t>(grads.shape[grads.ndim - 1], 1) : 1;
  return {new_array(dtype, {d}), new_array(dtype, {d})};
}

}  // namespace

void bind_power(py::module_& m) {
  m.def(
      "power_gradient",
      [](const py::object& values, const py::object& grads, double power, NanPolicy policy, py::object direction,
         py::object gradient) {
        const ArrayView v = view_of(values, "values");
        const ArrayView g = view_of(grads, "grads");
        if (direction.is_none()) std::tie(direction, gradient) = direction_outputs(output_dtype(v), g);
        const ArrayView dv = view_of(direction, "direction"), gv = view_of(gradient, "gradient");
        PowerResultStats stats;
        {
          py::gil_scoped_release release;
          stats = power_gradient(v, g, power, policy, dv, gv);
        }
        return py::make_tuple(direction, gradient, stats.log_scale, stats.log_mean_exp, stats.count, stats.omitted);
      },
      py::arg("values"), py::arg("grads"), py::arg("power"), py::arg("nan_policy"), py::arg("direction") = py::none(),
      py::arg("gradient") = py::none());

  m.def(
      "power_weights",
      [](const py::object& values, double power, NanPolicy policy, py::object weights) {
        const ArrayView v = view_of(values, "values");
        if (weights.is_none()) weights = new_array(output_dtype(v), std::vector<std::int64_t>(v.shape, v.shape + v.ndim));
        const ArrayView wv = view_of(weights, "weights");
        PowerWeightsStats stats;
        {
          py::gil_scoped_release release;
          stats = power_weights(v, power, policy, wv);
        }
        return py::make_tuple(weights, stats.log_sum_exp, stats.count, stats.omitted);
      },
      py::arg("values"), py::arg("power"), py::arg("nan_policy"), py::arg("weights") = py::none());

  py::class_<PowerState>(m, "PowerState", py::module_local())
      .def(py::init<std::int64_t>(), py::arg("dim"))
      .def(
          "update",
          [](PowerState& state, const py::object& values, const py::object& grads, double power, NanPolicy policy) {
            const ArrayView v = view_of(values, "values");
            const ArrayView g = view_of(grads, "grads");
            py::gil_scoped_release release;
            state.update(v, g, power, policy);
          },
          py::arg("values"), py::arg("grads"), py::arg("power"), py::arg("nan_policy"))
      .def(
          "merge",
          [](PowerState& state, const PowerState& other) {
            py::gil_scoped_release release;
            state.merge(other);
          },
          py::arg("other"))
      .def(
          "result",
          [](const PowerState& state, bool float32) {
            const DType dtype = float32 ? DType::float32 : DType::float64;
            py::array direction = new_array(dtype, {state.dim()});
            py::array gradient = new_array(dtype, {state.dim()});
            const PowerResultStats stats =
                state.result(view_of(direction, "direction"), view_of(gradient, "gradient"));
            return result_tuple(direction, gradient, stats);
          },
          py::arg("float32"))
      .def_property_readonly("dim", &PowerState::dim)
      .def_property_readonly("power", &PowerState::power)
      .def_property_readonly("m", &PowerState::max_exponent)
      .def_property_readonly("s", &PowerState::scaled_sum)
      .def_property_readonly("top", &PowerState::limit_top)
      .def_property_readonly("count", &PowerState::count)
      .def_property_readonly("omitted", &PowerState::omitted)
      .def_property_readonly("u", [](const PowerState& state) {
        const std::vector<double> u = state.weighted_sum();
        return py::array_t<double>(static_cast<py::ssize_t>(u.size()), u.data());
      })
      .def("snapshot", [](const PowerState& state) {  // (power, m, s, count, omitted, u, top), read together
        double power;
        PowerState::Parts p;
        std::vector<double> u;
        state.snapshot(power, p, u);
        return py::make_tuple(power, p.lse.m, p.lse.s, p.count, p.omitted,
                              py::array_t<double>(static_cast<py::ssize_t>(u.size()), u.data()), p.lse.top);
      })
      .def_static(
          "from_parts",
          [](double power, double m, double s, std::int64_t count, std::int64_t omitted,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& u, double top) {
            std::vector<double> uv(u.data(), u.data() + u.size());
            return PowerState::from_parts(power, m, s, count, omitted, std::move(uv), top);
          },
          py::arg("power"), py::arg("m"), py::arg("s"), py::arg("count"), py::arg("omitted"), py::arg("u"),
          py::arg("top") = -std::numeric_limits<double>::infinity());
}

}  // namespace homotopt::bindings
