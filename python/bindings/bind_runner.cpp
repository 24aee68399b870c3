// Bindings of runner.hpp (homotopt.Runner, its config as a dict whose keys are checked) and schedule.hpp
// (the schedules as checked classes with value_at and values).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>

#include "arrays.hpp"
#include "homotopt/runner.hpp"
#include "homotopt/schedule.hpp"

namespace homotopt::bindings {
namespace {

// A dict's keys must be among `known`: a misspelled key is an error, never silently ignored.
void check_keys(const py::dict& d, const char* name, std::initializer_list<const char*> known) {
  for (const auto& item : d) {
    const std::string key = py::str(item.first);
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      HOMOTOPT_CHECK(false, name, ": unknown key '", key, "' (expected some of: ", list, ")");
    }
  }
}

template <class V>
V get(const py::dict& d, const char* key, V fallback) {
  return d.contains(key) ? d[key].cast<V>() : fallback;
}

ArrayView optional_array(const py::dict& d, const char* key) {
  return d.contains(key) ? optional_view_of(d[key], key) : ArrayView{};
}

ProblemViews problem_views(const py::dict& p) {
  check_keys(p, "problem", {"kind", "batched", "A", "y", "x_true", "teacher", "val_x", "val_y", "test_x", "test_y",
                            "noise"});
  HOMOTOPT_CHECK(p.contains("kind"), "problem: expected a 'kind' (a homotopt._core.ProblemKind)");
  ProblemViews v;
  v.kind = p["kind"].cast<ProblemKind>();
  v.batched = get<bool>(p, "batched", false);
  v.A = optional_array(p, "A");
  v.y = optional_array(p, "y");
  v.x_true = optional_array(p, "x_true");
  v.teacher = optional_array(p, "teacher");
  v.val_x = optional_array(p, "val_x");
  v.val_y = optional_array(p, "val_y");
  v.test_x = optional_array(p, "test_x");
  v.test_y = optional_array(p, "test_y");
  v.noise = get<double>(p, "noise", 0.0);
  return v;
}

RunConfig run_config(const py::dict& c) {
  check_keys(c, "config", {"method", "steps", "num_samples", "batch_size", "eval_every", "power", "sigma", "lr",
                           "step_rule", "seed", "beta1", "beta2", "eps", "slgh_gamma", "slgh_sigma_min",
                           "track_metric", "first_trial"});
  RunConfig r;
  r.method = get<Method>(c, "method", Method::powerhp);
  r.steps = get<std::int64_t>(c, "steps", 0);
  r.num_samples = get<std::int64_t>(c, "num_samples", 8);
  r.batch_size = get<std::int64_t>(c, "batch_size", 16);
  r.eval_every = get<std::int64_t>(c, "eval_every", 100);
  r.power = get<PowerSchedule>(c, "power", PowerSchedule{});
  r.sigma = get<SigmaSchedule>(c, "sigma", SigmaSchedule{});
  r.lr = get<LearningRate>(c, "lr", LearningRate{});
  r.step_rule = get<StepRule>(c, "step_rule", StepRule::log);
  r.seed = get<std::uint64_t>(c, "seed", 0);
  r.adam_beta1 = get<double>(c, "beta1", 0.9);
  r.adam_beta2 = get<double>(c, "beta2", 0.999);
  r.adam_eps = get<double>(c, "eps", 1e-8);
  r.slgh_gamma = get<double>(c, "slgh_gamma", 0.95);
  r.slgh_sigma_min = get<double>(c, "slgh_sigma_min", 0.01);
  r.track_metric = get<bool>(c, "track_metric", true);
  r.first_trial = get<std::int64_t>(c, "first_trial", 0);
  return r;
}

// A schedule's values at t = 0 .. steps - 1.
template <class S>
py::array_t<double> values_of(const S& s, std::int64_t steps) {
  HOMOTOPT_CHECK(steps >= 0, "steps: expected >= 0, got ", steps);
  py::array_t<double> out(steps);
  double* o = out.mutable_data();
  for (std::int64_t t = 0; t < steps; ++t) o[t] = s.at(t);
  return out;
}

// A schedule struct as a Python class: checked on construction (check_schedule), value_at(t) in O(1)
// and values(steps) from the header math.
template <class S>
py::class_<S> bind_schedule(py::module_& m, const char* name) {
  return py::class_<S>(m, name, py::module_local())
      .def("value_at",
           [](const S& s, std::int64_t t) {
             HOMOTOPT_CHECK(t >= 0, "t: expected a step >= 0, got ", t);
             return s.at(t);
           },
           py::arg("t"))
      .def("values", &values_of<S>, py::arg("steps"));
}

template <class V>
py::array to_array(const std::vector<V>& v, std::int64_t rows, std::int64_t cols) {
  py::array_t<V> a(cols > 0 ? std::vector<py::ssize_t>{rows, cols} : std::vector<py::ssize_t>{rows});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return std::move(a);
}

}  // namespace

