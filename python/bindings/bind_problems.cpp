// Bindings of the built-in problems' fused kernels (problems/*.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "arrays.hpp"
#include "homotopt/problems/phase_retrieval.hpp"
#include "homotopt/problems/toy1d.hpp"
#include "homotopt/problems/two_layer_relu.hpp"

namespace homotopt::bindings {

void bind_problems(py::module_& m) {
  m.def(
      "phase_retrieval_power_gradient",
      [](const py::object& A, const py::object& y, const py::object& mu, const py::object& rows,
         std::int64_t num_samples, double sigma, double power, std::uint64_t seed, std::uint32_t trial,
         std::uint32_t step, py::object direction, py::object gradient) {
        const ArrayView a = view_of(A, "A"), yv = view_of(y, "y"), m = view_of(mu, "mu");
        const ArrayView r = optional_view_of(rows, "rows");
        const std::int64_t d = a.ndim == 2 ? std::max<std::int64_t>(a.shape[1], 1) : 1;
        if (direction.is_none()) {
          direction = new_array(output_dtype(a), {d});
          gradient = new_array(output_dtype(a), {d});
        }
        const ArrayView dv = view_of(direction, "direction"), gv = view_of(gradient, "gradient");
        SampleSpec spec;
        spec.num_samples = num_samples;
        spec.sigma = sigma;
        spec.power = power;
        spec.key = RandomKey{seed, static_cast<std::uint32_t>(RandomStream::samples), trial, step};
        PowerResultStats s;
        {
          py::gil_scoped_release release;
          s = phase_retrieval_power_gradient(a, yv, m, r, spec, dv, gv);
        }
        return py::make_tuple(direction, gradient, s.log_scale, s.log_mean_exp, s.count, s.omitted);
      },
      py::arg("A"), py::arg("y"), py::arg("mu"), py::arg("rows"), py::arg("num_samples"), py::arg("sigma"),
      py::arg("power"), py::arg("seed"), py::arg("trial"), py::arg("step"), py::arg("direction") = py::none(),
      py::arg("gradient") = py::none());

  m.def(
      "phase_retrieval_fitness",
      [](const py::object& A, const py::object& y, const py::object& mu) {
        const ArrayView a = view_of(A, "A"), yv = view_of(y, "y"), m = view_of(mu, "mu");
        const std::int64_t R = m.ndim == 2 ? m.shape[0] : 1;
        py::array out = new_array(DType::float64, {R});
        const ArrayView o = view_of(out, "out");
        {
          py::gil_scoped_release release;
          phase_retrieval_fitness(a, yv, m, o);
        }
        return out;
      },
      py::arg("A"), py::arg("y"), py::arg("mu"));

  m.def(
      "phase_retrieval_metric",
      [](const py::array& x_true, const py::array& mu) {
        const ArrayView x = view_of(x_true, "x_true"), m = view_of(mu, "mu");
        const std::int64_t R = m.ndim == 2 ? m.shape[0] : 1;
        py::array out = new_array(DType::float64, {R});
        phase_retrieval_metric(x, m, view_of(out, "out"));
        return out;
      },
      py::arg("x_true"), py::arg("mu"));

  m.def(
      "two_layer_relu_fitness",
      [](const py::array& W, const py::array& X, const py::array& y, std::int64_t k) {
        const ArrayView w = view_of(W, "mu");
        py::array out = new_array(DType::float64, {w.ndim == 2 ? w.shape[0] : 1});
        const ArrayView xv = view_of(X, "X"), yv = view_of(y, "y"), o = view_of(out, "out");
        {
          py::gil_scoped_release release;
          two_layer_relu_fitness(w, xv, yv, k, o);
        }
        return out;
      },
      py::arg("W"), py::arg("X"), py::arg("y"), py::arg("k"));

  m.def(
      "toy1d_fitness",
      [](const py::array& w, const py::object& eps) {
        const ArrayView wv = view_of(w, "mu");
        py::array out = new_array(DType::float64, {wv.numel()});
        toy1d_fitness(wv, optional_view_of(eps, "eps"), view_of(out, "out"));
        return out;
      },
      py::arg("w"), py::arg("eps"));
}

}  // namespace homotopt::bindings
