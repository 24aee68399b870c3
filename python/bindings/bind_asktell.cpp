// Bindings of asktell.hpp: homotopt._core.AskTellConfig and homotopt._core.AskTell (float64 arrays in
// and out; homotopt.ProgPowerHP converts dtypes, devices and shapes around it).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "homotopt/asktell.hpp"
#include "homotopt/error.hpp"

namespace homotopt::bindings {
namespace py = pybind11;
namespace {

using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;

void check_shape(const F64& a, const std::vector<py::ssize_t>& want, const char* name) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(want.size());
  for (std::size_t i = 0; ok && i < want.size(); ++i) ok = a.shape(static_cast<py::ssize_t>(i)) == want[i];
  if (ok) return;
  std::string w = "(", g = "(";
  for (std::size_t i = 0; i < want.size(); ++i) w += (i ? ", " : "") + std::to_string(want[i]);
  for (py::ssize_t i = 0; i < a.ndim(); ++i) g += (i ? ", " : "") + std::to_string(a.shape(i));
  HOMOTOPT_CHECK(false, name, ": expected shape ", w, "), got ", g, ")");
}

// values (R, K, J) of this object's R and K; returns J.
py::ssize_t check_values(const ProgPowerHP& o, const F64& values) {
  HOMOTOPT_CHECK(values.ndim() == 3, "values: expected shape (R, K, J), got ndim ", values.ndim());
  check_shape(values, {o.config().runs, o.config().num_samples, values.shape(2)}, "values");
  return values.shape(2);
}

template <class V>
py::array_t<V> vec(const std::vector<V>& v, std::vector<py::ssize_t> shape) {
  py::array_t<V> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

}  // namespace

void bind_asktell(py::module_& m) {
  py::enum_<AskTellStep>(m, "AskTellStep", py::module_local())
      .value("raw", AskTellStep::raw)
      .value("log", AskTellStep::log)
      .value("unit", AskTellStep::unit)
      .value("mean", AskTellStep::mean)
      .value("sigma", AskTellStep::sigma);
  py::enum_<Bounds>(m, "Bounds", py::module_local())
      .value("none", Bounds::none)
      .value("clip", Bounds::clip)
      .value("reflect", Bounds::reflect);
  py::class_<AskTellConfig>(m, "AskTellConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("dim", &AskTellConfig::dim)
      .def_readwrite("num_samples", &AskTellConfig::num_samples)
      .def_readwrite("runs", &AskTellConfig::runs)
      .def_readwrite("maximize", &AskTellConfig::maximize)
      .def_readwrite("scale_free", &AskTellConfig::scale_free)
      .def_readwrite("spread_decay", &AskTellConfig::spread_decay)
      .def_readwrite("seed", &AskTellConfig::seed)
      .def_readwrite("lower", &AskTellConfig::lower)
      .def_readwrite("upper", &AskTellConfig::upper)
      .def_readwrite("step_rule", &AskTellConfig::step_rule)
      .def_readwrite("bounds", &AskTellConfig::bounds)
      .def("set_power", [](AskTellConfig& c, double start, double inc, double max, std::int64_t every) {
        c.power = PowerSchedule{start, inc, max, every};
      })
      .def("set_sigma", [](AskTellConfig& c, double start, double decay, double floor) {
        c.sigma = SigmaSchedule{start, decay, floor};
      })
      .def("set_lr", [](AskTellConfig& c, double base, double gamma, double offset) {
        c.lr = LearningRate{base, gamma, offset};
      });

  py::class_<ProgPowerHP>(m, "AskTell", py::module_local())
      .def(py::init([](const AskTellConfig& c, const F64& mu0) {
             return ProgPowerHP(c, mu0.data(), static_cast<std::int64_t>(mu0.size()));
           }),
           py::arg("config"), py::arg("mu0"))
      .def("ask",
           [](const ProgPowerHP& o) {
             const AskTellConfig& c = o.config();
             py::array_t<double> out({c.runs, c.num_samples, c.dim});
             o.ask(out.mutable_data());
             return out;
           })
      .def(
          "tell",
          [](ProgPowerHP& o, const F64& values, const F64& grads, NanPolicy policy) {
            const AskTellConfig& c = o.config();
            const py::ssize_t J = check_values(o, values);
            check_shape(grads, {c.runs, c.num_samples, J, c.dim}, "grads");
            o.tell(values.data(), grads.data(), J, policy);
          },
          py::arg("values"), py::arg("grads"), py::arg("policy"))
      .def(
          "weights",
          [](ProgPowerHP& o, const F64& values, NanPolicy policy) {
            const py::ssize_t J = check_values(o, values);
            py::array_t<double> out({values.shape(0), values.shape(1), J});
            o.weights(values.data(), J, out.mutable_data(), policy);
            return out;
          },
          py::arg("values"), py::arg("policy"))
      .def(
          "tell_weighted",
          [](ProgPowerHP& o, const F64& grads) {
            const AskTellConfig& c = o.config();
            check_shape(grads, {c.runs, c.num_samples, c.dim}, "grads");
            o.tell_weighted(grads.data());
          },
          py::arg("grads"))
      .def(
          "weights_held",
          [](ProgPowerHP& o, const F64& values, NanPolicy policy) {
            const py::ssize_t J = check_values(o, values);
            py::array_t<double> out({values.shape(0), values.shape(1), J});
            py::array_t<std::int64_t> best(values.shape(0));
            o.weights_held(values.data(), J, out.mutable_data(), best.mutable_data(), policy);
            return py::make_tuple(out, best);
          },
          py::arg("values"), py::arg("policy"))
      .def(
          "step_held",
          [](ProgPowerHP& o, const F64& norms) {
            check_shape(norms, {o.config().runs}, "norms");
            py::array_t<double> factors(o.config().runs);
            o.step_held(norms.data(), factors.mutable_data());
            return factors;
          },
          py::arg("norms"))
      .def("report", &ProgPowerHP::report, py::arg("run"), py::arg("value"))
      .def_property_readonly("step", &ProgPowerHP::step)
      .def_property_readonly("evaluations", &ProgPowerHP::evaluations)
      .def_property_readonly("power", &ProgPowerHP::power)
      .def_property_readonly("sigma", &ProgPowerHP::sigma)
      .def_property_readonly("lr", &ProgPowerHP::lr)
      .def_property_readonly("mu", [](const ProgPowerHP& o) {
        return vec(o.mu(), {o.config().runs, o.config().dim});
      })
      .def_property_readonly("best_mu", [](const ProgPowerHP& o) {
        return vec(o.best_mu(), {o.config().runs, o.config().dim});
      })
      .def_property_readonly("best_value", [](const ProgPowerHP& o) {
        return vec(o.best_value(), {o.config().runs});
      })
      .def_property_readonly("last_direction", [](const ProgPowerHP& o) {
        return vec(o.last_direction(), {o.config().runs, o.config().dim});
      })
      .def("last",
           [](const ProgPowerHP& o) {
             py::dict d;
             std::vector<double> p, s, l, n;
             std::vector<std::int64_t> cnt, om;
             for (const AskTellRunStats& st : o.last()) {
               p.push_back(st.power), s.push_back(st.spread), l.push_back(st.log_scale), n.push_back(st.step_norm);
               cnt.push_back(st.count), om.push_back(st.omitted);
             }
             const py::ssize_t R = o.config().runs;
             d["power"] = vec(p, {R}), d["spread"] = vec(s, {R}), d["log_scale"] = vec(l, {R});
             d["step_norm"] = vec(n, {R}), d["count"] = vec(cnt, {R}), d["omitted"] = vec(om, {R});
             return d;
           })
      .def("state",
           [](const ProgPowerHP& o) {
             const AskTellState& s = o.state();
             const py::ssize_t R = o.config().runs, d = o.config().dim;
             py::dict out;
             out["step"] = s.step, out["evaluations"] = s.evaluations;
             out["mu"] = vec(s.mu, {R, d}), out["best_mu"] = vec(s.best_mu, {R, d});
             out["best_fitness"] = vec(s.best_value, {R}), out["spread"] = vec(s.spread, {R});
             out["best_step"] = vec(s.best_step, {R}), out["reported"] = vec(s.reported, {R});
             return out;
           })
      .def(
          "load_state",
          [](ProgPowerHP& o, const py::dict& d) {
            AskTellState s;
            s.step = d["step"].cast<std::int64_t>();
            s.evaluations = d["evaluations"].cast<std::int64_t>();
            s.mu = d["mu"].cast<std::vector<double>>();
            s.best_mu = d["best_mu"].cast<std::vector<double>>();
            s.best_value = d["best_fitness"].cast<std::vector<double>>();
            s.spread = d["spread"].cast<std::vector<double>>();
            s.best_step = d["best_step"].cast<std::vector<std::int64_t>>();
            s.reported = d["reported"].cast<std::vector<std::uint8_t>>();
            o.load_state(s);
          },
          py::arg("state"));

  m.def("sigma_to", [](double start, double end, std::int64_t steps) {
    const SigmaSchedule s = sigma_to(start, end, steps);
    return py::make_tuple(s.start, s.decay, s.floor);
  }, py::arg("start"), py::arg("end"), py::arg("steps"));
}

}  // namespace homotopt::bindings