void bind_runner(py::module_& m) {
  py::class_<Runner>(m, "Runner", py::module_local())
      .def(py::init([](const py::dict& problem, const py::dict& config, const py::array& mu0) {
             return Runner(problem_views(problem), run_config(config), view_of(mu0, "mu0"));
           }),
           py::arg("problem"), py::arg("config"), py::arg("mu0"), py::keep_alive<1, 2>())
      .def(
          "advance",
          [](Runner& r, std::int64_t steps) {
            py::gil_scoped_release release;
            r.advance(steps);
          },
          py::arg("steps"))
      .def_property_readonly("step", &Runner::step)
      .def_property_readonly("trials", &Runner::trials)
      .def_property_readonly("dim", &Runner::dim)
      .def("state",
           [](const Runner& r) {
             const std::int64_t R = r.trials(), d = r.dim();
             py::array mu = new_array(r.dtype(), {R, d}), best_mu = new_array(r.dtype(), {R, d});
             py::array best_value = new_array(DType::float64, {R}), best_step = new_array(DType::int64, {R});
             r.state(view_of(mu, "mu"), view_of(best_mu, "best_mu"), view_of(best_value, "best_value"),
                     view_of(best_step, "best_step"));
             return py::make_tuple(mu, best_mu, best_value, best_step);
           })
      .def("history", [](const Runner& r) {
        const RunHistory& h = r.history();
        const std::int64_t E = static_cast<std::int64_t>(h.steps.size()), R = r.trials();
        py::dict out;
        out["step"] = to_array(h.steps, E, 0);
        out["power"] = to_array(h.power, E, 0);
        out["sigma"] = to_array(h.sigma, E, 0);
        out["value"] = to_array(h.value, E, R);
        out["metric"] = to_array(h.metric, E, R);
        return out;
      });

  m.def(
      "step_multiplier",
      [](StepRule rule, double alpha, double power, double log_scale, double norm) {
        return step_multiplier(rule, alpha, power, log_scale, norm);
      },
      py::arg("rule"), py::arg("alpha"), py::arg("power"), py::arg("log_scale"), py::arg("norm"));

  bind_schedule<PowerSchedule>(m, "PowerSchedule")
      .def(py::init([](double start, double increment, double max, std::int64_t every) {
             const PowerSchedule s{start, increment, max, every};
             check_schedule(s);
             return s;
           }),
           py::arg("start"), py::arg("increment"), py::arg("max"), py::arg("every"))
      .def("__repr__", [](const PowerSchedule& s) {
        return detail::concat("PowerSchedule(start=", s.start, ", increment=", s.increment, ", max=", s.max,
                              ", every=", s.every, ")");
      });
  bind_schedule<SigmaSchedule>(m, "SigmaSchedule")
      .def(py::init([](double start, double decay, double floor) {
             const SigmaSchedule s{start, decay, floor};
             check_schedule(s);
             return s;
           }),
           py::arg("start"), py::arg("decay"), py::arg("floor"))
      .def("__repr__", [](const SigmaSchedule& s) {
        return detail::concat("SigmaSchedule(start=", s.start, ", decay=", s.decay, ", floor=", s.floor, ")");
      });
  bind_schedule<LearningRate>(m, "LearningRate")
      .def(py::init([](double base, double gamma, double offset) {
             const LearningRate s{base, gamma, offset};
             check_schedule(s);
             return s;
           }),
           py::arg("base"), py::arg("gamma"), py::arg("offset"))
      .def("__repr__", [](const LearningRate& s) {
        return detail::concat("LearningRate(base=", s.base, ", gamma=", s.gamma, ", offset=", s.offset, ")");
      });
}

}  // namespace homotopt::bindings
