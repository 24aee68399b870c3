// The C++ enums as Python enums (homotopt._core.Method, ...): the bindings take these, never bare
// integer codes. Names are the C++ ones; `raise` is a Python keyword, so that value is `raise_`.
#include <pybind11/pybind11.h>

#include "homotopt/array.hpp"
#include "homotopt/o2nc.hpp"
#include "homotopt/power_gradient.hpp"
#include "homotopt/random.hpp"
#include "homotopt/runner.hpp"

namespace py = pybind11;

namespace homotopt::bindings {

void bind_enums(py::module_& m) {
  py::enum_<DType>(m, "DType", py::module_local())
      .value("float32", DType::float32)
      .value("float64", DType::float64)
      .value("int64", DType::int64)
      .value("int32", DType::int32)
      .value("float16", DType::float16)
      .value("bfloat16", DType::bfloat16);
  py::enum_<DeviceType>(m, "DeviceType", py::module_local())
      .value("cpu", DeviceType::cpu)
      .value("cuda", DeviceType::cuda);
  py::enum_<NanPolicy>(m, "NanPolicy", py::module_local())
      .value("raise_", NanPolicy::raise)
      .value("omit", NanPolicy::omit);
  py::enum_<Distribution>(m, "Distribution", py::module_local())
      .value("normal", Distribution::normal)
      .value("uniform", Distribution::uniform)
      .value("exponential", Distribution::exponential);
  py::enum_<O2ncScaling>(m, "O2ncScaling", py::module_local())
      .value("exponential", O2ncScaling::exponential)
      .value("uniform", O2ncScaling::uniform)
      .value("none", O2ncScaling::none);
  py::enum_<O2ncNanPolicy>(m, "O2ncNanPolicy", py::module_local())
      .value("skip", O2ncNanPolicy::skip)
      .value("raise_", O2ncNanPolicy::raise);
  py::enum_<Method>(m, "Method", py::module_local())
      .value("powerhp", Method::powerhp)
      .value("gd", Method::gd)
      .value("sgd", Method::sgd)
      .value("adam", Method::adam)
      .value("slgh", Method::slgh);
  py::enum_<StepRule>(m, "StepRule", py::module_local())
      .value("raw", StepRule::raw)
      .value("log", StepRule::log)
      .value("unit", StepRule::unit);
  py::enum_<ProblemKind>(m, "ProblemKind", py::module_local())
      .value("phase_retrieval", ProblemKind::phase_retrieval)
      .value("two_layer_relu", ProblemKind::two_layer_relu)
      .value("toy1d", ProblemKind::toy1d);
}

}  // namespace homotopt::bindings
